//! Camera sources: where the device's frames come from.
//!
//! The device loop only sees the [`Camera`] trait, so a folder of images, a simulated camera, a
//! raw stream on standard input and (later) a real sensor are interchangeable. A source is chosen
//! on the command line by a spec string (`dir:PATH`, `synthetic:SCENARIO`, `stdin:WxH:FORMAT`)
//! that [`parse_camera`] turns into a [`CameraSpec`] and [`open`] turns into a camera.

mod dir;
mod image_file;
pub mod mnist;
mod raw;
pub mod scenario;
mod synthetic;
#[cfg(all(feature = "v4l2", target_os = "linux"))]
mod v4l2;
pub mod view;

use std::ops::Range;
use std::path::{Path, PathBuf};

use plastic_runtime::preprocess::PixelFormat;

pub use dir::DirCamera;
pub use raw::RawCamera;
pub use scenario::Scenario;
pub use synthetic::{Digit, SyntheticDigits};
#[cfg(all(feature = "v4l2", target_os = "linux"))]
pub use v4l2::V4l2Camera;
pub use view::View;

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

    /// Whether the source is a live camera that yields frames for as long as it runs (V4L2,
    /// a stream on stdin), as opposed to a finite set of files or a scenario. On a live camera
    /// a long run of bad frames means a broken source, and the device stops instead of
    /// skipping frames for ever (see [`crate::device::MAX_BAD_FRAMES_IN_A_ROW`]).
    fn is_live(&self) -> bool {
        false
    }

    /// Bytes of one captured frame when the source knows them before capturing (a raw stream,
    /// a simulated sensor); `None` when frames vary (a folder of images). The device counts
    /// them against `--mem-budget`.
    fn frame_bytes(&self) -> Option<usize> {
        None
    }

    /// Caps the bytes one decoded frame may take, for sources whose frames vary in size: a
    /// frame over the cap is a bad frame, not an allocation. Sources of a fixed size ignore it.
    fn limit_frame_bytes(&mut self, _max: usize) {}

    /// How many frames the source yields when the caller does not say (`None`: until it ends).
    /// An endless source answers a finite default so a bare run terminates.
    fn default_frames(&self) -> Option<u64> {
        None
    }

    /// The frames (0-based capture indices) during which the source is deliberately shifted
    /// away from what the model was trained on (a scenario's changed camera); `None` for a
    /// source without a planned shift. The device reports its accuracy per window around it.
    fn shift(&self) -> Option<Range<u64>> {
        None
    }
}

/// Why a camera could not be opened or a frame could not be captured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CameraError {
    /// The spec string names no known source.
    #[error("unknown camera `{spec}`: valid cameras are {}", CameraSpec::valid())]
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
    /// A source this build leaves out (a cargo feature that was not enabled).
    #[error(
        "camera `{spec}` needs the `{feature}` feature: rebuild with `cargo build --release -p plastic-sim --features {feature}` (on Linux)"
    )]
    NotBuilt {
        /// The spec as given.
        spec: String,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// A device opened but cannot serve as a camera.
    #[error("camera `{}` is unusable: {reason}", path.display())]
    Unusable {
        /// The device.
        path: PathBuf,
        /// Why, and what to try.
        reason: String,
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
    /// A `stdin:` spec names a frame size no camera delivers.
    #[error(
        "camera `{spec}`: a frame of {width}x{height} is out of range: each side must be 1 to {MAX_FRAME_SIDE} pixels"
    )]
    FrameSize {
        /// The spec as given.
        spec: String,
        /// The width it named.
        width: usize,
        /// The height it named.
        height: usize,
    },
    /// A raw stream ended part-way through a frame: the partial frame is dropped.
    #[error("stream ended inside frame {frame}: got {got} of {expected} bytes")]
    ShortFrame {
        /// 0-based index of the frame that was cut.
        frame: u64,
        /// Bytes of it that arrived.
        got: usize,
        /// Bytes a whole frame has.
        expected: usize,
    },
    /// A Motion-JPEG frame from a camera did not decode to the negotiated size: the frame is
    /// dropped and the stream goes on.
    #[error("camera frame {frame} is not a JPEG image of {width}x{height} ({bytes} bytes)")]
    BadJpeg {
        /// 0-based index of the frame.
        frame: u64,
        /// Bytes the camera delivered.
        bytes: usize,
        /// The negotiated frame width.
        width: usize,
        /// The negotiated frame height.
        height: usize,
    },
    /// A raw stream could not be read.
    #[error("could not read the {what} stream: {source}")]
    Stream {
        /// Which stream (`standard input`).
        what: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A camera source as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSpec {
    /// `dir:PATH`: the images of a folder in file-name order.
    Dir(PathBuf),
    /// `synthetic:SCENARIO`: MNIST digits on paper seen through a simulated camera, which a
    /// scenario may change part-way through the stream.
    Synthetic(Scenario),
    /// `stdin:WxH:gray8|rgb24`: raw frames of a fixed size on standard input (what
    /// `ffmpeg -f rawvideo -` or a capture tool writes), no labels.
    Stdin {
        /// Frame width.
        width: usize,
        /// Frame height.
        height: usize,
        /// Pixel layout.
        format: PixelFormat,
    },
    /// `v4l2:/dev/videoN`: a Video4Linux2 camera, its luma at the size the driver picks near
    /// 320x240 (feature `v4l2`).
    #[cfg(all(feature = "v4l2", target_os = "linux"))]
    V4l2(PathBuf),
}

impl CameraSpec {
    /// The spec strings [`parse_camera`] accepts, for error messages.
    pub fn valid() -> String {
        format!(
            "`dir:PATH` (a folder of images), `stdin:WxH:gray8|rgb24` (raw frames on standard \
             input), `v4l2:/dev/videoN` (a camera; feature `v4l2`), and the simulated cameras \
             {}",
            Scenario::describe()
        )
    }
}

impl std::fmt::Display for CameraSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CameraSpec::Dir(path) => write!(f, "dir:{}", path.display()),
            CameraSpec::Synthetic(scenario) => write!(f, "synthetic:{}", scenario.name()),
            CameraSpec::Stdin {
                width,
                height,
                format,
            } => write!(f, "stdin:{width}x{height}:{}", format_name(*format)),
            #[cfg(all(feature = "v4l2", target_os = "linux"))]
            CameraSpec::V4l2(path) => write!(f, "v4l2:{}", path.display()),
        }
    }
}

/// How a pixel format is written in a `stdin:` spec.
fn format_name(format: PixelFormat) -> &'static str {
    match format {
        PixelFormat::Gray8 => "gray8",
        PixelFormat::Rgb24 => "rgb24",
    }
}

/// The longest side of a frame any camera source accepts (16384 pixels). A raw stream of larger
/// frames is refused when it is named; a folder's image whose header claims more is skipped
/// before it is decoded, so a hostile file cannot make the device allocate for it.
pub const MAX_FRAME_SIDE: usize = 1 << 14;

/// Parses a camera spec string (see [`CameraSpec::valid`]).
pub fn parse_camera(spec: &str) -> Result<CameraSpec, CameraError> {
    let unknown = || CameraError::UnknownKind { spec: spec.into() };
    match spec.split_once(':') {
        Some(("dir", path)) if !path.is_empty() => Ok(CameraSpec::Dir(PathBuf::from(path))),
        Some(("synthetic", name)) => Scenario::from_name(name)
            .map(CameraSpec::Synthetic)
            .ok_or_else(unknown),
        Some(("stdin", rest)) => {
            let (size, format) = rest.split_once(':').ok_or_else(unknown)?;
            let (w, h) = size.split_once('x').ok_or_else(unknown)?;
            let dim = |s: &str| s.parse::<usize>().map_err(|_| unknown());
            let format = match format {
                "gray8" => PixelFormat::Gray8,
                "rgb24" => PixelFormat::Rgb24,
                _ => return Err(unknown()),
            };
            let (width, height) = (dim(w)?, dim(h)?);
            if !(1..=MAX_FRAME_SIDE).contains(&width) || !(1..=MAX_FRAME_SIDE).contains(&height) {
                return Err(CameraError::FrameSize {
                    spec: spec.into(),
                    width,
                    height,
                });
            }
            Ok(CameraSpec::Stdin {
                width,
                height,
                format,
            })
        }
        #[cfg(all(feature = "v4l2", target_os = "linux"))]
        Some(("v4l2", path)) if !path.is_empty() => Ok(CameraSpec::V4l2(PathBuf::from(path))),
        #[cfg(not(all(feature = "v4l2", target_os = "linux")))]
        Some(("v4l2", path)) if !path.is_empty() => Err(CameraError::NotBuilt {
            spec: spec.into(),
            feature: "v4l2",
        }),
        _ => Err(unknown()),
    }
}

/// What [`open`] needs besides the spec.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions<'a> {
    /// Folder of sample digits for synthetic cameras (`None`: see [`open`]).
    pub samples: Option<&'a Path>,
    /// Seed of a synthetic stream.
    pub seed: u64,
    /// Frames the run will take (`None`: the camera's default); a scenario places its shift
    /// relative to this.
    pub frames: Option<u64>,
}

/// An opened camera and, for synthetic cameras, where its digits came from.
pub struct Opened {
    /// The source.
    pub camera: Box<dyn Camera>,
    /// `mnist-test:PATH (N digits)` or `samples:PATH (N digits)`; `None` for other sources.
    pub digits_source: Option<String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("digits_source", &self.digits_source)
            .finish_non_exhaustive()
    }
}

/// Opens the camera a spec names.
///
/// Synthetic cameras draw digits from `options.samples` when given. Otherwise
/// `synthetic:digits` uses the samples shipped with the simulator (so a bare run is the same
/// everywhere), and the scenarios use the 10,000 MNIST test digits from the shared data folder
/// when it is there ([`mnist::shared_data_dir`]): a drift experiment over thousands of frames
/// should not see the same 200 digits again and again. Without the data folder they fall back
/// to the shipped samples; [`Opened::digits_source`] says which.
pub fn open(spec: &CameraSpec, options: OpenOptions<'_>) -> Result<Opened, CameraError> {
    let (camera, digits_source): (Box<dyn Camera>, _) = match spec {
        CameraSpec::Dir(path) => (Box::new(DirCamera::open(path)?), None),
        CameraSpec::Stdin {
            width,
            height,
            format,
        } => (
            Box::new(RawCamera::new(
                std::io::stdin().lock(),
                *width,
                *height,
                *format,
            )),
            None,
        ),
        #[cfg(all(feature = "v4l2", target_os = "linux"))]
        CameraSpec::V4l2(path) => (Box::new(V4l2Camera::open(path)?), None),
        CameraSpec::Synthetic(scenario) => {
            let (kind, dir) = digit_source(options.samples, *scenario);
            let digits = if kind == MNIST_TEST {
                mnist::load_test_set(&dir)?
            } else {
                synthetic::load_samples(&dir)?
            };
            let frames = options.frames.unwrap_or(scenario.default_frames());
            let mut camera = SyntheticDigits::scenario(digits, options.seed, *scenario, frames)
                .ok_or_else(|| CameraError::Empty {
                    path: dir.clone(),
                    what: "digits",
                })?;
            let mut source = format!(
                "{kind}:{} ({} digits)",
                dir.display(),
                camera.digits().len()
            );
            if scenario.new_task() {
                let fashion = fashion_dir().ok_or_else(|| CameraError::Empty {
                    path: mnist::shared_data_dir()
                        .unwrap_or_else(|| PathBuf::from("../shared/data"))
                        .join("fashion-mnist"),
                    what: "Fashion-MNIST test set (t10k-*-ubyte.gz): set PLASTIC_DATA to the \
                           data folder",
                })?;
                let items = mnist::load_test_set(&fashion)?;
                source.push_str(&format!(
                    ", then fashion-mnist-test:{} ({} items)",
                    fashion.display(),
                    items.len()
                ));
                camera = camera.with_new_task(items);
            }
            (Box::new(camera), Some(source))
        }
    };
    Ok(Opened {
        camera,
        digits_source,
    })
}

/// The Fashion-MNIST test set's folder in the shared data folder, when it is there.
pub fn fashion_dir() -> Option<PathBuf> {
    let dir = mnist::shared_data_dir()?.join("fashion-mnist");
    mnist::has_test_set_in(&dir).then_some(dir)
}

/// How [`Opened::digits_source`] names the MNIST test set.
const MNIST_TEST: &str = "mnist-test";

/// Where a synthetic camera's digits come from, as (kind, folder); see [`open`].
fn digit_source(samples: Option<&Path>, scenario: Scenario) -> (&'static str, PathBuf) {
    if let Some(dir) = samples {
        return ("samples", dir.to_path_buf());
    }
    if scenario != Scenario::Digits
        && let Some(data) = mnist::shared_data_dir().filter(|d| mnist::has_test_set(d))
    {
        return (MNIST_TEST, data.join("mnist"));
    }
    ("samples", PathBuf::from(crate::cli::DEFAULT_SAMPLES))
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
            parse_camera("dir:frames").unwrap(),
            CameraSpec::Dir("frames".into())
        );
        for (text, scenario) in [
            ("synthetic:digits", Scenario::Digits),
            ("synthetic:mnist-drift", Scenario::MnistDrift),
            ("synthetic:mnist-return", Scenario::MnistReturn),
            ("synthetic:fashion-after-mnist", Scenario::FashionAfterMnist),
        ] {
            let spec = parse_camera(text).unwrap();
            assert_eq!(spec, CameraSpec::Synthetic(scenario));
            assert_eq!(spec.to_string(), text);
        }
        let stdin = parse_camera("stdin:320x240:rgb24").unwrap();
        assert_eq!(
            stdin,
            CameraSpec::Stdin {
                width: 320,
                height: 240,
                format: PixelFormat::Rgb24
            }
        );
        assert_eq!(stdin.to_string(), "stdin:320x240:rgb24");
        let v4l2 = parse_camera("v4l2:/dev/video0");
        #[cfg(all(feature = "v4l2", target_os = "linux"))]
        assert_eq!(v4l2.unwrap().to_string(), "v4l2:/dev/video0");
        #[cfg(not(all(feature = "v4l2", target_os = "linux")))]
        assert!(
            v4l2.unwrap_err().to_string().contains("--features v4l2"),
            "the error says how to get the camera"
        );
        for bad in [
            "v4l2:",
            "synthetic:cats",
            "dir:",
            "dir",
            "stdin:320x240",
            "stdin:320x240:yuv420",
            "stdin:axb:gray8",
        ] {
            let err = parse_camera(bad).unwrap_err().to_string();
            assert!(
                err.contains(bad) && err.contains("synthetic:digits"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_raw_frame_size_out_of_range_is_named_as_such() {
        for bad in [
            "stdin:0x240:gray8",
            "stdin:100000x100000:gray8",
            "stdin:16385x1:rgb24",
        ] {
            let err = parse_camera(bad).unwrap_err();
            assert!(matches!(err, CameraError::FrameSize { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("1 to 16384"), "{err}");
        }
        assert!(parse_camera("stdin:16384x1:gray8").is_ok());
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
