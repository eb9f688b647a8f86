//! What a run does besides inference ([`RunOptions`]), and the defaults of the learning rates,
//! each with the measurement that chose it.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use plastic_runtime::policy::{
    DEFAULT_EPS, DEFAULT_EPS_SETTLE, DEFAULT_EPS_WITH_LABELS, DEFAULT_ETA, DEFAULT_LABEL_EPS,
    LearningPolicy,
};

use crate::adapt::AdaptMode;
use crate::baseline::BaselineSpec;
use crate::drift::DriftMonitor;

/// What a run does besides inference.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop after this many frames (`None`: the camera's default, see
    /// [`Camera::default_frames`](crate::camera::Camera::default_frames)).
    pub frames: Option<u64>,
    /// Draw the screen and save it here.
    pub display: Option<DisplayOptions>,
    /// What the device learns.
    pub adapt: AdaptOptions,
    /// Capture-to-display time above which a frame counts as a budget miss.
    pub frame_budget: Option<Duration>,
    /// Where and how often to save what was learned (only used when the device learns).
    pub persist: Option<PersistOptions>,
    /// Set from outside (a signal handler) to end the run after the current frame.
    pub stop: Option<Arc<AtomicBool>>,
    /// The frames of the stream that are shifted, when the user knows (`--shift-at`); it
    /// replaces the camera's own planned shift.
    pub shift: Option<Range<u64>>,
    /// Write one JSON line per frame here (`--frames-log`).
    pub frames_log: Option<PathBuf>,
    /// Save each labelled frame's model input here as an MNIST-format test set
    /// (`--record-inputs`, see [`crate::input_record`]).
    pub record_inputs: Option<PathBuf>,
    /// A baseline learner that reads the frozen hidden code instead of the device learning
    /// (`--baseline`, with `--adapt off`).
    pub baseline: Option<BaselineSpec>,
}

/// Where and how often the screen is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayOptions {
    /// Folder for `frame_NNNNN.png` and `display.gif`.
    pub dir: PathBuf,
    /// Save every this many frames (1: every frame).
    pub snapshot_every: u64,
}

/// How the device learns (see [`AdaptMode`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptOptions {
    /// Which steps run.
    pub mode: AdaptMode,
    /// Learning rate of the Krotov layer (largest weight change per step).
    pub eps: f32,
    /// Frames without drift after which the Krotov rate has halved (it falls as
    /// `settle / (settle + quiet frames)` and returns to `eps` when the drift indicator
    /// alerts); 0 keeps it constant. See [`DriftMonitor::learning_scale`].
    pub eps_settle: u64,
    /// Learning rate of the readout's delta rule.
    pub eta: f32,
    /// Learning rate of the Krotov layer's supervised step on a labelled frame (0: none).
    pub label_eps: f32,
    /// Whether a label the model got wrong recruits a unit for its frame (see
    /// [`plastic_runtime::AdaptiveModel::recruit`]).
    pub recruit: bool,
    /// The corrections of a new view and the convolution's rule (the runtime's defaults, or as
    /// the flags changed them).
    pub policy: LearningPolicy,
    /// Seed of the stream that decides which labelled frames get a label step.
    pub seed: u64,
}

/// The default Krotov rate for `mode`: [`DEFAULT_EPS_WITH_LABELS`] with labels, else
/// [`DEFAULT_EPS`].
pub fn default_eps(mode: AdaptMode) -> f32 {
    plastic_runtime::policy::default_eps(matches!(mode, AdaptMode::Labels(_)))
}

impl Default for AdaptOptions {
    fn default() -> Self {
        Self {
            mode: AdaptMode::Off,
            eps: DEFAULT_EPS,
            eps_settle: DEFAULT_EPS_SETTLE,
            eta: DEFAULT_ETA,
            label_eps: DEFAULT_LABEL_EPS,
            recruit: true,
            policy: LearningPolicy::default(),
            seed: 0,
        }
    }
}

/// Persistence of what the device learned.
#[derive(Debug, Clone, PartialEq)]
pub struct PersistOptions {
    /// The state file.
    pub path: PathBuf,
    /// Save every this many frames (and at the end).
    pub every: u64,
    /// Frames seen before this run (from a resumed state), so the saved count keeps growing.
    pub frames_seen: u64,
    /// The drift indicator of a resumed state, so the learning rate goes on from where it had
    /// settled (`None`: start it afresh).
    pub drift: Option<DriftMonitor>,
}
