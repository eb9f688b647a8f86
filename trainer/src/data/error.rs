//! Errors of the dataset loaders: each names the file and says how to fix it.

use std::path::PathBuf;

/// Why a dataset could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Neither the gzipped nor the raw file exists.
    #[error(
        "missing dataset file {} (tried {tried}); point --data-dir at the folder holding it, or set PLASTIC_DATA",
        path.display()
    )]
    Missing {
        /// The path without `.gz`.
        path: PathBuf,
        /// The names that were tried.
        tried: String,
    },
    /// Reading failed.
    #[error("could not read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The gzip stream is corrupt.
    #[error("{} is not valid gzip ({reason}); download it again", path.display())]
    BadGzip {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The IDX magic number is not the expected one.
    #[error(
        "{} has magic {found:#010x}, expected {expected:#010x}: not an IDX {} file",
        path.display(),
        if *expected == 0x0803 { "image" } else { "label" }
    )]
    WrongMagic {
        /// The file.
        path: PathBuf,
        /// The magic found.
        found: u32,
        /// The magic expected.
        expected: u32,
    },
    /// The file is shorter than its header says.
    #[error(
        "{} is truncated: its header needs {expected_bytes} bytes, it has {found_bytes}; download it again",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies.
        expected_bytes: u64,
        /// Bytes present.
        found_bytes: u64,
    },
    /// Images and labels files disagree on the count.
    #[error("{images} images but {labels} labels: the files are from different sets")]
    CountMismatch {
        /// Image count.
        images: usize,
        /// Label count.
        labels: usize,
    },
    /// Sizes are not what the dataset has.
    #[error("{}: {what}", path.display())]
    WrongSize {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A label is not a class index.
    #[error("{}: label {label} at index {index} is not in 0..10", path.display())]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Sample index.
        index: usize,
        /// The label byte.
        label: u8,
    },
    /// An unknown dataset name.
    #[error("unknown dataset `{0}`: use mnist, fashion-mnist or cifar10")]
    UnknownDataset(String),
}
