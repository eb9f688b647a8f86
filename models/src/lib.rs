//! The shared vocabulary of plastic: what a model is ([`ModelSpec`]), how it is stored
//! ([`Checkpoint`], the `plastic/1` safetensors layout) and which hyper-parameters each
//! experiment starts from (`presets/*.toml`).
//!
//! The trainer writes checkpoints, the runtime and the tools read them; all of them go through
//! this crate, so tensor names and metadata keys are spelled in exactly one place ([`keys`]).
//! Checkpoints outlive code: this crate changes slowly and validates everything it reads.
//!
//! `no_std` + `alloc`, so the same parser runs on a microcontroller.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod checkpoint;
pub mod checksum;
mod error;
pub mod keys;
pub mod limits;
pub mod presets;
mod spec;

pub use checkpoint::{Checkpoint, Integrity, LayerTensors, Weights};
pub use error::{Error, Result};
pub use limits::MAX_KROTOV_K;
pub use spec::{
    Activation, Conv2d, InputSpec, LayerKind, LayerSpec, ModelSpec, PaddingMode, PoolKind,
    Preprocess,
};

/// The default demo model: a Krotov-Hopfield layer with the paper's power/tanh readout,
/// trained by `plastic-train` on MNIST and quantized to int8 (see `models/default/README.md`).
pub const DEFAULT_CHECKPOINT: &[u8] = include_bytes!("../default/mnist-krotov.int8.safetensors");

/// The simulated device's built-in model: SoftHebb's three Hebbian convolutional blocks (16, 64
/// and 256 channels) under a linear readout, quantized to int8 and calibrated with its channels'
/// training statistics (see `models/default/README.md`). The device runs it when no model is
/// named because it adapts best of the shipped models: on the bank of shifts and on streams
/// nothing was tuned on it wins back more of a shift's drop than the Krotov demo, with labels
/// and without, and loses less in its worst window (docs/RESULTS.md).
pub const DEVICE_CHECKPOINT: &[u8] =
    include_bytes!("../default/mnist-softhebb-device.int8.safetensors");
