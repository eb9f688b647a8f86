//! The totals of a run ([`Summary`]): what `--json` prints and the text summary.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use plastic_runtime::Precision;
use plastic_runtime::guard::GuardStats;

use super::options::AdaptOptions;
use crate::adapt::AdaptMode;
use crate::baseline::BaselineSpec;
use crate::pipeline::precision_name;
use crate::windows::{Outcomes, WindowRanges};

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
    /// Frames whose label (from a file name) is not one of the model's classes: they are
    /// played as unlabelled frames, neither scored nor learned from.
    pub foreign_labels: u64,
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
    /// Whether the model learned through its readout (`plastic_runtime::AdaptiveReadout`):
    /// the Krotov layer's settings do not apply to it, the channels' horizon does.
    pub readout_engine: bool,
    /// Krotov steps that changed the layer.
    pub adaptation_steps: u64,
    /// Krotov steps a guard refused (nothing changed).
    pub rollbacks: u64,
    /// Frames whose framed picture had no digit's shape, for a model of MNIST-framed digits
    /// (see `plastic_runtime::digit_shape`): answered, but a learning device learned nothing
    /// from them without a label.
    pub frames_without_digit: u64,
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
    /// The digit warp in force at the end, when digits were warped.
    pub digit_warp: Option<plastic_runtime::digit_warp::Warp>,
    /// The camera's orientation found by the end, with the turns taken and refused, when the
    /// device looked for it.
    pub orientation: Option<plastic_runtime::orientation::OrientationReport>,
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
    pub(super) fn new(model: &str, precision: Precision) -> Self {
        Self {
            frames: 0,
            labelled: 0,
            correct: 0,
            skipped: 0,
            foreign_labels: 0,
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
            readout_engine: false,
            adaptation_steps: 0,
            rollbacks: 0,
            frames_without_digit: 0,
            label_steps: 0,
            recruited_units: 0,
            baseline: None,
            guard: None,
            anchor_bytes: 0,
            digit_warp: None,
            orientation: None,
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
        // The settings of the learner that ran: a Krotov layer's or a readout's.
        let (krotov, readout) = (
            learns && !self.readout_engine,
            learns && self.readout_engine,
        );
        serde_json::json!({
            "frames": self.frames,
            "labelled": self.labelled,
            "correct": self.correct,
            "accuracy": self.accuracy(),
            "skipped": self.skipped,
            "foreign_labels": self.foreign_labels,
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
            "eps": krotov.then(|| shortest(self.adapt.eps)),
            "eps_settle": krotov.then_some(self.adapt.eps_settle),
            "eta": labels.then(|| shortest(self.adapt.eta)),
            "label_eps": (krotov && labels).then(|| shortest(self.adapt.label_eps)),
            "recruit": (krotov && labels).then_some(self.adapt.recruit),
            "align_horizon": krotov.then_some(self.adapt.policy.align_horizon),
            "channel_horizon": readout.then_some(self.adapt.policy.channel_horizon),
            "conv_rate": readout.then(|| shortest(self.adapt.policy.conv_rate)),
            "adaptation_steps": self.adaptation_steps,
            "rollbacks": self.rollbacks,
            "frames_without_digit": self.frames_without_digit,
            "label_steps": self.label_steps,
            "recruited_units": self.recruited_units,
            "anchor": self.guard.map(|g| serde_json::json!({
                "answers": g.anchor_answers,
                "disagreements": g.disagreements,
                "rollbacks": g.rollbacks,
                "worst_disagreement": shortest(g.worst_disagreement),
            })),
            "anchor_bytes": self.anchor_bytes,
            "digit_warp": self.digit_warp.map(|w| serde_json::json!({
                "angle": shortest(w.angle),
                "width": shortest(w.width),
            })),
            "orientation": self.orientation.map(|r| serde_json::json!({
                "found": r.found.name(),
                "turns": r.turns,
                "refused": r.refused,
            })),
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
            "frames_without_digit",
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
