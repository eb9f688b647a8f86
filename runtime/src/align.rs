//! Keeps the hidden code where the readout expects it when the camera changes.
//!
//! Why: the readout was fitted to the hidden code of one camera. A new camera (turned,
//! blurred, lit differently) changes which hidden units fire and how much, on average, before
//! any unit has had time to learn the new view, and the readout then reads a code that is
//! offset from the one it knows. [`HiddenAlignment`] measures the offset and removes it: the
//! mean code of the first `calibration` frames is the reference, an exponential mean over the
//! last `horizon` frames is the current one, and inference adds `reference - recent` to every
//! code. This is the hidden-layer analogue of re-estimating batch-norm statistics on the new
//! domain (AdaBN, Li et al. 2016) and of mean alignment in CORAL (Sun et al. 2016): no labels, no
//! weights change, and when the original camera comes back, the recent mean returns to the
//! reference and the correction vanishes by itself.
//!
//! Measured on `plastic-sim --camera synthetic:mnist-drift` (seeds 0 to 5, labels on 5 % of
//! frames): after a 25-degree camera turn it adds 2 to 5 points to the share of the drop won
//! back; on `mnist-return` without labels (rate 0.01) the original camera comes back 1.1 points
//! below where it was instead of 3.5 (see docs/RESULTS.md).

use alloc::vec;
use alloc::vec::Vec;
use serde_json::{Value, json};

/// Frames whose mean hidden code becomes the reference, by default.
pub const DEFAULT_CALIBRATION_FRAMES: u64 = 1000;
/// Frames the recent mean spans, by default: long enough to average over every class (a few
/// dozen digits each), short enough to follow a new camera within a few hundred frames.
pub const DEFAULT_HORIZON_FRAMES: u32 = 500;

/// Running means of the hidden code: the reference (first frames) and the recent one.
#[derive(Debug, Clone, PartialEq)]
pub struct HiddenAlignment {
    reference: Vec<f32>,
    recent: Vec<f32>,
    observed: u64,
    calibration: u64,
    horizon: u32,
}

impl HiddenAlignment {
    /// Fresh statistics for `units` hidden units: the first `calibration` observed codes set
    /// the reference (at least 1), the recent mean spans `horizon` frames (at least 1).
    pub fn new(units: usize, calibration: u64, horizon: u32) -> Self {
        Self {
            reference: vec![0.0; units],
            recent: vec![0.0; units],
            observed: 0,
            calibration: calibration.max(1),
            horizon: horizon.max(1),
        }
    }

    /// Statistics saved earlier (see [`HiddenAlignment::parts`]); `None` when the vectors'
    /// lengths differ from `units` or from each other, or hold a non-finite value, so that a
    /// damaged state starts afresh instead of skewing every code.
    pub fn from_parts(
        units: usize,
        reference: Vec<f32>,
        recent: Vec<f32>,
        observed: u64,
        calibration: u64,
        horizon: u32,
    ) -> Option<Self> {
        let sound = |v: &[f32]| v.len() == units && v.iter().all(|x| x.is_finite());
        (sound(&reference) && sound(&recent)).then(|| Self {
            reference,
            recent,
            observed,
            calibration: calibration.max(1),
            horizon: horizon.max(1),
        })
    }

    /// The same statistics under another schedule: the first `calibration` codes set the
    /// reference (at least 1), the recent mean spans `horizon` frames (at least 1).
    pub fn with_schedule(self, calibration: u64, horizon: u32) -> Self {
        Self {
            calibration: calibration.max(1),
            horizon: horizon.max(1),
            ..self
        }
    }

    /// The reference mean, the recent mean and the number of codes observed.
    pub fn parts(&self) -> (&[f32], &[f32], u64) {
        (&self.reference, &self.recent, self.observed)
    }

    /// The statistics as saved in a state's metadata (the calibration length and horizon are
    /// options of the run, not state).
    pub fn to_json(&self) -> Value {
        json!({
            "reference": self.reference,
            "recent": self.recent,
            "observed": self.observed,
        })
    }

    /// From [`HiddenAlignment::to_json`], with the run's `calibration` and `horizon`; `None`
    /// when anything is missing or damaged (see [`HiddenAlignment::from_parts`]).
    pub fn from_json(value: &Value, units: usize, calibration: u64, horizon: u32) -> Option<Self> {
        let floats = |key: &str| -> Option<Vec<f32>> {
            value[key]
                .as_array()?
                .iter()
                .map(|v| v.as_f64().map(|x| x as f32))
                .collect()
        };
        let observed = value["observed"].as_u64()?;
        Self::from_parts(
            units,
            floats("reference")?,
            floats("recent")?,
            observed,
            calibration,
            horizon,
        )
    }

    /// Hidden units covered.
    pub fn units(&self) -> usize {
        self.reference.len()
    }

    /// Whether the reference is complete and codes are being corrected.
    pub fn calibrated(&self) -> bool {
        self.observed >= self.calibration
    }

    /// Takes one uncorrected hidden code into the means. During calibration the reference is
    /// the plain mean of the codes so far; the recent mean is exponential with rate
    /// `1 / min(horizon, observed)` (a plain mean until `horizon` codes have been seen).
    pub fn observe(&mut self, code: &[f32]) {
        if code.len() != self.units() || code.iter().any(|x| !x.is_finite()) {
            return;
        }
        self.observed = self.observed.saturating_add(1);
        let n = self.observed;
        let rate = 1.0 / (n.min(u64::from(self.horizon)) as f32);
        for (m, &h) in self.recent.iter_mut().zip(code) {
            *m += rate * (h - *m);
        }
        if n <= self.calibration {
            let rate = 1.0 / n as f32;
            for (m, &h) in self.reference.iter_mut().zip(code) {
                *m += rate * (h - *m);
            }
        }
    }

    /// Adds `reference - recent` to `code` once calibrated (unchanged before).
    pub fn apply(&self, code: &mut [f32]) {
        if !self.calibrated() {
            return;
        }
        for ((h, &r), &m) in code.iter_mut().zip(&self.reference).zip(&self.recent) {
            *h += r - m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_untouched_until_the_reference_is_complete() {
        let mut a = HiddenAlignment::new(2, 2, 4);
        a.observe(&[1.0, 3.0]);
        let mut code = [5.0, 5.0];
        a.apply(&mut code);
        assert_eq!(code, [5.0, 5.0]);
        assert!(!a.calibrated());
    }

    #[test]
    fn the_correction_is_reference_minus_recent_mean_by_hand() {
        // Calibration 2, horizon 2: reference = mean of the first two codes; the recent mean
        // takes the third code at rate 1/2.
        let mut a = HiddenAlignment::new(2, 2, 2);
        a.observe(&[1.0, 3.0]);
        a.observe(&[3.0, 5.0]);
        assert_eq!(a.parts(), (&[2.0, 4.0][..], &[2.0, 4.0][..], 2));
        let mut code = [7.0, 7.0];
        a.apply(&mut code);
        assert_eq!(code, [7.0, 7.0], "same camera, no correction");

        a.observe(&[6.0, 4.0]);
        // recent = (2 + (6 - 2) / 2, 4 + (4 - 4) / 2) = (4, 4); the reference stays (2, 4).
        assert_eq!(a.parts(), (&[2.0, 4.0][..], &[4.0, 4.0][..], 3));
        let mut code = [7.0, 7.0];
        a.apply(&mut code);
        assert_eq!(code, [5.0, 7.0]);
    }

    #[test]
    fn bad_codes_and_damaged_parts_are_refused() {
        let mut a = HiddenAlignment::new(2, 1, 1);
        a.observe(&[f32::NAN, 1.0]);
        a.observe(&[1.0]);
        assert_eq!(a.parts().2, 0);
        assert!(HiddenAlignment::from_parts(2, vec![0.0; 2], vec![0.0; 3], 5, 1, 1).is_none());
        assert!(
            HiddenAlignment::from_parts(2, vec![0.0, f32::INFINITY], vec![0.0; 2], 5, 1, 1)
                .is_none()
        );
        let back = HiddenAlignment::from_parts(2, vec![1.0, 2.0], vec![3.0, 4.0], 5, 1, 1).unwrap();
        assert_eq!(back.parts(), (&[1.0, 2.0][..], &[3.0, 4.0][..], 5));
    }

    #[test]
    fn json_round_trips_exactly() {
        let mut a = HiddenAlignment::new(3, 2, 5);
        a.observe(&[0.1, 2.5e-7, 3.3]);
        a.observe(&[1.0 / 3.0, 0.0, -7.25]);
        let back = HiddenAlignment::from_json(&a.to_json(), 3, 2, 5).unwrap();
        assert_eq!(back, a);
        assert!(HiddenAlignment::from_json(&a.to_json(), 4, 2, 5).is_none());
        assert!(HiddenAlignment::from_json(&Value::Null, 3, 2, 5).is_none());
    }
}
