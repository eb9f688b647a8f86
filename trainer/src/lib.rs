//! Training plastic models on the workstation, with candle (CPU, or CUDA with feature `cuda`).
//!
//! [`data`] reads MNIST, Fashion-MNIST and CIFAR-10; [`krotov`] trains the Krotov-Hopfield
//! layer; [`readout`] trains the supervised heads on its cached activations; [`experiment`]
//! runs a [`preset::Preset`] end to end into a `plastic/1` checkpoint.
#![deny(missing_docs)]

pub mod cnn;
pub mod data;
pub mod device;
mod error;
pub mod experiment;
pub mod features;
pub mod hebbian;
pub mod hebbnet;
pub mod krotov;
#[cfg(feature = "cuda")]
pub mod krotov_cuda;
pub mod kth_value;
pub mod labelled;
pub mod mlp;
pub mod model_kind;
pub mod preset;
mod preset_check;
pub mod progress;
pub mod readout;
pub mod rng;
pub mod softhebb;
pub mod softhebb_net;
pub mod standardise;

pub use error::{Error, Result};
pub use model_kind::ModelKind;
