//! The device loop: capture, preprocess, infer, display, count.
//!
//! Why a loop with its own clock: on the device what matters is the time each stage takes per
//! frame (a 30 fps camera leaves 33 ms for everything), so each stage is timed with
//! [`Instant`] and the summary reports means per stage next to the accuracy. A bad frame (an
//! undecodable file) is logged, counted as skipped, and the loop goes on, as firmware must.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use plastic_runtime::Precision;

use crate::camera::Camera;
use crate::display::{Framebuffer, InputView, Recorder, ScreenState, draw_screen};
use crate::error::Error;
use crate::pipeline::{Pipeline, precision_name};

/// Log a progress line every this many frames.
const PROGRESS_EVERY: u64 = 100;
/// Weight of the newest frame in the on-screen frame-rate average.
const FPS_SMOOTHING: f32 = 0.1;

/// What a run does besides inference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Stop after this many frames (`None`: the camera's default, see
    /// [`Camera::default_frames`]).
    pub frames: Option<u64>,
    /// Draw the screen and save it here.
    pub display: Option<DisplayOptions>,
}

/// Where and how often the screen is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayOptions {
    /// Folder for `frame_NNNNN.png` and `display.gif`.
    pub dir: PathBuf,
    /// Save every this many frames (1: every frame).
    pub snapshot_every: u64,
}

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
    /// Time spent drawing and saving the screen.
    pub display: Duration,
    /// Time of the whole loop, skipped frames included.
    pub wall: Duration,
    /// The model's name.
    pub model: String,
    /// The model's precision.
    pub precision: Precision,
    /// Screen snapshots saved.
    pub snapshots: u64,
    /// The animated GIF, when one was written.
    pub gif: Option<PathBuf>,
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
            display: Duration::ZERO,
            wall: Duration::ZERO,
            model: model.into(),
            precision,
            snapshots: 0,
            gif: None,
        }
    }

    /// Fraction of labelled frames predicted right; `None` when no frame had a label.
    pub fn accuracy(&self) -> Option<f64> {
        (self.labelled > 0).then(|| self.correct as f64 / self.labelled as f64)
    }

    /// Mean of a per-frame total in microseconds; `None` before the first frame.
    fn mean_us(&self, total: Duration) -> Option<f64> {
        (self.frames > 0).then(|| round(total.as_secs_f64() * 1e6 / self.frames as f64, 1))
    }

    /// Mean time of one frame through every stage, in microseconds.
    pub fn mean_frame_us(&self) -> Option<f64> {
        self.mean_us(self.capture + self.preprocess + self.infer + self.display)
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
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "frames": self.frames,
            "labelled": self.labelled,
            "correct": self.correct,
            "accuracy": self.accuracy(),
            "skipped": self.skipped,
            "mean_infer_us": self.mean_infer_us(),
            "mean_frame_us": self.mean_frame_us(),
            "mean_capture_us": self.mean_us(self.capture),
            "mean_preprocess_us": self.mean_us(self.preprocess),
            "mean_display_us": self.mean_us(self.display),
            "fps": self.fps(),
            "model": self.model,
            "precision": precision_name(self.precision),
            "snapshots": self.snapshots,
            "gif": self.gif.as_ref().map(|p| p.display().to_string()),
        })
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1} us"));
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
        writeln!(
            f,
            "time       {} inference, {} per frame, {:.1} fps",
            us(self.mean_infer_us()),
            us(self.mean_frame_us()),
            self.fps()
        )?;
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

/// Runs the device loop until the camera ends or the frame budget is spent. Warnings and
/// progress go to `log`; errors that stop the device (a display folder that cannot be written)
/// are returned.
pub fn run(
    pipeline: &mut Pipeline,
    camera: &mut dyn Camera,
    options: &RunOptions,
    log: &mut dyn Write,
) -> Result<Summary, Error> {
    let spec = pipeline.model().spec().clone();
    let mut summary = Summary::new(&spec.name, pipeline.model().precision());
    let limit = options.frames.or_else(|| camera.default_frames());
    let mut screen = match &options.display {
        Some(d) => Some((Framebuffer::new(), Recorder::new(&d.dir, d.snapshot_every)?)),
        None => None,
    };
    let mut frame_secs: Option<f32> = None;
    let start = Instant::now();

    while limit.is_none_or(|n| summary.frames < n) {
        let t0 = Instant::now();
        let frame = match camera.next_frame() {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                let _ = writeln!(log, "warning: skipped a frame: {e}");
                summary.skipped += 1;
                continue;
            }
        };
        let captured = t0.elapsed();
        let (prediction, times) = match pipeline.run(&frame) {
            Ok(result) => result,
            Err(e) => {
                let _ = writeln!(log, "warning: skipped frame {}: {e}", summary.frames);
                summary.skipped += 1;
                camera.recycle(frame);
                continue;
            }
        };
        if let Some(label) = frame.label {
            summary.labelled += 1;
            summary.correct += u64::from(usize::from(label) == prediction.class);
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
            };
            // Drawing into the in-memory framebuffer cannot fail (its error type is Infallible).
            let Ok(()) = draw_screen(fb, &state);
            recorder.record(summary.frames, fb)?;
        }
        camera.recycle(frame);

        summary.capture += captured;
        summary.preprocess += times.preprocess;
        summary.infer += times.infer;
        summary.display += t_display.elapsed();
        let secs = t0.elapsed().as_secs_f32();
        frame_secs = Some(frame_secs.map_or(secs, |s| s + FPS_SMOOTHING * (secs - s)));
        summary.frames += 1;
        if summary.frames.is_multiple_of(PROGRESS_EVERY) {
            let _ = writeln!(log, "frame {}: {}", summary.frames, progress(&summary));
        }
    }
    summary.wall = start.elapsed();
    if let Some((_, recorder)) = screen {
        summary.snapshots = recorder.snapshots();
        summary.gif = recorder.finish()?;
    }
    Ok(summary)
}

fn progress(summary: &Summary) -> String {
    match summary.accuracy() {
        Some(a) => format!("accuracy so far {a:.3}"),
        None => "no labels".into(),
    }
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
        ] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
        assert!(json["accuracy"].is_null());
        assert_eq!(json["precision"], "int8");
        s.frames = 4;
        s.labelled = 4;
        s.correct = 3;
        s.infer = Duration::from_micros(10);
        s.wall = Duration::from_secs(2);
        let json = s.to_json();
        assert_eq!(json["accuracy"], 0.75);
        assert_eq!(json["mean_infer_us"], 2.5);
        assert_eq!(json["fps"], 2.0);
        assert!(s.to_string().contains("75.0 %"));
    }
}
