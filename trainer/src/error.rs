//! The error type of the trainer library.

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// What can stop training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dataset file is missing or malformed.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// A tensor operation failed (shape bug, device out of memory, CUDA missing).
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// The checkpoint could not be built or read.
    #[error(transparent)]
    Checkpoint(#[from] plastic_models::Error),
    /// The runtime refused an input.
    #[error(transparent)]
    Runtime(#[from] plastic_runtime::Error),
    /// A preset file is missing or malformed.
    #[error("preset `{name}`: {reason}")]
    Preset {
        /// Preset name or path.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Training diverged.
    #[error("training diverged: {0}")]
    Diverged(String),
}
