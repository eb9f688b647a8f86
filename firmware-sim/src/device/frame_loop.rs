//! The frame loop ([`run`]): capture, preprocess, infer, learn, display, count, persist.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::options::RunOptions;
use super::save::save;
use super::summary::Summary;
use crate::adapt::AdaptMode;
use crate::baseline::Baseline;
use crate::camera::Camera;
use crate::display::{self, Framebuffer, InputView, Learning, Recorder, ScreenState, draw_screen};
use crate::error::Error;
use crate::frames_log::{FrameRecord, FramesLog};
use crate::input_record::InputRecorder;
use crate::pipeline::{Pipeline, UnsupervisedStep};
use crate::rng::SplitMix64;
use crate::windows::Outcomes;

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
    summary.readout_engine = pipeline.engine().is_readout();
    summary.frame_budget = options.frame_budget;
    summary.shift = options.shift.clone().or_else(|| camera.shift());
    let mut frames_log = match &options.frames_log {
        Some(path) => Some(FramesLog::create(path)?),
        None => None,
    };
    let mut input_record = match &options.record_inputs {
        Some(dir) => Some(InputRecorder::create(
            dir,
            spec.input.channels,
            spec.input.height,
            spec.input.width,
        )?),
        None => None,
    };
    let limit = options.frames.or_else(|| camera.default_frames());
    summary.outcomes = Outcomes::with_capacity(limit.unwrap_or(0));
    let mut screen = match &options.display {
        Some(d) => Some((Framebuffer::new(), Recorder::new(&d.dir, d.snapshot_every)?)),
        None => None,
    };
    let adapt = options.adapt;
    if adapt.mode.learns() {
        pipeline.enable_policy(&adapt.policy)?;
    }
    let recruited = |p: &Pipeline| p.engine().adaptive().map_or(0, |m| m.recruited_units());
    let recruited_before = recruited(pipeline);
    let mut presses = SplitMix64::new(adapt.seed ^ LABEL_STREAM);
    // Persistence only when there is something to keep: a learning engine that learns.
    let persist = options
        .persist
        .as_ref()
        .filter(|_| adapt.mode.learns() && pipeline.engine().learns());
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
                "--baseline {b} reads the input of the model's readout; a one-layer model has none"
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
        let mut frame = match camera.next_frame() {
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
        if let Some(label) = frame.label
            && usize::from(label) >= spec.output_len()
        {
            // A label the model has no class for can be neither scored nor taught: the frame
            // plays unlabelled (and the first such frame is named).
            if summary.foreign_labels == 0 {
                let _ = writeln!(
                    log,
                    "warning: frame {} is labelled {label}, but the model has {} classes \
                     (0 to {}): such frames play unlabelled",
                    summary.frames,
                    spec.output_len(),
                    spec.output_len().saturating_sub(1)
                );
            }
            summary.foreign_labels += 1;
            frame.label = None;
        }
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
        if let Some(record) = &mut input_record {
            record.record(pipeline.input_pixels(), frame.label, log);
        }
        // Both models' answers as given, before a label step can run the frame again.
        let judgement = pipeline.engine().last_judgement();
        let shipped_class = prediction.class;
        if let Some((_, learner)) = &baseline
            && let Some(class) = pipeline.hidden().and_then(|h| learner.predict(h))
        {
            prediction.class = class;
        }
        // A frame without a digit says nothing of how the digits' view drifts.
        if pipeline.saw_a_digit() == Some(false) {
            summary.frames_without_digit += 1;
        } else {
            drift.observe(prediction.confidence);
        }
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
                Ok(UnsupervisedStep::Stepped) => summary.adaptation_steps += 1,
                Ok(UnsupervisedStep::RolledBack) => summary.rollbacks += 1,
                Ok(UnsupervisedStep::None) => {}
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
                    warp: pipeline.applied_warp(),
                    orientation: pipeline.orientation().map(|r| r.found),
                    judgement,
                    digit: pipeline.saw_a_digit(),
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
                digit: pipeline.saw_a_digit(),
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
    summary.frames_seen = super::save::frames_seen(frames_before, summary.frames);
    summary.guard = pipeline.engine().guard_stats();
    summary.orientation = pipeline.orientation();
    summary.anchor_bytes = pipeline.engine().anchor_bytes();
    if let Some(m) = pipeline.engine().adaptive() {
        summary.digit_warp = m.digit_alignment().map(|_| m.digit_warp());
    }
    if let Some(frames) = frames_log {
        frames.finish(log);
    }
    if let (Some(record), Some(dir)) = (input_record, &options.record_inputs) {
        let (recorded, unlabelled) = record.finish(log);
        let _ = writeln!(
            log,
            "recorded the model's input of {recorded} labelled frames in `{}`{}",
            dir.display(),
            if unlabelled > 0 {
                format!(" ({unlabelled} frames without a label left out)")
            } else {
                String::new()
            }
        );
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

/// Tells the user when the stream made part of what they asked for meaningless: a shift that
/// starts after the last frame, labels asked for on a stream that has none.
fn warn_about_the_stream(summary: &Summary, log: &mut dyn Write) {
    if summary.foreign_labels > 1 {
        let _ = writeln!(
            log,
            "warning: {} frames had a label the model has no class for and played unlabelled",
            summary.foreign_labels
        );
    }
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
}
