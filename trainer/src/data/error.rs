//! Errors of the dataset loaders: each names the file and says how to fix it.

use std::path::{Path, PathBuf};

/// Why a dataset could not be loaded; every message names the file and says how to fix it,
/// because the person reading it is usually pointing the trainer at the wrong folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Neither `<path>.gz` nor `<path>` exists.
    #[error(
        "missing dataset file {}: tried {}.gz and {}; {}",
        file_name(path),
        path.display(),
        path.display(),
        fix(path)
    )]
    Missing {
        /// The path without `.gz`: both it and `<path>.gz` were tried.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error(
        "could not read {}: {source}; check that it is a readable file, or point --data-dir at a readable copy",
        path.display()
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file starts like gzip (`1f 8b`) but does not decompress.
    #[error(
        "{} is not valid gzip ({reason}): it is damaged or cut short; {}",
        path.display(),
        download_again(path)
    )]
    BadGzip {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The IDX magic number is not the expected one: a wrong or damaged file.
    #[error(
        "{} starts with magic {found:#010x}, expected {expected:#010x} (an IDX {} file): it is not the right file or it is damaged; {}",
        path.display(),
        if *expected == 0x0803 { "images" } else { "labels" },
        download_again(path)
    )]
    WrongMagic {
        /// The file.
        path: PathBuf,
        /// The magic found.
        found: u32,
        /// The magic expected.
        expected: u32,
    },
    /// The file is shorter than its header says (a partial download, or a hostile header).
    #[error(
        "{} is truncated: its header needs {expected_bytes} bytes, it has {found_bytes}; {}",
        path.display(),
        download_again(path)
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies (saturated at `u64::MAX` for absurd headers).
        expected_bytes: u64,
        /// Bytes present (after decompression).
        found_bytes: u64,
    },
    /// The images and labels files disagree on the number of samples.
    #[error(
        "the images file holds {images} images but the labels file {labels} labels: they come from different sets; download both again from the same source"
    )]
    CountMismatch {
        /// Image count.
        images: usize,
        /// Label count.
        labels: usize,
    },
    /// Sizes are not the ones this dataset has (image size, file length).
    #[error("{}: {what}", path.display())]
    WrongSize {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        what: String,
    },
    /// A label byte is not a class index `0..10`.
    #[error(
        "{}: label {label} at index {index} is not a class in 0..10: the file is damaged or not from this dataset; {}",
        path.display(),
        download_again(path)
    )]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Sample index in that file.
        index: usize,
        /// The label byte.
        label: u8,
    },
    /// A dataset name that is not one of ours.
    #[error("unknown dataset `{0}`: use mnist, fashion-mnist or cifar10")]
    UnknownDataset(String),
    /// No folder was given and none of the default places exists.
    #[error("no data folder: pass --data-dir DIR (the folder holding `{0}/`) or set PLASTIC_DATA")]
    NoDataDir(&'static str),
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Which dataset a file belongs to, guessed from its name and folder, for the hints.
fn origin(path: &Path) -> (&'static str, &'static str, &'static str) {
    let name = file_name(path);
    let folder = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.starts_with("data_batch") || name.starts_with("test_batch") {
        (
            "CIFAR-10",
            "the binary version, `plastic fetch --dataset cifar10 --data-dir DIR` downloads and unpacks it",
            "cifar10",
        )
    } else if folder.contains("fashion") {
        (
            "Fashion-MNIST",
            "`plastic fetch --dataset fashion-mnist --data-dir DIR`, or `apt-get install dataset-fashion-mnist`",
            "fashion-mnist",
        )
    } else {
        (
            "MNIST",
            "`plastic fetch --dataset mnist --data-dir DIR`",
            "mnist",
        )
    }
}

fn download_again(path: &Path) -> String {
    let (name, url, _) = origin(path);
    format!("download {name} again ({url})")
}

fn fix(path: &Path) -> String {
    let (name, url, sub) = origin(path);
    format!(
        "download {name} ({url}) or point --data-dir (or PLASTIC_DATA) at the folder holding `{sub}/`, whose files may be gzipped or raw"
    )
}
