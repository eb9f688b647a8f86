//! The error type of this crate.
//!
//! # Design
//! Every variant names what was being read (tensor or metadata key) and what was expected,
//! so a binary can print it as-is and the user knows which file part is wrong.

use alloc::string::String;
use alloc::vec::Vec;

/// Result alias for this crate.
pub type Result<T> = core::result::Result<T, Error>;

/// Why a checkpoint or spec could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a safetensors file (truncated, bad header, hostile offsets).
    #[error("not a safetensors file: {0}")]
    NotSafetensors(String),
    /// A required metadata key is absent.
    #[error("checkpoint metadata has no `{0}` entry (is this a plastic checkpoint?)")]
    MissingMetadata(&'static str),
    /// The `format` metadata names another format or version.
    #[error("checkpoint format is `{found}`, this build reads `plastic/1`")]
    WrongFormat {
        /// The format string found in the file.
        found: String,
    },
    /// The JSON of a metadata entry does not parse.
    #[error("metadata `{key}` is not valid JSON for this build: {reason}")]
    BadMetadata {
        /// The metadata key.
        key: &'static str,
        /// What the JSON parser said.
        reason: String,
    },
    /// The spec parses but describes an impossible model.
    #[error("invalid model spec: {0}")]
    InvalidSpec(String),
    /// A tensor the spec requires is absent.
    #[error("checkpoint lacks tensor `{0}`")]
    MissingTensor(String),
    /// A tensor has the wrong element type.
    #[error("tensor `{name}` has dtype {found}, expected {expected}")]
    WrongDtype {
        /// Tensor name.
        name: String,
        /// Expected dtype.
        expected: &'static str,
        /// Found dtype.
        found: String,
    },
    /// A tensor has the wrong shape.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    WrongShape {
        /// Tensor name.
        name: String,
        /// Expected shape.
        expected: Vec<usize>,
        /// Found shape.
        found: Vec<usize>,
    },
    /// A tensor holds NaN or infinite values.
    #[error("tensor `{name}` holds {count} NaN or infinite values")]
    NonFinite {
        /// Tensor name.
        name: String,
        /// How many values are not finite.
        count: usize,
    },
    /// A tensor holds finite values outside the range every reader accepts.
    #[error("tensor `{name}` holds {count} values outside {range}")]
    OutOfRange {
        /// Tensor name.
        name: String,
        /// How many values are out of range.
        count: usize,
        /// The range accepted, as text.
        range: String,
    },
    /// The tensor data does not match the `checksum` the file records: bytes changed after
    /// the file was written (a flipped bit on a card, a damaged copy).
    #[error(
        "the tensor data does not match its checksum: the file is damaged (it records {stored}, its tensors give {computed})"
    )]
    Damaged {
        /// The checksum the file records.
        stored: String,
        /// The checksum of the tensor data as read.
        computed: String,
    },
    /// The metadata (spec, provenance, metrics) do not match the file's `metadata_checksum`.
    #[error(
        "the metadata (spec, provenance, metrics) do not match their checksum: the file is damaged (it records {stored}, its metadata give {computed})"
    )]
    MetadataDamaged {
        /// The checksum the file records.
        stored: String,
        /// The checksum of the metadata as read.
        computed: String,
    },
    /// Writing the safetensors bytes failed.
    #[error("could not serialise checkpoint: {0}")]
    Serialize(String),
}
