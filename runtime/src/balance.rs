//! Label steps weighed so that every class teaches the device at the same pace.
//!
//! Why: a device's labels come in the mix its camera sees, and that mix shifts (a sorting line
//! that runs one product for an hour, a user who labels the digit they are working on). The
//! delta rule and the supervised Krotov step move toward each label a fixed step, so a class
//! that fills the labels pulls the readout toward itself and the others fade: on
//! `synthetic:one-class` (70 % eights for 2000 frames) labels on 5 % of frames cost 12 points
//! against a frozen device. Weighing each step by `min(1, (1 / classes) / f_c)`, with `f_c` the
//! class's share of the recent labels, caps every class's total pull at what a balanced stream
//! gives, and leaves a balanced stream's steps as they were (inverse-frequency weighting, as
//! class-balanced losses and reservoirs do in continual learning).

use alloc::vec;
use alloc::vec::Vec;

/// Weight of one label in the running class shares (about the last 100 labels; the shares
/// start uniform, so a device's first labels keep nearly full steps).
const SHARE_RATE: f32 = 0.01;

/// Running shares of the classes among the labels, and the step weights they give.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelBalance {
    shares: Vec<f32>,
    seen: u64,
}

impl LabelBalance {
    /// No labels seen, `classes` classes (at least 1).
    pub fn new(classes: usize) -> Self {
        let classes = classes.max(1);
        Self {
            shares: vec![1.0 / classes as f32; classes],
            seen: 0,
        }
    }

    /// Takes one label and returns the weight of its step: `min(1, (1 / classes) / share)`,
    /// the share including this label. A label out of range changes nothing and weighs 0.
    pub fn weigh(&mut self, label: usize) -> f32 {
        let classes = self.shares.len();
        if label >= classes {
            return 0.0;
        }
        self.seen = self.seen.saturating_add(1);
        // From the uniform prior, so the first labels keep (nearly) full steps.
        let rate = SHARE_RATE;
        for (c, share) in self.shares.iter_mut().enumerate() {
            let hit = if c == label { 1.0 } else { 0.0 };
            *share += rate * (hit - *share);
        }
        let fair = 1.0 / classes as f32;
        (fair / self.shares[label].max(f32::MIN_POSITIVE)).min(1.0)
    }

    /// The classes' running shares of the labels.
    pub fn shares(&self) -> &[f32] {
        &self.shares
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_balanced_stream_keeps_full_steps_and_a_dominant_class_is_weighed_down() {
        let mut b = LabelBalance::new(4);
        // Round-robin labels: every share near 1/4 after a few rounds, weights near 1.
        for round in 0..50 {
            for label in 0..4 {
                let w = b.weigh(label);
                if round >= 10 {
                    assert!(w > 0.9, "round {round}, label {label}: {w}");
                }
            }
        }
        // By hand on a fresh one (shares start at 1/4): label 0 -> share 0.25 + 0.01 * 0.75 =
        // 0.2575, weight 0.25 / 0.2575; again -> 0.2575 + 0.01 * 0.7425 = 0.264925.
        let mut b = LabelBalance::new(4);
        assert!((b.weigh(0) - 0.25 / 0.2575).abs() < 1e-6);
        assert!((b.weigh(0) - 0.25 / 0.264_925).abs() < 1e-6);
        assert_eq!(b.weigh(9), 0.0);
        // 70 % of the labels one class for long: its weight near (1/4) / 0.7.
        let mut b = LabelBalance::new(4);
        let mut last = 0.0;
        for i in 0..2000 {
            let label = if i % 10 < 7 { 2 } else { i % 4 };
            let w = b.weigh(label);
            if label == 2 {
                last = w;
            }
        }
        assert!((last - 0.25 / 0.775).abs() < 0.05, "{last}");
        assert!((b.shares().iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
}
