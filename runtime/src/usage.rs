//! Which hidden units the device's frames still use: the step at which each unit last won.
//!
//! Why: a label that the model gets wrong may recruit a unit for what it missed (see
//! [`crate::AdaptiveModel::recruit`]), and the unit to give up is the one the camera has not
//! needed for longest. On the demo model, 250 of the 400 Krotov units win no frame of the
//! first 2000 through the simulated camera, so recruiting them costs nothing the device uses.

use alloc::vec;
use alloc::vec::Vec;
use serde_json::{Value, json};

/// The unsupervised step at which each unit last won (0: never), and the steps so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitUsage {
    last_win: Vec<u64>,
    steps: u64,
}

impl UnitUsage {
    /// No unit has won yet.
    pub fn new(units: usize) -> Self {
        Self {
            last_win: vec![0; units],
            steps: 0,
        }
    }

    /// Counts one unsupervised step, won by `winner` (out-of-range winners are ignored).
    pub fn record(&mut self, winner: usize) {
        self.steps = self.steps.saturating_add(1);
        if let Some(w) = self.last_win.get_mut(winner) {
            *w = self.steps;
        }
    }

    /// Marks `unit` as used now (a recruited unit is new, not idle).
    pub fn mark(&mut self, unit: usize) {
        if let Some(w) = self.last_win.get_mut(unit) {
            *w = self.steps;
        }
    }

    /// The unit that has gone longest without winning (the lowest index among ties).
    pub fn least_recent(&self) -> Option<usize> {
        (0..self.last_win.len()).min_by_key(|&mu| self.last_win[mu])
    }

    /// As saved in a state's metadata.
    pub fn to_json(&self) -> Value {
        json!({ "last_win": self.last_win, "steps": self.steps })
    }

    /// From [`UnitUsage::to_json`]; `None` unless it covers exactly `units` units and no unit
    /// won after the last step.
    pub fn from_json(value: &Value, units: usize) -> Option<Self> {
        let steps = value["steps"].as_u64()?;
        let last_win = value["last_win"]
            .as_array()?
            .iter()
            .map(|v| v.as_u64().filter(|&s| s <= steps))
            .collect::<Option<Vec<u64>>>()?;
        (last_win.len() == units).then_some(Self { last_win, steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recent_unit_is_the_one_idle_longest() {
        let mut u = UnitUsage::new(3);
        assert_eq!(u.least_recent(), Some(0));
        u.record(0);
        u.record(2);
        assert_eq!(u.least_recent(), Some(1), "unit 1 never won");
        u.record(1);
        assert_eq!(u.least_recent(), Some(0), "unit 0 won at step 1");
        u.mark(0);
        assert_eq!(u.least_recent(), Some(2));
    }

    #[test]
    fn json_round_trips_and_damage_is_refused() {
        let mut u = UnitUsage::new(2);
        u.record(1);
        let back = UnitUsage::from_json(&u.to_json(), 2).unwrap();
        assert_eq!(back, u);
        assert!(UnitUsage::from_json(&u.to_json(), 3).is_none());
        assert!(UnitUsage::from_json(&json!({"last_win": [0, 9], "steps": 1}), 2).is_none());
        assert!(UnitUsage::from_json(&json!({"last_win": [0, -1], "steps": 1}), 2).is_none());
        assert!(UnitUsage::from_json(&Value::Null, 2).is_none());
    }
}
