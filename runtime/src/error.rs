//! The error type of the runtime.

/// Result alias for this crate.
pub type Result<T> = core::result::Result<T, Error>;

/// What can go wrong when loading or running a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The checkpoint could not be read.
    #[error(transparent)]
    Checkpoint(#[from] plastic_models::Error),
    /// An input vector or frame has the wrong length.
    #[error("{what}: expected {expected} values, got {found}")]
    WrongLength {
        /// What was being passed.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Found length.
        found: usize,
    },
    /// A workspace made for another model was passed.
    #[error("workspace was made for another model (needs {needed} floats, has {found})")]
    WrongWorkspace {
        /// Buffer length the model needs.
        needed: usize,
        /// Buffer length the workspace has.
        found: usize,
    },
    /// A Krotov rank `k` the layer or the ranking cannot hold.
    #[error(
        "Krotov rank k = {k} is outside 2..={most} (at most the hidden units and \
         plastic_models::MAX_KROTOV_K)"
    )]
    KrotovRank {
        /// The rank asked for.
        k: usize,
        /// The largest rank allowed here.
        most: usize,
    },
    /// A learning rule was asked of a layer, or with a setting, it cannot take.
    #[error("{0}")]
    NotLearnable(&'static str),
    /// The input holds NaN or infinite values.
    #[error("input holds NaN or infinite values")]
    NonFiniteInput,
}
