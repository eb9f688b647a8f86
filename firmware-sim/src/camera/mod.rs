//! Camera sources: where the device's frames come from.
//!
//! The device loop only sees the [`Camera`] trait, so a folder of images, a simulated camera and
//! (later) a real sensor are interchangeable. A source is chosen on the command line by a spec
//! string (`dir:PATH`, `synthetic:digits`) that [`parse_camera`] turns into a [`CameraSpec`] and
//! [`open`] turns into a camera.

mod dir;
mod synthetic;

use std::path::{Path, PathBuf};

use plastic_runtime::preprocess::PixelFormat;

pub use dir::DirCamera;
pub use synthetic::{Digit, SyntheticDigits};

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Layout of `data`.
    pub format: PixelFormat,
    /// Pixel bytes, row-major, `width * height * format.bytes_per_pixel()` of them.
    pub data: Vec<u8>,
    /// The true class when the source knows it (a labelled file, a simulated scene).
    pub label: Option<u8>,
}

/// A source of frames.
///
/// `None` means the stream has ended; `Some(Err(_))` is one bad frame (an undecodable file), after
/// which the stream goes on, so the device can report it and keep running.
pub trait Camera {
    /// Captures the next frame.
    fn next_frame(&mut self) -> Option<Result<Frame, CameraError>>;

    /// Hands a used frame back so its buffer can hold the next capture. On a device the sensor
    /// DMA-writes into a fixed set of buffers; this keeps the simulated loop allocation-free in
    /// the same way. Sources that cannot reuse buffers just drop it.
    fn recycle(&mut self, frame: Frame) {
        drop(frame);
    }

    /// How many frames the source yields when the caller does not say (`None`: until it ends).
    /// An endless source answers a finite default so a bare run terminates.
    fn default_frames(&self) -> Option<u64> {
        None
    }
}

/// Why a camera could not be opened or a frame could not be captured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CameraError {
    /// The spec string names no known source.
    #[error("unknown camera `{spec}`: valid cameras are {}", CameraSpec::VALID)]
    UnknownKind {
        /// The spec as given.
        spec: String,
    },
    /// A folder could not be listed or a file could not be read.
    #[error("could not read `{}`: {source}", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file is not an image this build can decode.
    #[error("could not decode image `{}`: {source}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        source: image::ImageError,
    },
    /// A folder holds no usable files.
    #[error("`{}` holds no {what}", path.display())]
    Empty {
        /// The folder.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
    },
    /// A sample digit is unusable (no label in its name, or a size the renderer cannot use).
    #[error("sample `{}` is unusable: {reason}", path.display())]
    BadSample {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A camera source as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSpec {
    /// `dir:PATH`: the images of a folder in file-name order.
    Dir(PathBuf),
    /// `synthetic:digits`: MNIST digits on paper seen through a simulated camera.
    SyntheticDigits,
}

impl CameraSpec {
    /// The spec strings [`parse_camera`] accepts, for error messages and `--help`.
    pub const VALID: &'static str = "`dir:PATH` (a folder of images) and `synthetic:digits`";
}

impl std::fmt::Display for CameraSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CameraSpec::Dir(path) => write!(f, "dir:{}", path.display()),
            CameraSpec::SyntheticDigits => f.write_str("synthetic:digits"),
        }
    }
}

/// Parses a camera spec string (`dir:PATH` or `synthetic:digits`).
pub fn parse_camera(spec: &str) -> Result<CameraSpec, CameraError> {
    match spec.split_once(':') {
        Some(("dir", path)) if !path.is_empty() => Ok(CameraSpec::Dir(PathBuf::from(path))),
        Some(("synthetic", "digits")) => Ok(CameraSpec::SyntheticDigits),
        _ => Err(CameraError::UnknownKind { spec: spec.into() }),
    }
}

/// Opens the camera a spec names. `samples` is the folder of labelled digits the synthetic
/// source draws from; `seed` fixes its stream.
pub fn open(spec: &CameraSpec, samples: &Path, seed: u64) -> Result<Box<dyn Camera>, CameraError> {
    Ok(match spec {
        CameraSpec::Dir(path) => Box::new(DirCamera::open(path)?),
        CameraSpec::SyntheticDigits => Box::new(SyntheticDigits::open(samples, seed)?),
    })
}

/// The label a file name carries: the number after the last `_` of the stem, if it fits a
/// `u8` (`0000_7.png` -> 7, `cat.png` -> None). Datasets exported as files use this convention,
/// so a labelled folder needs no side-car file.
pub fn label_from_name(path: &Path) -> Option<u8> {
    let stem = path.file_stem()?.to_str()?;
    let (_, tail) = stem.rsplit_once('_')?;
    if tail.is_empty() || tail.len() > 3 || !tail.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    tail.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_unknown_kinds_list_the_valid_ones() {
        assert_eq!(
            parse_camera("dir:/tmp/x").unwrap(),
            CameraSpec::Dir("/tmp/x".into())
        );
        assert_eq!(
            parse_camera("synthetic:digits").unwrap(),
            CameraSpec::SyntheticDigits
        );
        for bad in ["v4l2:/dev/video0", "synthetic:cats", "dir:", "dir"] {
            let err = parse_camera(bad).unwrap_err().to_string();
            assert!(
                err.contains(bad) && err.contains("synthetic:digits"),
                "{err}"
            );
        }
    }

    #[test]
    fn labels_come_from_the_name_suffix() {
        assert_eq!(label_from_name(Path::new("a/0000_7.png")), Some(7));
        assert_eq!(label_from_name(Path::new("x_3.png")), Some(3));
        assert_eq!(label_from_name(Path::new("cat_12.jpg")), Some(12));
        assert_eq!(label_from_name(Path::new("cat.png")), None);
        assert_eq!(label_from_name(Path::new("cat_.png")), None);
        assert_eq!(label_from_name(Path::new("cat_x1.png")), None);
        assert_eq!(label_from_name(Path::new("cat_300.png")), None);
    }
}
