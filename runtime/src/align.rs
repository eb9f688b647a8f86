//! Keeps the hidden code where the readout expects it when the camera changes.
//!
//! Why: the readout was fitted to the hidden code of one camera. A new camera (turned,
//! blurred, lit differently) changes which hidden units fire and how much, on average, before
//! any unit has had time to learn the new view, and the readout then reads a code that is
//! offset from the one it knows. [`HiddenAlignment`] measures the offset and removes it: the
//! mean code of the first `calibration` frames is the reference, an exponential mean over the
//! last frames is the current one, and inference adds `reference - recent` to every code. This
//! is the hidden-layer analogue of re-estimating batch-norm statistics on the new domain (AdaBN,
//! Li et al. 2016) and of mean alignment in CORAL (Sun et al. 2016): no labels, no weights
//! change, and when the original camera comes back, the recent mean returns to the reference
//! and the correction vanishes by itself.
//!
//! The means are kept per class (the class the device answered), and the correction is the
//! average over classes of `reference_c - recent_c`. Why: a mean over all frames moves when the
//! mix of classes moves, and a camera that sees mostly one class for a while (a label shift,
//! not a new view) would then be "corrected" toward the other classes. Measured on
//! `synthetic:one-class` (70 % eights for 2000 frames), the pooled mean cost a device without
//! labels 8 to 19 points against a frozen one; per-class means do not move under a label shift,
//! and under a new view every class's mean moves, so their average still measures the offset
//! (class-balanced statistics, as in RoTTA's category-balanced memory, Yuan et al. 2023).

use alloc::vec;
use alloc::vec::Vec;
use serde_json::{Value, json};

/// Frames whose mean hidden code becomes the reference, by default.
pub const DEFAULT_CALIBRATION_FRAMES: u64 = 1000;
/// Frames the recent means span, by default (each class's mean spans its share of them): long
/// enough to average over a few dozen digits of a class, short enough to follow a new camera
/// within a few hundred frames.
pub const DEFAULT_HORIZON_FRAMES: u32 = 500;
/// Codes a class needs in both its reference and its recent mean before it counts.
const MIN_CODES: u64 = 5;
/// Frames between two exact recomputations of the correction (it is updated incrementally in
/// between; this keeps rounding from accumulating over days).
const RECOMPUTE_EVERY: u64 = 1000;

/// Running means of the hidden code per class: the reference (first frames) and the recent one.
#[derive(Debug, Clone, PartialEq)]
pub struct HiddenAlignment {
    units: usize,
    classes: usize,
    /// `[classes][units]`, row-major.
    reference: Vec<f32>,
    /// `[classes][units]`, row-major.
    recent: Vec<f32>,
    reference_counts: Vec<u64>,
    recent_counts: Vec<u64>,
    observed: u64,
    calibration: u64,
    horizon: u32,
    /// The average of `reference_c - recent_c` over the classes that count.
    correction: Vec<f32>,
    /// How many classes count in `correction`.
    counted: usize,
}

impl HiddenAlignment {
    /// Fresh statistics for `units` hidden units and `classes` classes (at least 1): the first
    /// `calibration` observed codes set the reference (at least 1), the recent means span
    /// `horizon` frames (at least 1).
    pub fn new(units: usize, classes: usize, calibration: u64, horizon: u32) -> Self {
        let classes = classes.max(1);
        Self {
            units,
            classes,
            reference: vec![0.0; classes * units],
            recent: vec![0.0; classes * units],
            reference_counts: vec![0; classes],
            recent_counts: vec![0; classes],
            observed: 0,
            calibration: calibration.max(1),
            horizon: horizon.max(1),
            correction: vec![0.0; units],
            counted: 0,
        }
    }

    /// The same statistics under another schedule: the first `calibration` codes set the
    /// reference (at least 1), the recent means span `horizon` frames (at least 1).
    pub fn with_schedule(self, calibration: u64, horizon: u32) -> Self {
        Self {
            calibration: calibration.max(1),
            horizon: horizon.max(1),
            ..self
        }
    }

    /// The statistics as saved in a state's metadata (the calibration length and horizon are
    /// options of the run, not state).
    pub fn to_json(&self) -> Value {
        json!({
            "classes": self.classes,
            "reference": self.reference,
            "recent": self.recent,
            "reference_counts": self.reference_counts,
            "recent_counts": self.recent_counts,
            "observed": self.observed,
        })
    }

    /// From [`HiddenAlignment::to_json`], with the run's `calibration` and `horizon`; `None`
    /// when anything is missing, of the wrong length or not finite, so that a damaged state
    /// starts afresh instead of skewing every code.
    pub fn from_json(
        value: &Value,
        units: usize,
        classes: usize,
        calibration: u64,
        horizon: u32,
    ) -> Option<Self> {
        let floats = |key: &str| -> Option<Vec<f32>> {
            value[key]
                .as_array()?
                .iter()
                .map(|v| v.as_f64().map(|x| x as f32).filter(|x| x.is_finite()))
                .collect()
        };
        let counts = |key: &str| -> Option<Vec<u64>> {
            value[key].as_array()?.iter().map(Value::as_u64).collect()
        };
        if value["classes"].as_u64()? != classes as u64 {
            return None;
        }
        let mut a = Self::new(units, classes, calibration, horizon);
        let (reference, recent) = (floats("reference")?, floats("recent")?);
        let (reference_counts, recent_counts) =
            (counts("reference_counts")?, counts("recent_counts")?);
        let len = a.reference.len();
        if reference.len() != len
            || recent.len() != len
            || reference_counts.len() != a.classes
            || recent_counts.len() != a.classes
        {
            return None;
        }
        a.reference = reference;
        a.recent = recent;
        a.reference_counts = reference_counts;
        a.recent_counts = recent_counts;
        a.observed = value["observed"].as_u64()?;
        a.recompute();
        Some(a)
    }

    /// Hidden units covered.
    pub fn units(&self) -> usize {
        self.units
    }

    /// Whether the reference is complete and codes are being corrected.
    pub fn calibrated(&self) -> bool {
        self.observed >= self.calibration
    }

    /// The correction [`HiddenAlignment::apply`] adds (zeros before calibration).
    pub fn correction(&self) -> &[f32] {
        &self.correction
    }

    /// Takes one uncorrected hidden code of a frame the device answered as `class` into the
    /// means (a class out of range or a code of the wrong length or not finite is ignored).
    /// During calibration a class's reference is the plain mean of its codes so far; its recent
    /// mean is exponential with rate `1 / min(horizon / classes, codes seen)` (a plain mean until
    /// then), so a class seen rarely keeps its mean longer.
    pub fn observe(&mut self, code: &[f32], class: usize) {
        if code.len() != self.units || class >= self.classes || code.iter().any(|x| !x.is_finite())
        {
            return;
        }
        self.observed = self.observed.saturating_add(1);
        let span = class * self.units..(class + 1) * self.units;
        let calibrating = self.observed <= self.calibration;
        if calibrating {
            self.reference_counts[class] += 1;
            let rate = 1.0 / self.reference_counts[class] as f32;
            for (m, &h) in self.reference[span.clone()].iter_mut().zip(code) {
                *m += rate * (h - *m);
            }
        }
        self.recent_counts[class] = self.recent_counts[class].saturating_add(1);
        let per_class = (u64::from(self.horizon) / self.classes as u64).max(1);
        let rate = 1.0 / self.recent_counts[class].min(per_class) as f32;
        // The incremental update holds while the classes that count are the ones the
        // correction was last computed over.
        let same_classes = self.counted_classes() == self.counted;
        let step = if self.counts(class) && !calibrating && same_classes {
            1.0 / self.counted as f32
        } else {
            0.0
        };
        for ((m, &h), c) in self.recent[span]
            .iter_mut()
            .zip(code)
            .zip(&mut self.correction)
        {
            let delta = rate * (h - *m);
            *m += delta;
            *c -= step * delta;
        }
        // No incremental step (calibrating, a class that does not count, or the counting
        // classes changed): compute the correction from scratch.
        if step == 0.0 || self.observed.is_multiple_of(RECOMPUTE_EVERY) {
            self.recompute();
        }
    }

    /// Whether `class` has enough codes in both means to count.
    fn counts(&self, class: usize) -> bool {
        self.reference_counts[class] >= MIN_CODES && self.recent_counts[class] >= MIN_CODES
    }

    fn counted_classes(&self) -> usize {
        (0..self.classes).filter(|&c| self.counts(c)).count()
    }

    /// The correction computed from scratch.
    fn recompute(&mut self) {
        self.correction.fill(0.0);
        self.counted = self.counted_classes();
        if self.counted == 0 || !self.calibrated() {
            return;
        }
        let weight = 1.0 / self.counted as f32;
        for c in 0..self.classes {
            if !self.counts(c) {
                continue;
            }
            let span = c * self.units..(c + 1) * self.units;
            for ((out, &r), &m) in self
                .correction
                .iter_mut()
                .zip(&self.reference[span.clone()])
                .zip(&self.recent[span])
            {
                *out += weight * (r - m);
            }
        }
    }

    /// Forgets the recent codes: each class's recent mean becomes its reference, so no
    /// correction is applied until new codes move it (after a roll-back of the weights that
    /// made them).
    pub fn reset_recent(&mut self) {
        if self.calibrated() {
            self.recent.copy_from_slice(&self.reference);
            self.recompute();
        }
    }

    /// Adds the correction to `code` once calibrated (unchanged before).
    pub fn apply(&self, code: &mut [f32]) {
        if !self.calibrated() {
            return;
        }
        for (h, &c) in code.iter_mut().zip(&self.correction) {
            *h += c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_untouched_until_the_reference_is_complete() {
        let mut a = HiddenAlignment::new(2, 1, 2, 4);
        a.observe(&[1.0, 3.0], 0);
        let mut code = [5.0, 5.0];
        a.apply(&mut code);
        assert_eq!(code, [5.0, 5.0]);
        assert!(!a.calibrated());
    }

    /// One class: the correction is `reference - recent` of that class.
    #[test]
    fn the_correction_is_reference_minus_recent_mean_by_hand() {
        // Calibration 10, horizon 2 (one class: rate 1/2 once two codes are in): the first
        // ten codes alternate (1, 3) and (3, 5); reference (2, 4).
        let mut a = HiddenAlignment::new(2, 1, 10, 2);
        for i in 0..10 {
            a.observe(if i % 2 == 0 { &[1.0, 3.0] } else { &[3.0, 5.0] }, 0);
        }
        assert!(a.calibrated());
        // The recent mean at rate 1/2 ends on the last two: 3/4 of (3, 5) + 1/4 of the rest.
        let recent: Vec<f32> = a.recent.clone();
        let expected: Vec<f32> = a
            .reference
            .iter()
            .zip(&recent)
            .map(|(r, m)| r - m)
            .collect();
        assert_eq!(a.correction(), &expected[..]);

        a.observe(&[7.0, 4.0], 0);
        // recent += (code - recent) / 2.
        let now: Vec<f32> = recent
            .iter()
            .zip([7.0, 4.0])
            .map(|(m, h)| m + 0.5 * (h - m))
            .collect();
        assert_eq!(a.recent, now);
        let mut code = [0.0, 0.0];
        a.apply(&mut code);
        assert!((code[0] - (2.0 - now[0])).abs() < 1e-6, "{code:?}");
        assert!((code[1] - (4.0 - now[1])).abs() < 1e-6, "{code:?}");
    }

    #[test]
    fn a_label_shift_does_not_move_the_correction_and_a_new_view_does() {
        // Two classes with codes (1, 0) and (0, 1); calibration on 20 frames, balanced.
        let mut a = HiddenAlignment::new(2, 2, 20, 10);
        for i in 0..20 {
            let class = i % 2;
            a.observe(if class == 0 { &[1.0, 0.0] } else { &[0.0, 1.0] }, class);
        }
        // Class 0 alone for 50 frames, codes unchanged: no correction (a pooled mean would
        // move to (1, 0) and correct by (-0.5, +0.5)).
        for _ in 0..50 {
            a.observe(&[1.0, 0.0], 0);
        }
        assert!(
            a.correction().iter().all(|c| c.abs() < 1e-6),
            "{:?}",
            a.correction()
        );
        // A new view adds 0.4 to unit 0 in both classes: the correction becomes -0.4 there.
        for i in 0..200 {
            let class = i % 2;
            a.observe(if class == 0 { &[1.4, 0.0] } else { &[0.4, 1.0] }, class);
        }
        let c = a.correction();
        assert!((c[0] + 0.4).abs() < 1e-3 && c[1].abs() < 1e-3, "{c:?}");
        a.reset_recent();
        assert!(a.correction().iter().all(|c| c.abs() < 1e-6));
    }

    #[test]
    fn bad_codes_and_classes_are_ignored() {
        let mut a = HiddenAlignment::new(2, 2, 1, 1);
        a.observe(&[f32::NAN, 1.0], 0);
        a.observe(&[1.0], 0);
        a.observe(&[1.0, 1.0], 2);
        assert_eq!(a.observed, 0);
    }

    #[test]
    fn json_round_trips_exactly_and_damage_is_refused() {
        let mut a = HiddenAlignment::new(3, 2, 2, 5);
        a.observe(&[0.1, 2.5e-7, 3.3], 0);
        a.observe(&[1.0 / 3.0, 0.0, -7.25], 1);
        a.observe(&[0.5, 0.25, 1.0], 1);
        let back = HiddenAlignment::from_json(&a.to_json(), 3, 2, 2, 5).unwrap();
        assert_eq!(back, a);
        assert!(HiddenAlignment::from_json(&a.to_json(), 4, 2, 2, 5).is_none());
        assert!(HiddenAlignment::from_json(&a.to_json(), 3, 3, 2, 5).is_none());
        assert!(HiddenAlignment::from_json(&Value::Null, 3, 2, 2, 5).is_none());
        let mut damaged = a.to_json();
        damaged["recent"][1] = json!("x");
        assert!(HiddenAlignment::from_json(&damaged, 3, 2, 2, 5).is_none());
        // The pooled record of earlier versions (no classes) starts afresh.
        let pooled =
            json!({"reference": [0.0, 0.0, 0.0], "recent": [0.0, 0.0, 0.0], "observed": 3});
        assert!(HiddenAlignment::from_json(&pooled, 3, 2, 2, 5).is_none());
    }
}
