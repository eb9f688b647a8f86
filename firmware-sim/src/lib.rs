//! plastic-sim: the edge device, simulated on a workstation.
//!
//! The device loop ([`device::run`]) takes frames from a [`camera::Camera`] (a folder of images
//! or a simulated camera looking at handwritten digits), turns each into the model's input and
//! runs it ([`pipeline::Pipeline`], on `plastic-runtime`), and draws what a 320x240 panel would
//! show ([`display`], embedded-graphics on an in-memory RGB565 framebuffer, saved as PNG and GIF).
//! [`cli`] is the command line the `plastic-sim` binary runs.
//!
//! Why a simulator: everything from the camera bytes to the screen pixels is the code a board
//! would run, so accuracy and per-stage latency measured here are the device's, minus the
//! hardware; only the camera and the panel are stand-ins.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod camera;
pub mod cli;
pub mod device;
pub mod display;
mod error;
pub mod loader;
pub mod pipeline;
pub mod rng;

pub use camera::{Camera, CameraError, CameraSpec, Frame, parse_camera};
pub use device::{DisplayOptions, RunOptions, Summary};
pub use error::Error;
pub use pipeline::Pipeline;
