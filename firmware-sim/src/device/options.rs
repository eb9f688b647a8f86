//! What a run does besides inference ([`RunOptions`]), and the defaults of the learning rates,
//! each with the measurement that chose it.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

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
    /// Frames the hidden code's recent mean spans, for its drift correction (see
    /// [`plastic_runtime::align`]); 0: no correction.
    pub align_horizon: u32,
    /// Whether framed digits are turned and thinned to undo a new view's tilt and pen (see
    /// [`plastic_runtime::digit_align`]); 28x28 gray models only.
    pub warp_digits: bool,
    /// Frames over which a convolutional front end's input statistics are re-estimated, to
    /// bring them back to the reference (see [`plastic_runtime::channel_stats`]); 0: never.
    pub channel_horizon: u32,
    /// Base rate of the last convolution's SoftHebb steps (see
    /// [`plastic_runtime::conv_learning`]); 0: it stays as shipped.
    pub conv_rate: f32,
    /// Seed of the stream that decides which labelled frames get a label step.
    pub seed: u64,
}

/// Default of `--eps` without labels. Measured on `mnist-return` (seed 0, MNIST test digits):
/// with 0.01 the original camera comes back 1.1 points below where it was (3.5 without the
/// hidden code's drift correction), with 0.005 0.6 points above it: nothing corrects a unit that
/// wanders off what the readout expects, so the layer moves slowly. With the rate settling
/// (`--eps-settle`) it stays above the frozen device over 200,000 frames (docs/RESULTS.md).
pub const DEFAULT_EPS: f32 = 0.005;
/// Default of `--eps` with labels (`labels:RATE`). The labels re-teach the readout as units
/// move, so the layer may follow a new camera faster. Measured on `mnist-drift` (seeds 0 to 5,
/// MNIST test digits, labels on 5 % of frames, with recruits and the drift correction): 0.005
/// wins back 48 % of the frozen device's drop on average, 0.01 53 %; on `mnist-return` the
/// original camera comes back within 0.7 points (seed 0).
pub const DEFAULT_EPS_WITH_LABELS: f32 = 0.01;

/// The default Krotov rate for `mode`: [`DEFAULT_EPS_WITH_LABELS`] with labels, else
/// [`DEFAULT_EPS`].
pub fn default_eps(mode: AdaptMode) -> f32 {
    match mode {
        AdaptMode::Labels(_) => DEFAULT_EPS_WITH_LABELS,
        _ => DEFAULT_EPS,
    }
}

/// Default of `--eps-settle`. Measured on `mnist-drift` over 200,000 frames without labels
/// (shift at mid-run): a constant rate ends 9 points below a frozen device (60.6 % against
/// 69.6 % over the last quarter) and is 3.5 points below it before the shift; settling over
/// 2000 frames ends 6.7 points above it (76.3 %) and loses nothing before the shift (93.0 %
/// against 92.8 %). On 4000-frame runs it costs 0.2 to 0.4 points against a constant rate;
/// settling over 500 frames costs 2.
pub const DEFAULT_EPS_SETTLE: u64 = 2000;
/// Default of `--eta`. The demo readout's weights are large (its tanh outputs saturate), so a
/// larger step recovers little faster and adds noise: 0.03 costs 0.7 to 1.3 points on the
/// original camera (seeds 0 and 1), 0.1 about 3.
pub const DEFAULT_ETA: f32 = 0.01;
/// Default of `--label-eps`. Measured on `mnist-drift` (seeds 0 to 5, the MNIST test digits,
/// labels on 5 % of frames): the share of the frozen device's drop won back over the last
/// quarter goes from 28 % on average without the step to 36 % with 0.02 and 38 % with 0.05
/// (46 % for seed 0), at a cost of 0.5 points before the shift; 0.1 and more overwrite the
/// units they move faster than unlabelled frames refine them (0.2 ends below the frozen device).
/// Those figures predate recruits and the drift correction, which take over much of what the
/// step did: with them it adds 2 points (51 % without it, 53 % with it, mean of seeds 0 to 5).
pub const DEFAULT_LABEL_EPS: f32 = 0.05;
/// Default of `--align-horizon`: see [`plastic_runtime::align::DEFAULT_HORIZON_FRAMES`].
pub const DEFAULT_ALIGN_HORIZON: u32 = plastic_runtime::align::DEFAULT_HORIZON_FRAMES;

/// Default of `--channel-horizon`: see
/// [`plastic_runtime::channel_stats::DEFAULT_CHANNEL_HORIZON`].
pub const DEFAULT_CHANNEL_HORIZON: u32 = plastic_runtime::channel_stats::DEFAULT_CHANNEL_HORIZON;

impl Default for AdaptOptions {
    fn default() -> Self {
        Self {
            mode: AdaptMode::Off,
            eps: DEFAULT_EPS,
            eps_settle: DEFAULT_EPS_SETTLE,
            eta: DEFAULT_ETA,
            label_eps: DEFAULT_LABEL_EPS,
            recruit: true,
            align_horizon: DEFAULT_ALIGN_HORIZON,
            warp_digits: true,
            channel_horizon: DEFAULT_CHANNEL_HORIZON,
            conv_rate: 0.0,
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
