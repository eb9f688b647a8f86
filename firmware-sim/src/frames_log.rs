//! `--frames-log FILE`: one JSON line per frame, so a user can measure their own stream.
//!
//! Why a line per frame: the summary's windows answer the questions this project asks (before
//! the shift, just after it, at the end); a user with their own stream has other ones (how fast
//! did it recover, which classes broke, when did the drift indicator fire). A JSON line per
//! frame is read by `plastic viz frames`, pandas or `jq`, and a run cut short leaves every line
//! written so far readable.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use plastic_runtime::guard::{Answer, Judgement};

use crate::error::Error;

/// What one frame's line holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameRecord {
    /// 0-based index of the frame in this run.
    pub index: u64,
    /// The true class, when the source knows it.
    pub label: Option<u8>,
    /// The class the device answered.
    pub prediction: usize,
    /// The answer's confidence (see [`plastic_runtime::Prediction`]).
    pub confidence: f32,
    /// Whether the device changed its weights on this frame (a Krotov step or a label step).
    pub learned: bool,
    /// The drift indicator after this frame (see [`crate::drift::DriftMonitor::drift`]).
    pub drift: f32,
    /// Whether the frame lies in the stream's shift (`--shift-at` or the scenario's).
    pub shifted: bool,
    /// The warp the learning model read this frame's digit through, when it was warped (see
    /// [`plastic_runtime::digit_align`]).
    pub warp: Option<plastic_runtime::digit_warp::Warp>,
    /// The orientation the learning device read this frame in, when it looks for the camera's
    /// (see [`plastic_runtime::orientation`]).
    pub orientation: Option<plastic_runtime::orientation::Orientation>,
    /// Both models' answers and whose was given, when the device runs the shipped model beside
    /// the learning one (see [`plastic_runtime::guard`]).
    pub judgement: Option<Judgement>,
    /// Whether the framed picture had a digit's shape, for a model of MNIST-framed digits
    /// (see [`plastic_runtime::digit_shape`]): a frame without one still gets the model's
    /// answer, but a learning device learns nothing from it without a label.
    pub digit: Option<bool>,
}

impl FrameRecord {
    /// The record as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "frame": self.index,
            "label": self.label,
            "prediction": self.prediction,
            "correct": self.label.map(|l| usize::from(l) == self.prediction),
            "confidence": round4(self.confidence),
            "learned": self.learned,
            "drift": round4(self.drift),
            "shifted": self.shifted,
            "warp": self.warp.map(|w| serde_json::json!({
                "angle": round4(w.angle),
                "width": round4(w.width),
            })),
            "orientation": self.orientation.map(|o| o.name()),
            "digit": self.digit,
            "anchor": self.judgement.map(|j| answer_json(j.anchor)),
            "adapted": self.judgement.map(|j| answer_json(j.adapted)),
            "answered_by": self.judgement.map(|j| match j.answer {
                Answer::Anchor => "anchor",
                Answer::Adapted => "adapted",
            }),
        })
    }
}

/// One model's `(class, confidence)` as `{"prediction", "confidence"}`.
fn answer_json((class, confidence): (usize, f32)) -> serde_json::Value {
    serde_json::json!({"prediction": class, "confidence": round4(confidence)})
}

fn round4(v: f32) -> f64 {
    (f64::from(v) * 1e4).round() / 1e4
}

/// The open log. A write that fails (a full disk) is reported once and logging stops; the
/// device goes on, as it does when a state save fails.
#[derive(Debug)]
pub struct FramesLog {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl FramesLog {
    /// Creates (or truncates) the file before the first frame, so a path that cannot be
    /// written stops the run before it starts.
    pub fn create(path: &Path) -> Result<Self, Error> {
        let file = File::create(path).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            out: Some(BufWriter::new(file)),
        })
    }

    /// Appends one frame's line.
    pub fn write(&mut self, record: &FrameRecord, log: &mut dyn Write) {
        let Some(out) = &mut self.out else {
            return;
        };
        if let Err(e) = writeln!(out, "{}", record.to_json()) {
            self.fail(&e, log);
        }
    }

    /// Flushes what is buffered.
    pub fn finish(mut self, log: &mut dyn Write) {
        if let Some(out) = &mut self.out
            && let Err(e) = out.flush()
        {
            self.fail(&e, log);
        }
    }

    fn fail(&mut self, e: &std::io::Error, log: &mut dyn Write) {
        let _ = writeln!(
            log,
            "warning: could not write the frames log `{}`: {e}; the device goes on without it",
            self.path.display()
        );
        self.out = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_json_object_with_correctness_derived() {
        let r = FrameRecord {
            index: 7,
            label: Some(3),
            prediction: 3,
            confidence: 0.912_34,
            learned: true,
            drift: 0.0,
            shifted: false,
            warp: None,
            orientation: None,
            judgement: None,
            digit: None,
        };
        let j = r.to_json();
        assert_eq!(j["frame"], 7);
        assert_eq!(j["correct"], true);
        assert_eq!(j["confidence"], 0.9123);
        assert!(j["warp"].is_null());
        assert!(j["orientation"].is_null());
        let turned = FrameRecord {
            orientation: Some(plastic_runtime::orientation::Orientation::new(1, false)),
            ..r
        };
        assert_eq!(turned.to_json()["orientation"], "turned-90");
        assert!(j["anchor"].is_null() && j["adapted"].is_null() && j["answered_by"].is_null());
        assert!(j["digit"].is_null());
        let no_digit = FrameRecord {
            digit: Some(false),
            ..r
        };
        assert_eq!(no_digit.to_json()["digit"], false);
        let unlabelled = FrameRecord { label: None, ..r }.to_json();
        assert!(unlabelled["label"].is_null() && unlabelled["correct"].is_null());
        let warp = plastic_runtime::digit_warp::Warp {
            angle: -0.123_45,
            width: -0.5,
        };
        let warped = FrameRecord {
            warp: Some(warp),
            ..r
        }
        .to_json();
        assert_eq!(
            warped["warp"],
            serde_json::json!({"angle": -0.1235, "width": -0.5})
        );
        let judged = FrameRecord {
            judgement: Some(Judgement {
                anchor: (5, 0.612_34),
                adapted: (3, 0.912_34),
                answer: Answer::Adapted,
            }),
            ..r
        }
        .to_json();
        assert_eq!(
            judged["anchor"],
            serde_json::json!({"prediction": 5, "confidence": 0.6123})
        );
        assert_eq!(judged["adapted"]["prediction"], 3);
        assert_eq!(judged["answered_by"], "adapted");
    }

    #[test]
    fn a_log_that_cannot_be_created_is_an_error_and_lines_are_written() {
        let dir = std::env::temp_dir().join(format!("plastic-frames-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(
            FramesLog::create(&dir.join("missing/folder/log.jsonl")),
            Err(Error::Write { .. })
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.jsonl");
        let mut log = FramesLog::create(&path).unwrap();
        let mut sink = Vec::new();
        for index in 0..3 {
            let record = FrameRecord {
                index,
                label: None,
                prediction: 1,
                confidence: 0.5,
                learned: false,
                drift: 0.25,
                shifted: index > 0,
                warp: None,
                orientation: None,
                judgement: None,
                digit: None,
            };
            log.write(&record, &mut sink);
        }
        log.finish(&mut sink);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2]["shifted"], true);
        assert!(sink.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
