//! The drift indicator: how far the model's recent confidence has fallen below its usual
//! level. A device shows it (the simulator's screen turns it red), and it settles the Krotov
//! layer's learning rate while nothing drifts ([`DriftMonitor::learning_scale`]), so it lives
//! with the rest of the learning policy in the runtime: a firmware and an app get both.
//!
//! Why confidence: a deployed device has no labels, but when its camera changes (a knock that
//! turns it, a smudge, new lighting) the model grows unsure before anyone notices wrong
//! answers. Two running means of the winning class's confidence, a fast one (about 20 frames)
//! and a slow one (about 500), are cheap and allocate nothing; their gap is the indicator.

/// Running means of the prediction's confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftMonitor {
    fast: f32,
    slow: f32,
    frames: u64,
    quiet: u64,
}

/// Weight of each new frame in the fast mean (about 20 frames of memory).
const FAST: f32 = 0.05;
/// ... in the slow mean (about 500 frames).
const SLOW: f32 = 0.002;
/// A gap of this much confidence is shown as drift.
pub const DRIFT_ALERT: f32 = 0.1;

impl Default for DriftMonitor {
    fn default() -> Self {
        Self::new()
    }
}

impl DriftMonitor {
    /// No frames seen.
    pub fn new() -> Self {
        Self {
            fast: 0.0,
            slow: 0.0,
            frames: 0,
            quiet: 0,
        }
    }

    /// Takes one frame's confidence (in 0..=1; anything else, NaN included, is ignored).
    pub fn observe(&mut self, confidence: f32) {
        if !(0.0..=1.0).contains(&confidence) {
            return;
        }
        if self.frames == 0 {
            (self.fast, self.slow) = (confidence, confidence);
        } else {
            self.fast += FAST * (confidence - self.fast);
            self.slow += SLOW * (confidence - self.slow);
        }
        self.frames += 1;
        self.quiet = if self.alert() { 0 } else { self.quiet + 1 };
    }

    /// How far the recent confidence lies below the usual one (0 when it does not).
    pub fn drift(&self) -> f32 {
        (self.slow - self.fast).max(0.0)
    }

    /// The monitor as the state file keeps it, so a device that resumes after a power cut
    /// goes on from its settled rate instead of learning at full rate again.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "fast": self.fast,
            "slow": self.slow,
            "frames": self.frames,
            "quiet": self.quiet,
        })
    }

    /// A monitor from [`DriftMonitor::to_json`]'s form; `None` when anything is missing or out
    /// of range (means outside 0..=1, NaN), so a doctored state cannot set the learning rate.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        let mean = |key: &str| {
            let v = value[key].as_f64()? as f32;
            (0.0..=1.0).contains(&v).then_some(v)
        };
        let monitor = Self {
            fast: mean("fast")?,
            slow: mean("slow")?,
            frames: value["frames"].as_u64()?,
            quiet: value["quiet"].as_u64()?,
        };
        (monitor.quiet <= monitor.frames).then_some(monitor)
    }

    /// Whether the gap is large enough to show as drift.
    pub fn alert(&self) -> bool {
        self.drift() >= DRIFT_ALERT
    }

    /// What share of its learning rate an unsupervised layer should use now: 1 while drift
    /// shows, falling as `settle / (settle + n)` over the `n` frames since it last did (half
    /// after `settle` frames). Why: a Krotov layer that learns at full rate forever wanders
    /// away from what its readout learned (measured over 200,000 frames without labels: 3.5
    /// points below a frozen device before any shift), while a camera change still needs the
    /// full rate. `settle` 0: always 1.
    pub fn learning_scale(&self, settle: u64) -> f32 {
        if settle == 0 {
            1.0
        } else {
            settle as f32 / (settle + self.quiet) as f32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_stream_shows_no_drift_and_a_drop_in_confidence_does() {
        let mut m = DriftMonitor::new();
        for _ in 0..2000 {
            m.observe(0.9);
        }
        assert_eq!(m.drift(), 0.0);
        assert!(!m.alert());
        // The camera changes: confidence falls to 0.6. Within 20 frames the fast mean has
        // covered 1 - 0.95^20 = 64 % of the fall (0.19), the slow one 4 % (0.01).
        for _ in 0..20 {
            m.observe(0.6);
        }
        assert!(m.alert(), "drift {}", m.drift());
        assert!((m.drift() - 0.18).abs() < 0.02, "drift {}", m.drift());
        // Garbage does not move it.
        let before = m;
        m.observe(f32::NAN);
        m.observe(7.0);
        assert_eq!(m, before);
    }

    #[test]
    fn the_learning_rate_settles_while_nothing_drifts_and_comes_back_with_drift() {
        let mut m = DriftMonitor::new();
        assert_eq!(m.learning_scale(100), 1.0);
        for _ in 0..100 {
            m.observe(0.9);
        }
        assert_eq!(m.learning_scale(100), 0.5);
        assert_eq!(m.learning_scale(0), 1.0);
        for _ in 0..200 {
            m.observe(0.9);
        }
        assert_eq!(m.learning_scale(100), 0.25);
        // The camera changes: within 20 frames the alert is up and the rate is whole again.
        for _ in 0..20 {
            m.observe(0.6);
        }
        assert_eq!(m.learning_scale(100), 1.0);
    }

    #[test]
    fn the_indicator_settles_once_the_new_level_is_the_usual_one() {
        let mut m = DriftMonitor::new();
        for _ in 0..1000 {
            m.observe(0.9);
        }
        for _ in 0..5000 {
            m.observe(0.6);
        }
        assert!(m.drift() < 0.01 && !m.alert(), "drift {}", m.drift());
    }

    #[test]
    fn a_saved_monitor_comes_back_equal_and_a_doctored_one_does_not_come_back() {
        let mut m = DriftMonitor::new();
        for i in 0..700 {
            m.observe(if i < 600 { 0.9 } else { 0.5 });
        }
        let saved = m.to_json();
        assert_eq!(DriftMonitor::from_json(&saved), Some(m));
        // Through text, as the state file stores it.
        let text = serde_json::to_string(&saved).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(DriftMonitor::from_json(&back), Some(m));

        for (key, bad) in [
            ("fast", serde_json::json!(1.5)),
            ("slow", serde_json::json!(-0.1)),
            ("slow", serde_json::json!("0.5")),
            ("frames", serde_json::json!(-3)),
            ("quiet", serde_json::json!(100_000)),
        ] {
            let mut doctored = saved.clone();
            doctored[key] = bad;
            assert_eq!(DriftMonitor::from_json(&doctored), None, "{key}");
        }
        assert_eq!(DriftMonitor::from_json(&serde_json::Value::Null), None);
    }
}
