//! The device loop: capture, preprocess, infer, learn, display, count, persist.
//!
//! Why a loop with its own clock: on the device what matters is the time each stage takes per
//! frame (a 30 fps camera leaves 33 ms for everything), so each stage is timed with
//! [`Instant`] and the summary reports means per stage next to the accuracy; with a frame
//! budget, every frame whose capture-to-display time exceeds it is counted as a miss. A bad
//! frame (an undecodable file, a cut stream) is logged, counted as skipped, and the loop goes
//! on, as firmware must; a live camera that gives nothing but bad frames for
//! [`MAX_BAD_FRAMES_IN_A_ROW`] frames stops the run with an error instead of running for ever. A stop request (SIGINT or SIGTERM in the binary) is honoured between
//! frames: the loop saves what it learned and returns its summary as if the stream had ended.

use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use plastic_runtime::Precision;
use plastic_runtime::align::DEFAULT_CALIBRATION_FRAMES;
use plastic_runtime::guard::GuardStats;
use plastic_runtime::plastic::StepOutcome;

use crate::adapt::AdaptMode;
use crate::baseline::{Baseline, BaselineSpec};
use crate::camera::Camera;
use crate::display::{self, Framebuffer, InputView, Learning, Recorder, ScreenState, draw_screen};
use crate::drift::DriftMonitor;
use crate::error::Error;
use crate::frames_log::{FrameRecord, FramesLog};
use crate::persist::write_state;
use crate::pipeline::{Pipeline, precision_name};
use crate::rng::SplitMix64;
use crate::windows::{Outcomes, WindowRanges};

/// Log a progress line every this many frames.
const PROGRESS_EVERY: u64 = 100;
/// Weight of the newest frame in the on-screen frame-rate average.
const FPS_SMOOTHING: f32 = 0.1;
/// Mixed into `--seed` for the button-press stream, so it is independent of the camera's
/// stream drawn from the same seed.
const LABEL_STREAM: u64 = 0x6275_7474_6f6e; // "button"
/// Frames at the start of a run on which a baseline learns the shipped readout's answers (see
/// [`crate::baseline`]).
const BASELINE_WARMUP_FRAMES: u64 = 1000;
/// Bytes the display holds when on: the RGB565 panel and the RGB snapshot buffer.
const DISPLAY_BYTES: usize = (display::WIDTH * display::HEIGHT) as usize * (2 + 3);

/// What a run does besides inference.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop after this many frames (`None`: the camera's default, see
    /// [`Camera::default_frames`]).
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

/// Frames per point of the summary's accuracy-over-frames curve.
pub const ACCURACY_BLOCK_FRAMES: u64 = 100;

/// Totals of a run; [`Summary::to_json`] is what `--json` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Frames run through the model.
    pub frames: u64,
    /// Of those, frames whose true label was known.
    pub labelled: u64,
    /// Of those, frames the model got right.
    pub correct: u64,
    /// Frames the camera could not deliver or the pipeline refused.
    pub skipped: u64,
    /// Time spent capturing (decoding or rendering) frames.
    pub capture: Duration,
    /// Time spent preprocessing.
    pub preprocess: Duration,
    /// Time spent in the model.
    pub infer: Duration,
    /// Time spent in learning steps.
    pub adapt_time: Duration,
    /// Time spent drawing and saving the screen.
    pub display: Duration,
    /// Time of the whole loop, skipped frames included.
    pub wall: Duration,
    /// The model's name.
    pub model: String,
    /// The precision inference runs in.
    pub precision: Precision,
    /// Screen snapshots saved.
    pub snapshots: u64,
    /// The animated GIF, when one was written.
    pub gif: Option<PathBuf>,
    /// How the device learned, with its rates.
    pub adapt: AdaptOptions,
    /// Krotov steps that changed the layer.
    pub adaptation_steps: u64,
    /// Krotov steps a guard refused (nothing changed).
    pub rollbacks: u64,
    /// Label steps ("button presses"): a readout step and a supervised Krotov step each.
    pub label_steps: u64,
    /// Units recruited by labels the model got wrong, this run.
    pub recruited_units: u64,
    /// The baseline learner that answered instead of the device's readout, if any.
    pub baseline: Option<BaselineSpec>,
    /// The anchor's counters, when the shipped model ran beside the learning one.
    pub guard: Option<GuardStats>,
    /// Bytes of the anchor (the shipped weights: flash or a memory-mapped file on a device).
    pub anchor_bytes: usize,
    /// Per-frame outcomes, for the windows.
    pub outcomes: Outcomes,
    /// The source's planned shift (frame indices), if any.
    pub shift: Option<Range<u64>>,
    /// The frame budget, if one was set.
    pub frame_budget: Option<Duration>,
    /// Frames over the frame budget.
    pub budget_misses: u64,
    /// Bytes of weights the model holds.
    pub model_bytes: usize,
    /// The most bytes the device held: weights, preprocessing buffers, the largest camera
    /// frame and the display, if on.
    pub peak_memory_bytes: usize,
    /// The process's peak resident set (Linux `VmHWM`), in KiB.
    pub peak_rss_kb: Option<u64>,
    /// State saves written.
    pub persist_count: u64,
    /// How persistence went: `None` without `--state`, else a short status.
    pub persistence: Option<String>,
    /// The state file, if any.
    pub state: Option<PathBuf>,
    /// Frames seen over the device's life: resumed ones plus this run's.
    pub frames_seen: u64,
    /// Where a synthetic camera's digits came from.
    pub digits_source: Option<String>,
    /// True when a stop request ended the run.
    pub interrupted: bool,
}

impl Summary {
    fn new(model: &str, precision: Precision) -> Self {
        Self {
            frames: 0,
            labelled: 0,
            correct: 0,
            skipped: 0,
            capture: Duration::ZERO,
            preprocess: Duration::ZERO,
            infer: Duration::ZERO,
            adapt_time: Duration::ZERO,
            display: Duration::ZERO,
            wall: Duration::ZERO,
            model: model.into(),
            precision,
            snapshots: 0,
            gif: None,
            adapt: AdaptOptions::default(),
            adaptation_steps: 0,
            rollbacks: 0,
            label_steps: 0,
            recruited_units: 0,
            baseline: None,
            guard: None,
            anchor_bytes: 0,
            outcomes: Outcomes::default(),
            shift: None,
            frame_budget: None,
            budget_misses: 0,
            model_bytes: 0,
            peak_memory_bytes: 0,
            peak_rss_kb: None,
            persist_count: 0,
            persistence: None,
            state: None,
            frames_seen: 0,
            digits_source: None,
            interrupted: false,
        }
    }

    /// Fraction of labelled frames predicted right; `None` when no frame had a label.
    pub fn accuracy(&self) -> Option<f64> {
        (self.labelled > 0).then(|| self.correct as f64 / self.labelled as f64)
    }

    /// The frame ranges of the accuracy windows.
    pub fn window_ranges(&self) -> WindowRanges {
        WindowRanges::new(self.frames, self.shift.as_ref())
    }

    /// Mean of a per-frame total in microseconds; `None` before the first frame.
    fn mean_us(&self, total: Duration) -> Option<f64> {
        (self.frames > 0).then(|| round(total.as_secs_f64() * 1e6 / self.frames as f64, 1))
    }

    /// Mean time of one frame through every stage, in microseconds.
    pub fn mean_frame_us(&self) -> Option<f64> {
        self.mean_us(self.capture + self.preprocess + self.infer + self.adapt_time + self.display)
    }

    /// Mean inference time, in microseconds.
    pub fn mean_infer_us(&self) -> Option<f64> {
        self.mean_us(self.infer)
    }

    /// Frames per second over the whole loop.
    pub fn fps(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            round(self.frames as f64 / secs, 2)
        } else {
            0.0
        }
    }

    /// The summary as one JSON object (fractions as fractions, `null` where unknown).
    /// Accuracy over each block of [`ACCURACY_BLOCK_FRAMES`] frames, in order (`None` for a
    /// block without labels): the curve of accuracy over frames that `plastic viz frames`
    /// draws.
    pub fn block_accuracies(&self) -> Vec<Option<f64>> {
        let len = self.outcomes.len();
        (0..len.div_ceil(ACCURACY_BLOCK_FRAMES))
            .map(|b| {
                let start = b * ACCURACY_BLOCK_FRAMES;
                self.outcomes.accuracy(start..start + ACCURACY_BLOCK_FRAMES)
            })
            .collect()
    }

    /// The summary as `--json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        let w = self.window_ranges();
        let range = |r: &Range<u64>| serde_json::json!([r.start, r.end]);
        let learns = self.adapt.mode.learns();
        let labels = matches!(self.adapt.mode, AdaptMode::Labels(_));
        serde_json::json!({
            "frames": self.frames,
            "labelled": self.labelled,
            "correct": self.correct,
            "accuracy": self.accuracy(),
            "skipped": self.skipped,
            "windows": {
                "before_shift": self.outcomes.accuracy(w.before_shift.clone()),
                "after_shift": w.after_shift.clone().and_then(|r| self.outcomes.accuracy(r)),
                "late_shift": w.late_shift.clone().and_then(|r| self.outcomes.accuracy(r)),
                "after_return": w.after_return.clone().and_then(|r| self.outcomes.accuracy(r)),
                "end": self.outcomes.accuracy(w.end.clone()),
            },
            "window_frames": {
                "before_shift": range(&w.before_shift),
                "after_shift": w.after_shift.as_ref().map(range),
                "late_shift": w.late_shift.as_ref().map(range),
                "after_return": w.after_return.as_ref().map(range),
                "end": range(&w.end),
            },
            "shift": self.shift.as_ref().map(|s| range(&(s.start..s.end.min(self.frames.max(s.start))))),
            "accuracy_per_block": {
                "frames": ACCURACY_BLOCK_FRAMES,
                "accuracy": self.block_accuracies(),
            },
            "adapt": self.adapt.mode.to_string(),
            "eps": learns.then(|| shortest(self.adapt.eps)),
            "eps_settle": learns.then_some(self.adapt.eps_settle),
            "eta": labels.then(|| shortest(self.adapt.eta)),
            "label_eps": labels.then(|| shortest(self.adapt.label_eps)),
            "recruit": labels.then_some(self.adapt.recruit),
            "align_horizon": learns.then_some(self.adapt.align_horizon),
            "adaptation_steps": self.adaptation_steps,
            "rollbacks": self.rollbacks,
            "label_steps": self.label_steps,
            "recruited_units": self.recruited_units,
            "anchor": self.guard.map(|g| serde_json::json!({
                "answers": g.anchor_answers,
                "disagreements": g.disagreements,
                "rollbacks": g.rollbacks,
                "worst_disagreement": shortest(g.worst_disagreement),
            })),
            "anchor_bytes": self.anchor_bytes,
            "baseline": self.baseline.map(|b| b.to_string()),
            "mean_infer_us": self.mean_infer_us(),
            "mean_frame_us": self.mean_frame_us(),
            "mean_capture_us": self.mean_us(self.capture),
            "mean_preprocess_us": self.mean_us(self.preprocess),
            "mean_adapt_us": self.mean_us(self.adapt_time),
            "mean_display_us": self.mean_us(self.display),
            "fps": self.fps(),
            "frame_budget_us": self.frame_budget.map(|b| b.as_micros() as u64),
            "budget_misses": self.frame_budget.map(|_| self.budget_misses),
            "model_bytes": self.model_bytes,
            "peak_memory_bytes": self.peak_memory_bytes,
            "peak_rss_kb": self.peak_rss_kb,
            "model": self.model,
            "precision": precision_name(self.precision),
            "snapshots": self.snapshots,
            "gif": self.gif.as_ref().map(|p| p.display().to_string()),
            "state": self.state.as_ref().map(|p| p.display().to_string()),
            "persistence": self.persistence,
            "persist_count": self.persist_count,
            "frames_seen": self.frames_seen,
            "digits_source": self.digits_source,
            "interrupted": self.interrupted,
        })
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1} us"));
        let pct =
            |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.1} %", v * 100.0));
        writeln!(f, "frames     {} ({} skipped)", self.frames, self.skipped)?;
        match self.accuracy() {
            Some(a) => writeln!(
                f,
                "accuracy   {:.1} % ({} of {} labelled frames)",
                a * 100.0,
                self.correct,
                self.labelled
            )?,
            None => writeln!(f, "accuracy   - (no labelled frames)")?,
        }
        if self.shift.is_some() {
            let w = self.window_ranges();
            writeln!(
                f,
                "windows    {} before the shift, {} after it, {} at the end",
                pct(self.outcomes.accuracy(w.before_shift)),
                pct(w.after_shift.and_then(|r| self.outcomes.accuracy(r))),
                pct(self.outcomes.accuracy(w.end))
            )?;
        }
        if self.adapt.mode.learns() {
            writeln!(
                f,
                "learning   {}: {} steps, {} rolled back, {} label steps, {} units recruited",
                self.adapt.mode,
                self.adaptation_steps,
                self.rollbacks,
                self.label_steps,
                self.recruited_units
            )?;
        }
        writeln!(
            f,
            "time       {} inference, {} per frame, {:.1} fps",
            us(self.mean_infer_us()),
            us(self.mean_frame_us()),
            self.fps()
        )?;
        if let Some(budget) = self.frame_budget {
            writeln!(
                f,
                "budget     {} of {} frames over {} us",
                self.budget_misses,
                self.frames,
                budget.as_micros()
            )?;
        }
        writeln!(
            f,
            "memory     {} KiB peak ({} KiB of weights)",
            self.peak_memory_bytes.div_ceil(1024),
            self.model_bytes.div_ceil(1024)
        )?;
        if let Some(status) = &self.persistence {
            writeln!(f, "state      {status}; saves: {}", self.persist_count)?;
        }
        write!(
            f,
            "model      {} ({})",
            self.model,
            precision_name(self.precision)
        )?;
        if let Some(gif) = &self.gif {
            write!(
                f,
                "\ndisplay    {} ({} snapshots)",
                gif.display(),
                self.snapshots
            )?;
        }
        Ok(())
    }
}

/// Bad frames in a row after which a live camera ([`Camera::is_live`]) counts as broken and
/// the run stops with [`Error::BadFrames`]. Why: the loop skips a bad frame and goes on, as
/// firmware must, but a producer writing the wrong size or a dead sensor gives nothing but bad
/// frames, and the device then ran for ever (and `--frames N` counts good frames only). A
/// thousand is half a minute at 30 fps: far more than a glitch, soon enough to notice.
pub const MAX_BAD_FRAMES_IN_A_ROW: u64 = 1000;

/// Runs the device loop until the camera ends, the frame limit is reached or a stop is
/// requested. Warnings and progress go to `log`; errors that stop the device (a display folder
/// that cannot be written, a live camera that gives only bad frames) are returned.
pub fn run(
    pipeline: &mut Pipeline,
    camera: &mut dyn Camera,
    options: &RunOptions,
    log: &mut dyn Write,
) -> Result<Summary, Error> {
    let spec = pipeline.engine().spec().clone();
    let mut summary = Summary::new(&spec.name, pipeline.engine().precision());
    summary.adapt = options.adapt;
    summary.model_bytes = pipeline.engine().memory_bytes();
    summary.frame_budget = options.frame_budget;
    summary.shift = options.shift.clone().or_else(|| camera.shift());
    let mut frames_log = match &options.frames_log {
        Some(path) => Some(FramesLog::create(path)?),
        None => None,
    };
    let limit = options.frames.or_else(|| camera.default_frames());
    summary.outcomes = Outcomes::with_capacity(limit.unwrap_or(0));
    let mut screen = match &options.display {
        Some(d) => Some((Framebuffer::new(), Recorder::new(&d.dir, d.snapshot_every)?)),
        None => None,
    };
    let adapt = options.adapt;
    if adapt.mode.learns() && adapt.align_horizon > 0 {
        pipeline.enable_alignment(DEFAULT_CALIBRATION_FRAMES, adapt.align_horizon);
    }
    let recruited = |p: &Pipeline| p.engine().adaptive().map_or(0, |m| m.recruited_units());
    let recruited_before = recruited(pipeline);
    let mut presses = SplitMix64::new(adapt.seed ^ LABEL_STREAM);
    // Persistence only when there is something to keep: a learning adaptive engine.
    let persist = options
        .persist
        .as_ref()
        .filter(|_| adapt.mode.learns() && pipeline.engine().adaptive().is_some());
    let frames_before = options.persist.as_ref().map_or(0, |p| p.frames_seen);
    let mut saved_at = 0;
    let mut largest_frame = 0;
    let mut frame_secs: Option<f32> = None;
    let mut drift = options
        .persist
        .as_ref()
        .and_then(|p| p.drift)
        .unwrap_or_default();
    let mut confidences = vec![0.0f32; spec.output_len()];
    let mut baseline = match (options.baseline, pipeline.hidden()) {
        (None, _) => None,
        (Some(b), Some(code)) => Some((b, Baseline::new(b.kind, code.len(), spec.output_len()))),
        (Some(b), None) => {
            return Err(Error::Baseline(format!(
                "--baseline {b} reads a Krotov model's hidden code; this model has none"
            )));
        }
    };
    summary.baseline = options.baseline;
    let start = Instant::now();
    // Bad frames since the last good one, and what was wrong with the latest.
    let (mut bad_in_a_row, mut broken) = (0u64, None::<String>);
    let live = camera.is_live();

    while limit.is_none_or(|n| summary.frames < n) {
        if options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            let _ = writeln!(log, "stop requested after {} frames", summary.frames);
            summary.interrupted = true;
            break;
        }
        let t0 = Instant::now();
        let frame = match camera.next_frame() {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                let _ = writeln!(log, "warning: skipped a frame: {e}");
                summary.skipped += 1;
                bad_in_a_row += 1;
                if live && bad_in_a_row >= MAX_BAD_FRAMES_IN_A_ROW {
                    broken = Some(e.to_string());
                    break;
                }
                continue;
            }
        };
        let captured = t0.elapsed();
        largest_frame = largest_frame.max(frame.data.capacity());
        let (mut prediction, times) = match pipeline.run(&frame) {
            Ok(result) => result,
            Err(e) => {
                let _ = writeln!(log, "warning: skipped frame {}: {e}", summary.frames);
                summary.skipped += 1;
                camera.recycle(frame);
                bad_in_a_row += 1;
                if live && bad_in_a_row >= MAX_BAD_FRAMES_IN_A_ROW {
                    broken = Some(e.to_string());
                    break;
                }
                continue;
            }
        };
        bad_in_a_row = 0;
        let shipped_class = prediction.class;
        if let Some((_, learner)) = &baseline
            && let Some(class) = pipeline.hidden().and_then(|h| learner.predict(h))
        {
            prediction.class = class;
        }
        drift.observe(prediction.confidence);
        if screen.is_some() {
            pipeline.engine().class_confidences(&mut confidences);
        }
        let right = frame
            .label
            .map(|label| usize::from(label) == prediction.class);
        if let Some(right) = right {
            summary.labelled += 1;
            summary.correct += u64::from(right);
        }
        summary.outcomes.push(right);

        // Learning: the label step uses this frame's inference, so it goes first.
        let t_adapt = Instant::now();
        let steps_before = summary.adaptation_steps + summary.label_steps;
        if adapt.mode.learns() {
            if let (AdaptMode::Labels(rate), Some(label)) = (adapt.mode, frame.label)
                && presses.next_f32() < rate
            {
                let label = usize::from(label);
                match pipeline.adapt_label(label, adapt.eta, adapt.label_eps, adapt.recruit) {
                    Ok(stepped) => {
                        summary.label_steps += u64::from(stepped);
                        summary.recruited_units = recruited(pipeline) - recruited_before;
                    }
                    Err(e) => {
                        let _ = writeln!(log, "warning: label step failed: {e}");
                    }
                }
            }
            let rate_scale = pipeline.engine().adaptive().map_or(1.0, |m| m.rate_scale());
            let eps = adapt.eps * drift.learning_scale(adapt.eps_settle) * rate_scale;
            match pipeline.adapt_unsupervised(eps) {
                Ok(Some(StepOutcome::Updated { .. })) => summary.adaptation_steps += 1,
                Ok(Some(StepOutcome::RolledBack)) => summary.rollbacks += 1,
                Ok(_) => {}
                Err(e) => {
                    let _ = writeln!(log, "warning: learning step failed: {e}");
                }
            }
        }
        if let Some((spec, learner)) = &mut baseline
            && let Some(code) = pipeline.hidden()
        {
            let pressed = frame.label.filter(|_| presses.next_f32() < spec.rate);
            if let Some(label) = pressed {
                learner.learn(code, usize::from(label));
                summary.label_steps += 1;
            } else if summary.frames < BASELINE_WARMUP_FRAMES {
                learner.learn(code, shipped_class);
            }
        }
        let adapt_time = t_adapt.elapsed();
        if let Some(frames) = &mut frames_log {
            let shifted = summary
                .shift
                .as_ref()
                .is_some_and(|s| s.contains(&summary.frames));
            frames.write(
                &FrameRecord {
                    index: summary.frames,
                    label: frame.label,
                    prediction: prediction.class,
                    confidence: prediction.confidence,
                    learned: summary.adaptation_steps + summary.label_steps > steps_before,
                    drift: drift.drift(),
                    shifted,
                },
                log,
            );
        }

        let t_display = Instant::now();
        if let Some((fb, recorder)) = &mut screen {
            let state = ScreenState {
                frame: &frame,
                input: InputView {
                    pixels: pipeline.input_pixels(),
                    width: spec.input.width,
                    height: spec.input.height,
                    channels: spec.input.channels,
                },
                prediction,
                classes: &spec.classes,
                truth: frame.label,
                fps: frame_secs.map_or(0.0, |s| 1.0 / s),
                frame_index: summary.frames,
                model_name: &spec.name,
                precision: summary.precision,
                learning: adapt.mode.learns().then_some(Learning {
                    steps: summary.adaptation_steps,
                    label_steps: summary.label_steps,
                }),
                confidences: &confidences,
                drift: drift.drift(),
                memory_bytes: summary.model_bytes
                    + pipeline.buffer_bytes()
                    + frame.data.capacity()
                    + DISPLAY_BYTES,
            };
            // Drawing into the in-memory framebuffer cannot fail (its error type is Infallible).
            let Ok(()) = draw_screen(fb, &state);
            recorder.record(summary.frames, fb)?;
        }
        camera.recycle(frame);

        summary.capture += captured;
        summary.preprocess += times.preprocess;
        summary.infer += times.infer;
        summary.adapt_time += adapt_time;
        summary.display += t_display.elapsed();
        let elapsed = t0.elapsed();
        if options.frame_budget.is_some_and(|b| elapsed > b) {
            summary.budget_misses += 1;
        }
        let secs = elapsed.as_secs_f32();
        frame_secs = Some(frame_secs.map_or(secs, |s| s + FPS_SMOOTHING * (secs - s)));
        summary.frames += 1;
        if let Some(p) = persist
            && summary.frames.is_multiple_of(p.every)
        {
            save(pipeline, p, frames_before, &drift, &mut summary, log);
            saved_at = summary.frames;
        }
        if summary.frames.is_multiple_of(PROGRESS_EVERY) {
            let _ = writeln!(log, "frame {}: {}", summary.frames, progress(&summary));
        }
    }
    if let Some(p) = persist
        && saved_at != summary.frames
    {
        save(pipeline, p, frames_before, &drift, &mut summary, log);
    }
    summary.wall = start.elapsed();
    summary.frames_seen = frames_before + summary.frames;
    if let Some(m) = pipeline.engine().adaptive() {
        summary.guard = m.guard_stats();
        summary.anchor_bytes = m.anchor_bytes();
    }
    if let Some(frames) = frames_log {
        frames.finish(log);
    }
    warn_about_the_stream(&summary, log);
    summary.peak_memory_bytes = summary.model_bytes
        + pipeline.buffer_bytes()
        + largest_frame
        + if screen.is_some() { DISPLAY_BYTES } else { 0 };
    summary.peak_rss_kb = peak_rss_kb();
    if let Some((_, recorder)) = screen {
        summary.snapshots = recorder.snapshots();
        summary.gif = recorder.finish()?;
    }
    // What was learned is saved above; the run still fails, so that a script sees it.
    if let Some(last) = broken {
        return Err(Error::BadFrames {
            count: bad_in_a_row,
            last,
        });
    }
    Ok(summary)
}

/// Saves the adaptive engine's state ([`write_state`]); a failure is logged and the device runs
/// on with the last good state on disk (a full card, or a state that would not load again,
/// must not stop the camera).
fn save(
    pipeline: &Pipeline,
    options: &PersistOptions,
    frames_before: u64,
    drift: &DriftMonitor,
    summary: &mut Summary,
    log: &mut dyn Write,
) {
    let Some(model) = pipeline.engine().adaptive() else {
        return;
    };
    let train = serde_json::json!({
        "frames_seen": frames_before + summary.frames,
        "adapt": summary.adapt.mode.to_string(),
        "eps": summary.adapt.eps,
        "eps_settle": summary.adapt.eps_settle,
        "eta": summary.adapt.eta,
        "label_eps": summary.adapt.label_eps,
        "recruit": summary.adapt.recruit,
        "align_horizon": summary.adapt.align_horizon,
        "drift": drift.to_json(),
    });
    let metrics = serde_json::json!({
        "frames": summary.frames,
        "accuracy": summary.accuracy(),
        "adaptation_steps": summary.adaptation_steps,
        "rollbacks": summary.rollbacks,
        "label_steps": summary.label_steps,
        "recruited_units": summary.recruited_units,
    });
    match write_state(&options.path, &model.checkpoint(train, metrics)) {
        Ok(()) => summary.persist_count += 1,
        Err(e) => {
            let _ = writeln!(
                log,
                "warning: could not save the state to `{}`: {e}",
                options.path.display()
            );
        }
    }
}

/// Tells the user when the stream made part of what they asked for meaningless: a shift that
/// starts after the last frame, labels asked for on a stream that has none.
fn warn_about_the_stream(summary: &Summary, log: &mut dyn Write) {
    if let Some(shift) = &summary.shift
        && shift.start >= summary.frames
    {
        let _ = writeln!(
            log,
            "warning: the shift starts at frame {} but the stream had {} frames: there is no \
             after-shift window (give --shift-at a frame index below {})",
            shift.start, summary.frames, summary.frames
        );
    }
    if let AdaptMode::Labels(rate) = summary.adapt.mode
        && summary.labelled == 0
        && summary.frames > 0
    {
        let _ = writeln!(
            log,
            "warning: --adapt labels:{rate} but no frame of this stream had a label, so no label \
             step was taken (a dir: camera reads labels from names like 0000_7.png; stdin: and \
             v4l2: frames have none)"
        );
    }
}

/// The process's peak resident set size in KiB (`VmHWM` of `/proc/self/status`); `None` where
/// there is no such file.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn progress(summary: &Summary) -> String {
    match summary.accuracy() {
        Some(a) => format!("accuracy so far {a:.3}"),
        None => "no labels".into(),
    }
}

/// An f32 as the f64 with the same shortest decimal form (0.01, not 0.009999999776482582).
fn shortest(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

fn round(value: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (value * k).round() / k
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A camera that gives `bad` bad frames (then ends), live or not.
    struct Broken {
        live: bool,
        bad: u64,
        given: u64,
    }

    impl Camera for Broken {
        fn next_frame(&mut self) -> Option<Result<crate::Frame, crate::CameraError>> {
            if self.given == self.bad {
                return None;
            }
            self.given += 1;
            Some(Err(crate::CameraError::ShortFrame {
                frame: self.given,
                got: 3,
                expected: 784,
            }))
        }

        fn is_live(&self) -> bool {
            self.live
        }
    }

    fn pipeline() -> Pipeline {
        Pipeline::new(crate::loader::load_model(None).unwrap()).unwrap()
    }

    /// A live camera that gives only bad frames stops the run with an error after
    /// `MAX_BAD_FRAMES_IN_A_ROW` of them, even with `--frames` set (which counts good frames);
    /// it used to skip for ever.
    #[test]
    fn a_live_camera_with_only_bad_frames_stops_the_run() {
        let mut camera = Broken {
            live: true,
            bad: u64::MAX,
            given: 0,
        };
        let options = RunOptions {
            frames: Some(10),
            ..RunOptions::default()
        };
        let mut log = Vec::new();
        let err = run(&mut pipeline(), &mut camera, &options, &mut log).unwrap_err();
        assert_eq!(camera.given, MAX_BAD_FRAMES_IN_A_ROW);
        assert!(matches!(
            err,
            Error::BadFrames {
                count: MAX_BAD_FRAMES_IN_A_ROW,
                ..
            }
        ));
        let text = err.to_string();
        assert!(
            text.starts_with("the camera gave 1000 bad frames in a row and no good one; stopping")
                && text.contains("got 3 of 784 bytes"),
            "{text}"
        );
    }

    /// Files and scenarios are finite: a folder of many undecodable files is skipped through,
    /// as before.
    #[test]
    fn a_finite_source_with_many_bad_frames_is_skipped_through() {
        let mut camera = Broken {
            live: false,
            bad: MAX_BAD_FRAMES_IN_A_ROW + 5,
            given: 0,
        };
        let mut log = Vec::new();
        let summary = run(
            &mut pipeline(),
            &mut camera,
            &RunOptions::default(),
            &mut log,
        )
        .unwrap();
        assert_eq!(summary.skipped, MAX_BAD_FRAMES_IN_A_ROW + 5);
        assert_eq!(summary.frames, 0);
    }

    #[test]
    fn json_has_the_contract_fields_and_null_accuracy_without_labels() {
        let mut s = Summary::new("m", Precision::Int8);
        let json = s.to_json();
        for key in [
            "frames",
            "labelled",
            "correct",
            "accuracy",
            "skipped",
            "mean_infer_us",
            "mean_frame_us",
            "fps",
            "model",
            "precision",
            "windows",
            "adaptation_steps",
            "rollbacks",
            "label_steps",
            "recruited_units",
            "budget_misses",
            "peak_memory_bytes",
            "peak_rss_kb",
            "persist_count",
        ] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
        assert!(json["accuracy"].is_null());
        assert!(
            json["windows"]["before_shift"].is_null() && json["windows"]["after_shift"].is_null()
        );
        assert!(json["budget_misses"].is_null(), "no budget, no misses");
        assert_eq!(json["precision"], "int8");
        s.frames = 4;
        s.labelled = 4;
        s.correct = 3;
        for right in [true, false, true, true] {
            s.outcomes.push(Some(right));
        }
        s.shift = Some(2..4);
        s.infer = Duration::from_micros(10);
        s.wall = Duration::from_secs(2);
        let json = s.to_json();
        assert_eq!(json["accuracy"], 0.75);
        assert_eq!(json["mean_infer_us"], 2.5);
        assert_eq!(json["fps"], 2.0);
        assert_eq!(json["windows"]["before_shift"], 0.5);
        assert_eq!(json["windows"]["after_shift"], 1.0);
        assert_eq!(json["windows"]["end"], 1.0);
        assert_eq!(json["window_frames"]["end"], serde_json::json!([3, 4]));
        assert_eq!(
            json["accuracy_per_block"]["accuracy"],
            serde_json::json!([0.75])
        );
        // 250 frames: blocks of 100 (3 + 48 right), 100 (no labels) and 50 (25 right).
        for i in 4..250 {
            s.outcomes
                .push((!(100..200).contains(&i)).then_some(i % 2 == 0));
        }
        assert_eq!(s.block_accuracies(), [Some(0.51), None, Some(0.5)]);
        let text = s.to_string();
        assert!(
            text.contains("75.0 %") && text.contains("50.0 % before the shift"),
            "{text}"
        );
    }
}
