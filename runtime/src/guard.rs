//! Adaptation that never does much worse than the model the device shipped with.
//!
//! Why: a device that learns from its camera changes its weights on frames nobody checks. On
//! most shifts that helps; on some it does not (units drift toward frames of another class, a
//! label shift pulls the readout toward one class), and a user cannot tell until accuracy has
//! gone. The shipped model is still there (on a device it stays in flash), so the device runs
//! it beside the adapted one as an *anchor* and decides, frame by frame, whose answer to give:
//!
//! - Without labels ([`Arbiter::Confidence`]): the more confident of the two answers (the
//!   adapted model must be [`ANSWER_MARGIN`] surer). Both read their hidden code with readouts
//!   that started equal, so their confidences are on one scale; where learning has made the
//!   adapted model surer of a frame than the shipped one, it answers, and where learning has
//!   led it astray it is rarely surer than a model that still knows the frame. And the device checks the adapted model where it can: on the frames
//!   where the anchor is sure (its confidence above the [`DEFAULT_ANCHOR_QUANTILE`] quantile of
//!   its confidences on the first frames, where it is nearly always right), the two should
//!   agree. If, over a window of such frames, they disagree on more than
//!   [`DEFAULT_MAX_DISAGREEMENT`] of them, the adapted model has broken what the anchor knew,
//!   and the device rolls its weights back to the anchor and halves its learning rate (EATA,
//!   CoTTA and RoTTA anchor or reset test-time adaptation for the same reason).
//!
//!   Measured on the bank of shifts (`python3 bench/shift_bank.py`, seeds 0 to 3): the worst
//!   window against a frozen device is -0.4 points over every scenario and seed; the same
//!   device without the anchor loses up to 3.2 (a camera turn), and before the per-class drift
//!   correction up to 19.5 (a label shift). Letting the anchor answer every frame it is sure of,
//!   whoever is surer, lost up to 8 points (seed 0).
//! - With labels ([`Arbiter::Labels`]): the labels say who is right, and when. The device counts,
//!   for each model and each tenth of the confidence scale, how often that model was right on
//!   the recent labelled frames where it was that sure (before each label step), and answers
//!   each frame with the model more likely right at the confidence it has on it. So a new view
//!   that the adapted model has learned is answered by it, and when the original view returns
//!   the shipped model, sure and right again there, takes those frames back at once instead of
//!   after the labels have caught up. Measured on the bank (seeds 0 to 3): the original view
//!   comes back within 0.8 points of a frozen device on every scenario (up to 3.4 points below
//!   without the anchor), and 5 % of labels win back 15 % of the drop on average (3 % without
//!   the anchor); on `mnist-drift` the anchor costs recovery (40 % of the drop instead of 64 %).
//!   The records describe the view they were filled on: when the device's orientation finder
//!   comes back from a turn held long, they are forgotten ([`Guard::forget_label_records`]).
//!
//! - Without labels, for a change that acts on every frame alike
//!   ([`Arbiter::RecentConfidence`]): the model that has been the surer over the last
//!   [`RECENT_FRAMES`] frames answers them all. A convolutional front end whose channels are
//!   brought back to their training statistics ([`crate::channel_stats`]) is that kind of
//!   change: where it helps, it helps most frames a little, and a frame-by-frame choice kept
//!   the anchor's answers wherever the anchor was confidently wrong. While the recent frames
//!   favour the anchor, a frame the adapted model alone is surer of by [`ANSWER_MARGIN`] is
//!   still its own, so a change that helps only some frames counts where it helps. Measured on the bank
//!   (seeds 1 and 2, see docs/RESULTS.md) and on CIFAR-10 streams of camera changes nothing
//!   was tuned on.
//!
//! What the guard has learned (the threshold, the rate factor, the label records) is saved
//! with the device's state and taken back at the next boot ([`Guard::to_json`]), so a device
//! that has drifted does not calibrate again on the drifted view. While it calibrates, the
//! surer model answers as afterwards; only the disagreement checks wait for the threshold.
//!
//! Costs: one more int8 inference per frame (the anchor's), and the anchor's weights, which a
//! device reads from flash or a memory-mapped file rather than holding in RAM.

use alloc::vec::Vec;
use serde_json::{Value, json};

/// Quantile of the anchor's confidence on the first frames above which the anchor counts as
/// sure, for the disagreement checks: the 70 % of frames the shipped model is surest of.
pub const DEFAULT_ANCHOR_QUANTILE: f32 = 0.3;
/// Largest share of anchor-sure frames on which the adapted model may disagree with the anchor
/// before the device rolls back.
pub const DEFAULT_MAX_DISAGREEMENT: f32 = 0.05;
/// How much surer than the anchor the adapted model must be to answer, without labels. Tuned
/// on seeds 1 and 2 of six bank scenarios (0, 0.02, 0.05): with 0.05 the worst window against
/// a frozen device went from -0.8 to -0.4 points, at a third of the gains.
pub const ANSWER_MARGIN: f32 = 0.05;
/// Anchor-sure frames per disagreement check.
pub const DEFAULT_CHECK_FRAMES: u32 = 200;
/// Frames whose anchor confidences set the threshold.
pub const DEFAULT_GUARD_CALIBRATION: u32 = 1000;
/// Bins of confidence in which labelled mode counts how often each model was right.
const CALIBRATION_BINS: usize = 10;
/// Labels a bin needs before its count replaces the confidence itself.
const MIN_LABELS_PER_BIN: u32 = 5;
/// Weight of one label in a bin's running rate of right answers (about its last 10 labels).
const BIN_RATE: f32 = 0.1;
/// Labelled frames the two models disagreed on before their record there can overrule the
/// bins (see [`Guard::judge_by_labels`]).
const MIN_DISAGREEMENTS: u32 = 5;

/// The largest standard error of the disagreement record after `seen` disagreements: that of
/// a mean of values in -1..=1 over `seen` of them, or over the 19 a running mean of weight
/// [`BIN_RATE`] holds in effect (`(2 - w) / w`), whichever is fewer.
fn record_noise(seen: u32) -> f32 {
    let effective = (2.0 - BIN_RATE) / BIN_RATE;
    1.0 / libm::sqrtf((seen as f32).min(effective).max(1.0))
}

/// Takes `value` into a running mean and its count, `(mean, seen)`: the plain mean of the
/// first 1 / [`BIN_RATE`] values, then a moving average of weight [`BIN_RATE`].
fn take_in((mean, seen): &mut (f32, u32), value: f32) {
    *seen = seen.saturating_add(1);
    let weight = (1.0 / *seen as f32).max(BIN_RATE);
    *mean += weight * (value - *mean);
}

/// The frame-by-frame choice without labels: the adapted model when it is surer than the
/// anchor by [`ANSWER_MARGIN`], else the anchor.
fn surer_by_margin(anchor_confidence: f32, adapted_confidence: f32) -> Answer {
    if adapted_confidence > anchor_confidence + ANSWER_MARGIN {
        Answer::Adapted
    } else {
        Answer::Anchor
    }
}

/// The calibration bin of a confidence in 0..=1.
fn calibration_bin(confidence: f32) -> usize {
    ((confidence.clamp(0.0, 1.0) * CALIBRATION_BINS as f32) as usize).min(CALIBRATION_BINS - 1)
}

/// Bins of the confidence histogram (confidences are in 0..=1).
const BINS: usize = 100;

/// Who decides whose answer the device gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arbiter {
    /// No labels: the surer model answers; disagreements where the anchor is sure roll back.
    Confidence,
    /// Labels: the model right more often on the recent labels at the confidence it has now.
    Labels,
    /// No labels, for a change that acts on every frame alike (the channels of a front end
    /// brought back to their training statistics): the model that has been the surer over
    /// the recent frames answers them all (see [`RECENT_FRAMES`]); while that is the anchor,
    /// a frame the adapted model is surer of by [`ANSWER_MARGIN`] is still answered by it, as
    /// under [`Arbiter::Confidence`]. Nothing rolls back.
    RecentConfidence,
}

/// Frames over which [`Arbiter::RecentConfidence`] averages each model's confidence (the
/// rate of its moving average is the inverse).
pub const RECENT_FRAMES: f32 = 100.0;
/// How much surer on average over the recent frames the adapted model must be to answer,
/// under [`Arbiter::RecentConfidence`].
pub const RECENT_MARGIN: f32 = 0.01;

/// Which model's answer the device gives for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The shipped model's.
    Anchor,
    /// The adapted model's.
    Adapted,
}

/// What the guard decided for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whose answer to give.
    pub answer: Answer,
    /// Whether the adapted weights must go back to the anchor's now.
    pub roll_back: bool,
}

/// Both models' answers on one frame, `(class, confidence)` each, and whose was given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// The shipped model's answer.
    pub anchor: (usize, f32),
    /// The adapted model's answer.
    pub adapted: (usize, f32),
    /// Whose answer the device gave.
    pub answer: Answer,
}

/// Counters of the guard, for the device's summary.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GuardStats {
    /// Frames answered by the anchor.
    pub anchor_answers: u64,
    /// Frames on which the two models disagreed.
    pub disagreements: u64,
    /// Roll-backs to the anchor.
    pub rollbacks: u64,
    /// The largest disagreement share of a check window so far.
    pub worst_disagreement: f32,
}

/// The guard's state: the anchor's confidence threshold, the current check window, how often
/// each model was right on labels at each confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    arbiter: Arbiter,
    histogram: [u32; BINS],
    calibration: u32,
    seen: u32,
    quantile: f32,
    threshold: Option<f32>,
    max_disagreement: f32,
    check_frames: u32,
    sure: u32,
    sure_disagreements: u32,
    /// Per model (anchor, adapted) and confidence bin: how often its answer was right on the
    /// labelled frames, and how many labelled frames fell in the bin.
    right_by_confidence: [[(f32, u32); CALIBRATION_BINS]; 2],
    /// On the labelled frames the two models answered differently: the running mean (over
    /// about the last 10, as a bin's rate) of the adapted model's right answer less the
    /// anchor's (1 when only the adapted model was right, -1 when only the anchor was), and
    /// how many there were.
    disagreement_record: (f32, u32),
    /// The latest judged frame: both models' answers and whose was given.
    last: Option<Judgement>,
    rate_scale: f32,
    /// Moving averages of the two models' confidences (anchor, adapted), for
    /// [`Arbiter::RecentConfidence`]; `None` before the first frame.
    recent: Option<[f32; 2]>,
    stats: GuardStats,
}

impl Guard {
    /// A guard with the defaults above.
    pub fn new(arbiter: Arbiter) -> Self {
        Self::with_settings(
            arbiter,
            DEFAULT_GUARD_CALIBRATION,
            DEFAULT_ANCHOR_QUANTILE,
            DEFAULT_MAX_DISAGREEMENT,
            DEFAULT_CHECK_FRAMES,
        )
    }

    /// A guard whose threshold is the `quantile` of the anchor's confidences over the first
    /// `calibration` frames (at least 1), checking every `check_frames` anchor-sure frames (at
    /// least 1) that the adapted model disagrees on at most `max_disagreement` of them.
    pub fn with_settings(
        arbiter: Arbiter,
        calibration: u32,
        quantile: f32,
        max_disagreement: f32,
        check_frames: u32,
    ) -> Self {
        Self {
            arbiter,
            histogram: [0; BINS],
            calibration: calibration.max(1),
            seen: 0,
            quantile: quantile.clamp(0.0, 1.0),
            threshold: None,
            max_disagreement,
            check_frames: check_frames.max(1),
            sure: 0,
            sure_disagreements: 0,
            right_by_confidence: [[(0.0, 0); CALIBRATION_BINS]; 2],
            disagreement_record: (0.0, 0),
            last: None,
            rate_scale: 1.0,
            recent: None,
            stats: GuardStats::default(),
        }
    }

    /// Who arbitrates.
    pub fn arbiter(&self) -> Arbiter {
        self.arbiter
    }

    /// The anchor's confidence above which it counts as sure (for the disagreement checks),
    /// once calibrated.
    pub fn threshold(&self) -> Option<f32> {
        self.threshold
    }

    /// The guard's counters.
    pub fn stats(&self) -> GuardStats {
        self.stats
    }

    /// The latest judged frame: both models' answers and whose was given; `None` before the
    /// first. What a frame log needs to show where the adapted model helped or hurt.
    pub fn last_judgement(&self) -> Option<Judgement> {
        self.last
    }

    /// Factor on the learning rate: 1, halved at every roll-back.
    pub fn rate_scale(&self) -> f32 {
        self.rate_scale
    }

    /// Decides one frame from the two models' answers: `(class, confidence)` of each.
    pub fn judge(&mut self, anchor: (usize, f32), adapted: (usize, f32)) -> Verdict {
        let disagree = anchor.0 != adapted.0;
        self.stats.disagreements += u64::from(disagree);
        let verdict = match self.arbiter {
            Arbiter::Confidence => self.judge_by_confidence(anchor.1, adapted.1, disagree),
            Arbiter::Labels => Verdict {
                answer: self.judge_by_labels(anchor.1, adapted.1, disagree),
                roll_back: false,
            },
            Arbiter::RecentConfidence => Verdict {
                answer: self.judge_by_recent_confidence(anchor.1, adapted.1),
                roll_back: false,
            },
        };
        if verdict.answer == Answer::Anchor {
            self.stats.anchor_answers += 1;
        }
        self.last = Some(Judgement {
            anchor,
            adapted,
            answer: verdict.answer,
        });
        verdict
    }

    fn judge_by_recent_confidence(&mut self, confidence: f32, adapted_confidence: f32) -> Answer {
        let now = [confidence, adapted_confidence];
        let recent = self.recent.get_or_insert(now);
        for (r, c) in recent.iter_mut().zip(now) {
            *r += (c - *r) / RECENT_FRAMES;
        }
        // The recent frames' choice, or, while that is the anchor, the adapted model on a
        // frame it alone is clearly surer of (as [`Arbiter::Confidence`] would answer it).
        if recent[1] > recent[0] + RECENT_MARGIN {
            Answer::Adapted
        } else {
            surer_by_margin(confidence, adapted_confidence)
        }
    }

    fn judge_by_confidence(
        &mut self,
        confidence: f32,
        adapted_confidence: f32,
        disagree: bool,
    ) -> Verdict {
        let answer = surer_by_margin(confidence, adapted_confidence);
        let Some(threshold) = self.threshold else {
            self.calibrate(confidence);
            return Verdict {
                answer,
                roll_back: false,
            };
        };
        if confidence < threshold {
            return Verdict {
                answer,
                roll_back: false,
            };
        }
        self.sure += 1;
        self.sure_disagreements += u32::from(disagree);
        let mut roll_back = false;
        if self.sure >= self.check_frames {
            let share = self.sure_disagreements as f32 / self.sure as f32;
            self.stats.worst_disagreement = self.stats.worst_disagreement.max(share);
            if share > self.max_disagreement {
                roll_back = true;
                self.stats.rollbacks += 1;
                self.rate_scale *= 0.5;
            }
            self.sure = 0;
            self.sure_disagreements = 0;
        }
        Verdict { answer, roll_back }
    }

    /// The model more likely right on this frame, by how often each was right on the recent
    /// labelled frames where it was as sure as it is now (its confidence itself until that bin
    /// has seen a few labels); the anchor on a tie. But where the two disagree, the anchor
    /// answers while it has been right more often than the adapted model on the recent
    /// labelled frames they disagreed on ([`MIN_DISAGREEMENTS`] or more), by more than that
    /// record's noise ([`record_noise`]; at 0, the device lost a third of what labels on 20 %
    /// of frames won back of `thin-pen`, where the bins choose well): the bins count all
    /// labelled frames, most of which the two answer alike, and a readout that learns from
    /// labels grows its logits, so it looks surer and as often right in its bins while it
    /// loses the frames that matter (a Fashion-MNIST CNN's learning readout, right on 22 % of
    /// the disagreements it answered where the anchor was right on 58 %, took 41 % of the
    /// frames and cost 3 points).
    fn judge_by_labels(
        &self,
        anchor_confidence: f32,
        adapted_confidence: f32,
        disagree: bool,
    ) -> Answer {
        let (record, seen) = self.disagreement_record;
        if disagree && seen >= MIN_DISAGREEMENTS && record < -record_noise(seen) {
            return Answer::Anchor;
        }
        let anchor = self.chance_right(0, anchor_confidence);
        let adapted = self.chance_right(1, adapted_confidence);
        if anchor >= adapted {
            Answer::Anchor
        } else {
            Answer::Adapted
        }
    }

    /// How often `model` (0 anchor, 1 adapted) was right at this confidence.
    fn chance_right(&self, model: usize, confidence: f32) -> f32 {
        let (right, seen) = self.right_by_confidence[model][calibration_bin(confidence)];
        if seen >= MIN_LABELS_PER_BIN {
            right
        } else {
            confidence
        }
    }

    fn calibrate(&mut self, confidence: f32) {
        if !(0.0..=1.0).contains(&confidence) {
            return;
        }
        let bin = ((confidence * BINS as f32) as usize).min(BINS - 1);
        self.histogram[bin] += 1;
        self.seen += 1;
        if self.seen >= self.calibration {
            let wanted = libm::ceilf(self.seen as f32 * self.quantile) as u32;
            let mut count = 0;
            let bin = self
                .histogram
                .iter()
                .position(|&h| {
                    count += h;
                    count >= wanted.max(1)
                })
                .unwrap_or(BINS - 1);
            self.threshold = Some(bin as f32 / BINS as f32);
        }
    }

    /// What the guard has learned, for a device's state file: the anchor's threshold (or the
    /// calibration so far), the learning-rate factor and roll-backs, and each model's record
    /// on labels per tenth of confidence. A device that reboots from its state goes on with
    /// them, instead of calibrating again on frames of a view it may have drifted to, with
    /// its rate back at full after roll-backs.
    pub fn to_json(&self) -> Value {
        let record = |model: usize| -> Vec<Value> {
            self.right_by_confidence[model]
                .iter()
                .map(|&(rate, seen)| json!([rate, seen]))
                .collect()
        };
        json!({
            "threshold": self.threshold,
            "seen": self.seen,
            "histogram": self.histogram.as_slice(),
            "rate_scale": self.rate_scale,
            "rollbacks": self.stats.rollbacks,
            "right_by_confidence": [record(0), record(1)],
            "disagreement_record": [self.disagreement_record.0, self.disagreement_record.1],
        })
    }

    /// Takes back what [`Guard::to_json`] saved; false, and the guard left as it was, when
    /// anything is missing, out of range or not finite (a damaged state starts a fresh guard
    /// rather than trusting a wrong threshold or rate).
    pub fn restore_json(&mut self, value: &Value) -> bool {
        let Some(restored) = self.restored(value) else {
            return false;
        };
        *self = restored;
        true
    }

    fn restored(&self, value: &Value) -> Option<Self> {
        let unit = |v: &Value| -> Option<f32> {
            v.as_f64()
                .map(|x| x as f32)
                .filter(|x| (0.0..=1.0).contains(x))
        };
        let mut g = self.clone();
        g.threshold = match &value["threshold"] {
            Value::Null => None,
            v => Some(unit(v)?),
        };
        g.seen = u32::try_from(value["seen"].as_u64()?).ok()?;
        let histogram = value["histogram"].as_array()?;
        if histogram.len() != BINS {
            return None;
        }
        for (h, v) in g.histogram.iter_mut().zip(histogram) {
            *h = u32::try_from(v.as_u64()?).ok()?;
        }
        g.rate_scale = unit(&value["rate_scale"]).filter(|&r| r > 0.0)?;
        g.stats.rollbacks = value["rollbacks"].as_u64()?;
        let records = value["right_by_confidence"].as_array()?;
        if records.len() != 2 {
            return None;
        }
        for (model, record) in records.iter().enumerate() {
            let bins = record.as_array()?;
            if bins.len() != CALIBRATION_BINS {
                return None;
            }
            for (slot, bin) in g.right_by_confidence[model].iter_mut().zip(bins) {
                let seen = u32::try_from(bin[1].as_u64()?).ok()?;
                *slot = (unit(&bin[0])?, seen);
            }
        }
        // A state saved before the record was kept has none: the record starts empty.
        g.disagreement_record = match &value["disagreement_record"] {
            Value::Null => (0.0, 0),
            v => {
                let record = v[0]
                    .as_f64()
                    .map(|r| r as f32)
                    .filter(|r| (-1.0..=1.0).contains(r));
                (record?, u32::try_from(v[1].as_u64()?).ok()?)
            }
        };
        Some(g)
    }

    /// Forgets what the labels said of the two models (each one's record per confidence bin
    /// and their record on disagreements), keeping the rest: the device's view has changed
    /// back, and the records describe the view it left. After a camera turned long the
    /// learning model, taught on the turned view, keeps answering the original one when it
    /// comes back; with labels on 5 % of frames the disagreements that would show the anchor
    /// right are too few to turn the records (none in the 1000 frames of one return, the
    /// two models' bins both 0.99 to 1.00 right), and a learning model a label step made
    /// surer answered 2.1 points below a frozen device (docs/RESULTS.md, "Views that drift
    /// frame by frame"). Started over, each model is judged by its confidence until its bins
    /// have seen a few labels of the view it is on now.
    pub fn forget_label_records(&mut self) {
        self.right_by_confidence = [[(0.0, 0); CALIBRATION_BINS]; 2];
        self.disagreement_record = (0.0, 0);
    }

    /// Takes the true label of the latest judged frame: each model's bin at the confidence it
    /// had counts whether its answer was right. Nothing before the first judged frame.
    pub fn observe_label(&mut self, label: usize) {
        let Some(judged) = self.last else {
            return;
        };
        for (model, (class, confidence)) in [judged.anchor, judged.adapted].into_iter().enumerate()
        {
            let bin = &mut self.right_by_confidence[model][calibration_bin(confidence)];
            take_in(bin, f32::from(u8::from(class == label)));
        }
        let (anchor, adapted) = (judged.anchor.0, judged.adapted.0);
        if anchor != adapted {
            let edge = f32::from(u8::from(adapted == label)) - f32::from(u8::from(anchor == label));
            take_in(&mut self.disagreement_record, edge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_the_quantile_of_the_first_confidences() {
        // Ten frames, confidences 0.055, 0.155, ..., 0.955; the 0.3 quantile is the third,
        // 0.255, in bin 25 (bins are 0.01 wide, the threshold is the bin's lower edge).
        let mut g = Guard::with_settings(Arbiter::Confidence, 10, 0.3, 0.1, 4);
        for i in 0..10 {
            let v = g.judge((0, 0.055 + 0.1 * i as f32), (0, 0.5));
            let surer = if 0.055 + 0.1 * i as f32 + ANSWER_MARGIN >= 0.5 {
                Answer::Anchor
            } else {
                Answer::Adapted
            };
            assert_eq!(v.answer, surer, "the surer model answers while calibrating");
            assert!(!v.roll_back);
        }
        assert_eq!(g.threshold(), Some(0.25));
        // The surer model answers; the adapted one must be surer by the margin.
        assert_eq!(g.judge((1, 0.9), (2, 0.9)).answer, Answer::Anchor);
        assert_eq!(g.judge((1, 0.1), (2, 0.9)).answer, Answer::Adapted);
        assert_eq!(g.judge((1, 0.8), (2, 0.7)).answer, Answer::Anchor);
        assert_eq!(g.judge((1, 0.8), (2, 0.84)).answer, Answer::Anchor);
        assert_eq!(g.judge((1, 0.8), (2, 0.86)).answer, Answer::Adapted);
        // Six while calibrating (confidences 0.455 and up, against 0.5), three since.
        assert_eq!(g.stats().anchor_answers, 9);
        assert_eq!(g.stats().disagreements, 5);
    }

    #[test]
    fn recent_confidence_hands_every_frame_to_the_model_surer_of_the_recent_ones() {
        // First frame: anchor 0.9, adapted 0.5 (the averages start there). Then the anchor is
        // at 0.6 and the adapted model at 0.64 on every frame (surer, but by less than the
        // frame-by-frame margin 0.05): after k more frames the averages are 0.6 + 0.3 q^k and
        // 0.64 - 0.14 q^k (q = 0.99), and the adapted one leads by the margin 0.01 once
        // 0.44 q^k < 0.03, at k = 268.
        let mut g = Guard::new(Arbiter::RecentConfidence);
        assert_eq!(g.judge((0, 0.9), (0, 0.5)).answer, Answer::Anchor);
        for k in 1..=300 {
            let v = g.judge((0, 0.6), (1, 0.64));
            assert!(!v.roll_back);
            let want = if k < 268 {
                Answer::Anchor
            } else {
                Answer::Adapted
            };
            // f32 rounding may move the switch by a frame.
            if !(266..=269).contains(&k) {
                assert_eq!(v.answer, want, "frame {k}");
            }
        }
        // One frame where the adapted model is unsure changes nothing: it is the recent frames
        // that decide, not this one.
        assert_eq!(g.judge((0, 0.7), (1, 0.5)).answer, Answer::Adapted);
        assert_eq!(g.stats().rollbacks, 0);
        // While the recent frames favour the anchor, a frame the adapted model alone is surer of
        // by more than 0.05 is its own.
        let mut g = Guard::new(Arbiter::RecentConfidence);
        assert_eq!(g.judge((0, 0.9), (1, 0.5)).answer, Answer::Anchor);
        assert_eq!(g.judge((0, 0.5), (1, 0.56)).answer, Answer::Adapted);
        assert_eq!(g.judge((0, 0.5), (1, 0.54)).answer, Answer::Anchor);
    }

    #[test]
    fn disagreeing_on_too_many_sure_frames_rolls_back_and_halves_the_rate() {
        let mut g = Guard::with_settings(Arbiter::Confidence, 1, 0.0, 0.25, 4);
        g.judge((0, 0.5), (0, 0.5)); // calibration: threshold 0.5
        // Window 1: one disagreement in four sure frames (25 %, not more): no roll-back.
        for adapted in [1, 0, 0, 0] {
            assert!(!g.judge((0, 0.9), (adapted, 0.9)).roll_back);
        }
        assert_eq!(g.rate_scale(), 1.0);
        // Window 2: two in four: roll back on the window's last frame.
        let verdicts: alloc::vec::Vec<bool> = [1, 1, 0, 0]
            .iter()
            .map(|&a| g.judge((0, 0.9), (a, 0.9)).roll_back)
            .collect();
        assert_eq!(verdicts, [false, false, false, true]);
        assert_eq!(g.rate_scale(), 0.5);
        assert_eq!(g.stats().rollbacks, 1);
        assert_eq!(g.stats().worst_disagreement, 0.5);
        // Unsure frames do not count toward a window.
        for _ in 0..10 {
            assert!(!g.judge((0, 0.1), (1, 0.9)).roll_back);
        }
    }

    #[test]
    fn the_latest_judgement_holds_both_answers_and_whose_was_given() {
        let mut g = Guard::new(Arbiter::Labels);
        assert_eq!(g.last_judgement(), None);
        g.judge((3, 0.4), (5, 0.9));
        let j = g.last_judgement().unwrap();
        assert_eq!(
            (j.anchor, j.adapted, j.answer),
            ((3, 0.4), (5, 0.9), Answer::Adapted)
        );
        g.judge((3, 0.9), (5, 0.4));
        assert_eq!(g.last_judgement().unwrap().answer, Answer::Anchor);
    }

    #[test]
    fn with_labels_the_model_right_more_often_at_its_confidence_answers() {
        let mut g = Guard::new(Arbiter::Labels);
        // No labels yet: each model's confidence stands for its chance; the surer answers.
        assert_eq!(g.judge((0, 0.85), (1, 0.65)).answer, Answer::Anchor);
        assert_eq!(g.judge((0, 0.65), (1, 0.85)).answer, Answer::Adapted);
        // Five labels with the anchor at 0.85 (bin 8) wrong and the adapted model at 0.65
        // (bin 6) right: bin 8 of the anchor now says 0, bin 6 of the adapted model 1.
        for _ in 0..5 {
            g.judge((0, 0.85), (1, 0.65));
            g.observe_label(1);
        }
        assert_eq!(g.judge((0, 0.85), (1, 0.65)).answer, Answer::Adapted);
        // Another bin of the anchor has no labels yet: its confidence (0.95) stands, above
        // the adapted model's record at 0.65 (1.0)? No: 0.95 < 1.0, the adapted one answers.
        assert_eq!(g.judge((0, 0.95), (1, 0.65)).answer, Answer::Adapted);
        // The original view returns: at 0.85 the anchor is right ten times, the adapted model
        // at 0.65 wrong; the anchor takes those frames back.
        for _ in 0..10 {
            g.judge((0, 0.85), (1, 0.65));
            g.observe_label(0);
        }
        assert_eq!(g.judge((0, 0.85), (1, 0.65)).answer, Answer::Anchor);
        assert!(
            !g.judge((0, 0.85), (1, 0.65)).roll_back,
            "labels never roll back"
        );
    }

    #[test]
    fn the_records_noise_is_a_mean_standard_error_over_at_most_19_values() {
        assert_eq!(record_noise(4), 0.5);
        assert!((record_noise(19) - 0.2294).abs() < 1e-4);
        assert_eq!(record_noise(100), record_noise(19));
        assert_eq!(record_noise(0), 1.0);
    }

    #[test]
    fn with_labels_the_anchor_answers_the_disagreements_it_has_been_winning() {
        let mut g = Guard::new(Arbiter::Labels);
        // Twenty labelled frames both models answer right, the adapted one at 0.95.
        for _ in 0..20 {
            g.judge((2, 0.62), (2, 0.95));
            g.observe_label(2);
        }
        // A disagreement with the anchor at a confidence it has no labels at (0.35): by the
        // bins, the adapted model (right on all of its 0.95 frames) answers.
        let disagreement = ((0, 0.35), (1, 0.95));
        assert_eq!(
            g.judge(disagreement.0, disagreement.1).answer,
            Answer::Adapted
        );
        // Five labelled disagreements the anchor wins. The adapted model's bin still says it
        // is right more often than 0.35 (0.9^5 = 0.59), but on disagreements it has lost.
        for _ in 0..MIN_DISAGREEMENTS {
            g.judge((0, 0.62), (1, 0.95));
            g.observe_label(0);
        }
        assert!(g.right_by_confidence[1][9].0 > 0.5);
        assert_eq!(
            g.judge(disagreement.0, disagreement.1).answer,
            Answer::Anchor
        );
        // Where the two agree, the bins decide as before.
        assert_eq!(g.judge((2, 0.35), (2, 0.95)).answer, Answer::Adapted);
        // The adapted model wins the next disagreements (a view it has learned): it answers
        // them again once the anchor's lead is within the record's noise.
        for n in 1..=10 {
            g.judge((0, 0.62), (1, 0.95));
            g.observe_label(1);
            let answer = g.judge(disagreement.0, disagreement.1).answer;
            let (record, seen) = g.disagreement_record;
            assert_eq!(
                answer == Answer::Adapted,
                record >= -record_noise(seen),
                "{n}"
            );
        }
        assert_eq!(
            g.judge(disagreement.0, disagreement.1).answer,
            Answer::Adapted
        );
    }

    #[test]
    fn forgotten_label_records_judge_each_model_by_its_confidence_again() {
        let mut g = Guard::new(Arbiter::Labels);
        // The labels say the anchor is wrong whenever it is 0.95 sure, the adapted model
        // right whenever it is 0.9 sure.
        for _ in 0..10 {
            g.judge((3, 0.95), (2, 0.9));
            g.observe_label(2);
        }
        let frame = ((4, 0.95), (5, 0.9));
        assert_eq!(g.judge(frame.0, frame.1).answer, Answer::Adapted);
        let threshold = g.threshold();
        g.forget_label_records();
        // No bin has a label now: each model's chance is its confidence, 0.95 against 0.9.
        assert_eq!(g.judge(frame.0, frame.1).answer, Answer::Anchor);
        assert_eq!(g.disagreement_record, (0.0, 0));
        assert_eq!(g.threshold(), threshold);
    }

    #[test]
    fn a_saved_guard_comes_back_as_it_was_and_a_damaged_one_is_refused() {
        let mut g = Guard::with_settings(Arbiter::Confidence, 2, 0.5, 0.0, 1);
        g.judge((0, 0.3), (0, 0.3));
        g.judge((0, 0.7), (0, 0.7)); // calibrated: threshold 0.3
        assert!(g.judge((0, 0.9), (1, 0.9)).roll_back); // one disagreement: roll back
        g.judge((0, 0.85), (0, 0.65));
        g.observe_label(1);
        g.judge((0, 0.2), (1, 0.65)); // a disagreement the anchor is not sure of
        g.observe_label(1);
        let saved = g.to_json();

        let mut back = Guard::with_settings(Arbiter::Confidence, 2, 0.5, 0.0, 1);
        assert!(back.restore_json(&saved));
        assert_eq!(back.threshold(), Some(0.3));
        assert_eq!(back.rate_scale(), 0.5);
        assert_eq!(back.stats().rollbacks, 1);
        assert_eq!(back.right_by_confidence, g.right_by_confidence);
        assert_eq!(back.disagreement_record, (1.0, 1));
        assert_eq!(back.histogram, g.histogram);
        // A state saved before the disagreements were recorded comes back without them.
        let mut older = saved.clone();
        older.as_object_mut().unwrap().remove("disagreement_record");
        assert!(back.restore_json(&older));
        assert_eq!(back.disagreement_record, (0.0, 0));

        for (key, bad) in [
            ("rate_scale", json!(0.0)),
            ("rate_scale", json!(2.0)),
            ("threshold", json!(1.5)),
            ("histogram", json!([1, 2, 3])),
            ("seen", json!(-1)),
            ("right_by_confidence", json!([[[0.5, 1]], []])),
            ("disagreement_record", json!([2.0, 1])),
            ("disagreement_record", json!([0.5])),
        ] {
            let mut damaged = saved.clone();
            damaged[key] = bad;
            let mut fresh = Guard::new(Arbiter::Labels);
            assert!(!fresh.restore_json(&damaged), "{key} accepted");
            assert_eq!(fresh, Guard::new(Arbiter::Labels), "{key} half-restored");
        }
        assert!(!Guard::new(Arbiter::Labels).restore_json(&Value::Null));
    }
}
