//! The plastic runtime: what ships to the device.
//!
//! [`Model`] runs a `plastic/1` checkpoint, f32 or int8, with a preallocated [`Workspace`] so that
//! inference allocates nothing per frame. [`learn`] holds the local learning rules as plain
//! functions on slices (no backprop anywhere on the device), [`preprocess`] turns camera frames
//! into the model's input, [`quant`] makes int8 weights, [`kernels`] holds the matrix-vector
//! products, `conv` what convolution layers add to them.
//!
//! `#![no_std]` + `alloc`: the same code runs on a Jetson-class board and on a microcontroller.
//! Feature `std` adds what hosts have: run-time CPU detection for the kernels and crash-safe
//! file writes ([`persist`]), bounded reads of files named by a user ([`input_file`]).
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod adaptive;
pub mod adaptive_readout;
pub mod align;
pub mod balance;
pub mod banding;
pub mod channel_stats;
mod conv;
pub mod conv_learning;
pub mod digit_align;
pub mod digit_shape;
pub mod digit_view;
pub mod digit_warp;
pub mod drift;
mod error;
pub mod exposure;
pub mod guard;
pub mod impulse;
pub mod ink_parts;
pub mod ink_region;
#[cfg(feature = "std")]
pub mod input_file;
#[allow(unsafe_code)] // SIMD intrinsics only; each block has a SAFETY note
pub mod kernels;
pub mod learn;
mod model;
pub mod orientation;
pub mod paper_surface;
#[cfg(feature = "std")]
pub mod persist;
pub mod plastic;
pub mod policy;
pub mod preprocess;
pub mod quant;
pub mod replay;
pub mod rng;
#[cfg(test)]
mod test_models;
pub mod usage;

pub use adaptive::AdaptiveModel;
pub use adaptive_readout::AdaptiveReadout;
pub use error::{Error, Result};
pub use model::{Model, Precision, Prediction, Workspace, apply_activation, class_confidences};
pub use plastic_models as models;
