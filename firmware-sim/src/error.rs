//! The error type of the simulator library.
//!
//! # Design
//! Every variant that involves a file names it, so the binary can print the error as-is and the
//! user knows which file to fix; [`Error::hint`] adds the one-line "how to fix it" the binary
//! prints under the message. Camera errors keep their own type ([`CameraError`]) because a bad
//! frame is routine for a camera (the loop counts it and goes on) while these are not.

use std::path::PathBuf;

use crate::camera::CameraError;

/// Why the simulated device could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model file could not be read.
    #[error("could not read model file `{}`: {source}", path.display())]
    ReadModel {
        /// The file given with `--model`.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The model file is not a usable checkpoint.
    #[error("model file `{}` is not a usable plastic checkpoint: {source}", path.display())]
    BadModel {
        /// The file given with `--model`.
        path: PathBuf,
        /// What the checkpoint reader said.
        source: plastic_runtime::Error,
    },
    /// The checkpoint built into the binary is not usable (an empty placeholder before the
    /// trained model is dropped in).
    #[error("the built-in default model could not be loaded: {0}")]
    DefaultModel(plastic_runtime::Error),
    /// The model wants an input the camera path cannot make.
    #[error(
        "the model's input is {width}x{height}x{channels}; the simulator feeds 1 (gray) or 3 (RGB) channels"
    )]
    UnsupportedInput {
        /// Input width.
        width: usize,
        /// Input height.
        height: usize,
        /// Input channels.
        channels: usize,
    },
    /// An adapting mode was asked of a model that cannot learn on the device.
    #[error("model `{model}` cannot learn on the device (--adapt {mode}): {reason}")]
    NotAdaptive {
        /// The model's name.
        model: String,
        /// The mode asked for.
        mode: String,
        /// What the runtime said.
        reason: plastic_runtime::Error,
    },
    /// The model needs more memory than `--mem-budget` allows.
    #[error(
        "the device needs {needed} bytes at start (weights and buffers, and {frame} of them for one camera frame), over the memory budget of {budget} bytes"
    )]
    MemoryBudget {
        /// Bytes needed.
        needed: usize,
        /// The budget.
        budget: usize,
        /// The camera frame's share of `needed` (0 when the model alone is over).
        frame: usize,
    },
    /// A frame's bytes do not match its size.
    #[error("frame of {width}x{height} carries {bytes} bytes")]
    BadFrame {
        /// Frame width.
        width: usize,
        /// Frame height.
        height: usize,
        /// Bytes found.
        bytes: usize,
    },
    /// Preprocessing or inference refused a frame.
    #[error(transparent)]
    Runtime(#[from] plastic_runtime::Error),
    /// The camera could not be opened.
    #[error(transparent)]
    Camera(#[from] CameraError),
    /// `--conv-rate` was asked of a model or a setting where the convolution cannot learn.
    #[error("--conv-rate {rate}: {reason}")]
    ConvLearning {
        /// The rate asked for.
        rate: f32,
        /// Why it cannot.
        reason: &'static str,
    },
    /// A baseline learner cannot run as asked.
    #[error("{0}")]
    Baseline(String),
    /// A display output (folder, PNG, GIF) could not be written.
    #[error("could not write `{}`: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The state file is in use by another device, or its lock could not be taken.
    #[error("state file `{}`: {source}", path.display())]
    StateLocked {
        /// The file given with `--state`.
        path: PathBuf,
        /// Why the lock was not taken.
        source: crate::state_lock::LockError,
    },
    /// A live camera gave nothing but bad frames for too long: a broken source (a producer
    /// writing another size or format, a failing sensor), not a bad frame now and then.
    #[error(
        "the camera gave {count} bad frames in a row and no good one; stopping (the last: {last})"
    )]
    BadFrames {
        /// Bad frames in a row.
        count: u64,
        /// What was wrong with the last one.
        last: String,
    },
    /// An image could not be encoded.
    #[error("could not encode `{}`: {source}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// What the encoder said.
        source: image::ImageError,
    },
}

impl Error {
    /// One line telling the user how to get past this error.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::ReadModel { .. } => {
                "check the path given to --model, or leave --model out to run the built-in model"
            }
            Error::BadModel { .. } => {
                "pass a plastic/1 checkpoint written by `plastic-train` or `plastic quantize`"
            }
            Error::DefaultModel(_) => {
                "this build has no trained default model yet; pass --model PATH to a checkpoint \
                 written by `plastic-train` or `plastic quantize`"
            }
            Error::UnsupportedInput { .. } => "use a model trained on gray or RGB images",
            Error::NotAdaptive { .. } => {
                "run it with --adapt off; a model of two or more layers ending in a dense readout \
                 learns from labels (--adapt labels:RATE), and a Krotov checkpoint (a Krotov \
                 layer and one readout, as `plastic-train krotov` writes) learns without them \
                 too"
            }
            Error::MemoryBudget { .. } => {
                "raise --mem-budget, capture smaller frames, or run a smaller model (a Krotov \
                 layer that can learn keeps an f16 master copy beside its int8 copy: 3 bytes \
                 per weight)"
            }
            Error::BadFrame { .. } | Error::Runtime(_) => {
                "this is a bug in the simulator or the model; please report it with the command line"
            }
            Error::Camera(CameraError::UnknownKind { .. }) => {
                "use --camera dir:PATH, stdin:WxH:gray8 or synthetic:NAME (plastic-sim --help \
                 lists the scenarios)"
            }
            Error::Camera(CameraError::Empty { .. } | CameraError::BadSample { .. }) => {
                "point --camera dir:PATH at a folder of images, or --samples DIR at 28x28 digits \
                 named like 0000_7.png"
            }
            Error::Camera(_) => "check that the folder exists and is readable",
            Error::ConvLearning { .. } => {
                "give a SoftHebb model whose readout learns (such as \
                 models/default/mnist-softhebb-device.int8.safetensors), keep --channel-horizon \
                 above 0 and the rate above 0, or leave --conv-rate out"
            }
            Error::Baseline(_) => {
                "use --baseline with --adapt off and a model of two layers or more (the \
                 built-in one, or the Krotov demo)"
            }
            Error::BadFrames { .. } => {
                "check the camera: for --camera stdin:WxH:FORMAT, the producer must write frames \
                 of exactly that size and pixel format"
            }
            Error::StateLocked { .. } => {
                "give each device its own --state file, or stop the other plastic-sim that runs \
                 on it (a device that learns holds its state until it exits)"
            }
            Error::Write { .. } | Error::Encode { .. } => {
                "check that the --display folder, the --frames-log file's folder or the \
                 --record-inputs folder can be written, and the disk has room"
            }
        }
    }
}
