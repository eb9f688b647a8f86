//! plastic-sim: the edge device, simulated on a workstation.
//!
//! The device loop ([`device::run`]) takes frames from a [`camera::Camera`] (a folder of images,
//! raw frames on standard input, or a simulated camera looking at handwritten digits, which a
//! scenario may change part-way), turns each into the model's input and runs it
//! ([`pipeline::Pipeline`], on `plastic-runtime`), learns from it when asked ([`adapt`]: the
//! Krotov layer from every frame, the readout from occasional labels), saves what it learned
//! crash-safely ([`persist`]), and draws what a 320x240 panel would show ([`display`],
//! embedded-graphics on an in-memory RGB565 framebuffer, saved as PNG and GIF). [`cli`] is the
//! command line the `plastic-sim` binary runs.
//!
//! Why a simulator: everything from the camera bytes to the screen pixels is the code a board
//! would run, so accuracy, per-stage latency and memory measured here are the device's, minus
//! the hardware; only the camera and the panel are stand-ins.
#![recursion_limit = "256"] // the `--json` summary is one `serde_json::json!` literal
#![deny(missing_docs)]
// Unsafe code only in the V4L2 camera (ioctls and mapped driver buffers).
#![deny(unsafe_code)]

pub mod adapt;
pub mod baseline;
pub mod camera;
pub mod cli;
pub mod device;
pub mod display;
pub mod drift;
mod error;
pub mod frames_log;
pub mod input_record;
pub mod loader;
pub mod persist;
pub mod pipeline;
pub mod rng;
pub mod state_lock;
pub mod windows;

pub use adapt::AdaptMode;
pub use camera::{Camera, CameraError, CameraSpec, Frame, parse_camera};
pub use device::{DisplayOptions, RunOptions, Summary};
pub use error::Error;
pub use pipeline::{Engine, Pipeline, UnsupervisedStep};
