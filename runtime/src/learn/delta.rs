//! The delta rule (Widrow & Hoff 1960, least mean squares) for a readout `y = S h + b`:
//!
//! ```text
//! dS_cj = eta (t_c - y_c) h_j,    db_c = eta (t_c - y_c)
//! ```
//!
//! `y` is what the readout answered (for the paper's `tanh` head, the tanh outputs `c`, with
//! targets `t = +-1`), `t` the label a person gave (a button press). The error of the output
//! itself, times the readout's own input: local, one layer, no backprop.

use crate::{Error, Result};

/// Targets for class `label` of `classes`: `hi` for the label, `lo` elsewhere (`+1 / -1` for
/// a tanh head, `1 / 0` for a linear one).
pub fn one_hot(label: usize, hi: f32, lo: f32, targets: &mut [f32]) {
    for (c, t) in targets.iter_mut().enumerate() {
        *t = if c == label { hi } else { lo };
    }
}

/// One delta-rule step on the `[classes, hidden]` readout `s` (and bias `b`, if any).
pub fn delta_update(
    s: &mut [f32],
    b: Option<&mut [f32]>,
    h: &[f32],
    y: &[f32],
    t: &[f32],
    eta: f32,
) -> Result<()> {
    if s.len() != h.len() * y.len() || y.len() != t.len() {
        return Err(Error::WrongLength {
            what: "delta-rule readout",
            expected: h.len() * y.len(),
            found: s.len(),
        });
    }
    for ((row, &yc), &tc) in s.chunks_exact_mut(h.len()).zip(y).zip(t) {
        let e = eta * (tc - yc);
        for (w, &hj) in row.iter_mut().zip(h) {
            *w += e * hj;
        }
    }
    if let Some(b) = b {
        for ((bc, &yc), &tc) in b.iter_mut().zip(y).zip(t) {
            *bc += eta * (tc - yc);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_rule_matches_hand_computation() {
        // S = [[0, 0], [1, 1]], h = [1, 2], y = [0.5, -0.5], t = [1, -1], eta = 0.1:
        // errors [0.5, -0.5]; dS = 0.1 * [[0.5, 1], [-0.5, -1]]; db = [0.05, -0.05].
        let mut s = [0.0, 0.0, 1.0, 1.0];
        let mut b = [0.0, 0.0];
        delta_update(
            &mut s,
            Some(&mut b),
            &[1.0, 2.0],
            &[0.5, -0.5],
            &[1.0, -1.0],
            0.1,
        )
        .unwrap();
        for (a, e) in s.iter().zip([0.05, 0.1, 0.95, 0.9]) {
            assert!((a - e).abs() < 1e-6, "{s:?}");
        }
        assert!((b[0] - 0.05).abs() < 1e-6 && (b[1] + 0.05).abs() < 1e-6);
    }

    #[test]
    fn one_hot_targets() {
        let mut t = [0.0; 3];
        one_hot(1, 1.0, -1.0, &mut t);
        assert_eq!(t, [-1.0, 1.0, -1.0]);
    }
}
