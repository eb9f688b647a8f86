//! SoftHebb (Journé, Garcia Rodriguez, Guo & Moraitis, "Hebbian deep learning without
//! feedback", ICLR 2023): a soft winner-take-all Hebbian rule for a layer of `out` units over
//! input patches of length `n` (a convolution's `in_channels * k * k`, or a dense input).
//!
//! ```text
//! u_c    = <W_c, x>                                     (pre-activation of unit c)
//! y_c    = softmax(u / tau)_c, negated for every c but the winner argmax_c u_c
//! dW_c   = sum_patches y_c (x - u_c W_c)                (Hebbian term and its decay)
//! W_c   += lr_c dW_c / max |dW|                         (max over the whole layer)
//! lr_c   = lr0 sqrt(| ||W_c||_2 - 1 | + 1e-10)          (a unit at norm 1 stops moving)
//! ```
//!
//! The decay `u_c W_c` pulls each row to unit norm (Oja's term, weighted by the soft
//! activation); the negated non-winners push the units apart, so they tile the inputs without
//! any feedback. [`SoftHebbStep`] accumulates `dW` over the patches of a minibatch (or of one
//! camera frame) and applies it; the trainer's candle version is held to it in a test.

use alloc::vec;
use alloc::vec::Vec;

use crate::{Error, Result};

/// Floor of the normaliser `max |dW|` (as the Krotov rule's).
pub const PREC: f32 = 1e-30;

/// The added floor inside the adaptive rate's square root (the paper's code).
pub const RATE_FLOOR: f32 = 1e-10;

/// `y = softmax(u / tau)` over the units, then every unit but the winner (the largest `u`,
/// the lower index on a tie) negated.
pub fn soft_wta(u: &[f32], inv_tau: f32, y: &mut [f32]) {
    let Some((winner, &top)) =
        u.iter()
            .enumerate()
            .fold(None, |best: Option<(usize, &f32)>, (c, v)| match best {
                Some((_, b)) if *v <= *b => best,
                _ => Some((c, v)),
            })
    else {
        return;
    };
    // Shifted by the largest value so that no exponent overflows.
    let mut sum = 0.0f32;
    for (yc, &uc) in y.iter_mut().zip(u) {
        *yc = libm::expf((uc - top) * inv_tau);
        sum += *yc;
    }
    for (c, yc) in y.iter_mut().enumerate() {
        *yc /= sum;
        if c != winner {
            *yc = -*yc;
        }
    }
}

/// One SoftHebb update of a `[out, n]` layer, accumulated over patches.
#[derive(Debug, Clone)]
pub struct SoftHebbStep {
    n: usize,
    /// `sum y_c x` per unit, `[out, n]`.
    hebb: Vec<f32>,
    /// `sum y_c u_c` per unit.
    decay: Vec<f32>,
    u: Vec<f32>,
    y: Vec<f32>,
}

impl SoftHebbStep {
    /// A step for a layer of `out` units over patches of length `n`.
    pub fn new(out: usize, n: usize) -> Self {
        Self {
            n,
            hebb: vec![0.0; out * n],
            decay: vec![0.0; out],
            u: vec![0.0; out],
            y: vec![0.0; out],
        }
    }

    /// Forgets what was accumulated.
    pub fn clear(&mut self) {
        self.hebb.fill(0.0);
        self.decay.fill(0.0);
    }

    /// Adds one patch `x` seen by the layer `w` (`[out, n]`) at inverse temperature `inv_tau`.
    /// Returns the winning unit.
    pub fn add_patch(&mut self, w: &[f32], x: &[f32], inv_tau: f32) -> Result<usize> {
        let out = self.decay.len();
        if x.len() != self.n || w.len() != out * self.n {
            return Err(Error::WrongLength {
                what: "SoftHebb patch",
                expected: self.n,
                found: x.len(),
            });
        }
        for (uc, row) in self.u.iter_mut().zip(w.chunks_exact(self.n)) {
            *uc = row.iter().zip(x).map(|(a, b)| a * b).sum();
        }
        soft_wta(&self.u, inv_tau, &mut self.y);
        let mut winner = 0;
        for (c, ((&yc, &uc), row)) in self
            .y
            .iter()
            .zip(&self.u)
            .zip(self.hebb.chunks_exact_mut(self.n))
            .enumerate()
        {
            if yc > 0.0 {
                winner = c;
            }
            for (h, &xi) in row.iter_mut().zip(x) {
                *h += yc * xi;
            }
            self.decay[c] += yc * uc;
        }
        Ok(winner)
    }

    /// Applies the accumulated step to `w` with base rate `lr0`: `dW = hebb - decay * W`, scaled
    /// by `1 / max |dW|` and each unit's adaptive rate. Returns `max |dW|`.
    pub fn apply(&self, w: &mut [f32], lr0: f32) -> Result<f32> {
        if w.len() != self.hebb.len() {
            return Err(Error::WrongLength {
                what: "SoftHebb weights",
                expected: self.hebb.len(),
                found: w.len(),
            });
        }
        let n = self.n;
        let mut max_abs = 0.0f32;
        for ((row, hebb), &decay) in w
            .chunks_exact(n)
            .zip(self.hebb.chunks_exact(n))
            .zip(&self.decay)
        {
            for (&wi, &hi) in row.iter().zip(hebb) {
                max_abs = max_abs.max((hi - decay * wi).abs());
            }
        }
        let scale = 1.0 / max_abs.max(PREC);
        for ((row, hebb), &decay) in w
            .chunks_exact_mut(n)
            .zip(self.hebb.chunks_exact(n))
            .zip(&self.decay)
        {
            let rate = adaptive_rate(row, lr0) * scale;
            for (wi, &hi) in row.iter_mut().zip(hebb) {
                *wi += rate * (hi - decay * *wi);
            }
        }
        Ok(max_abs)
    }
}

/// `lr0 * sqrt(| ||w||_2 - 1 | + 1e-10)`: the rate of a unit whose weights are `w`.
pub fn adaptive_rate(w: &[f32], lr0: f32) -> f32 {
    let norm = libm::sqrtf(w.iter().map(|v| v * v).sum::<f32>());
    lr0 * libm::sqrtf((norm - 1.0).abs() + RATE_FLOOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule by hand on one 2x2 patch and two units.
    #[test]
    fn one_patch_by_hand() {
        let w = [1.0f32, 0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0];
        let x = [0.6f32, 0.2, 0.4, 0.0];
        // u = (0.6, 0.1 + 0.2) = (0.6, 0.3); unit 0 wins. With tau = 1:
        let (e0, e1) = (1.0f32, libm::expf(-0.3));
        let (y0, y1) = (e0 / (e0 + e1), -e1 / (e0 + e1));
        let mut y = [0.0; 2];
        soft_wta(&[0.6, 0.3], 1.0, &mut y);
        assert!(
            (y[0] - y0).abs() < 1e-6 && (y[1] - y1).abs() < 1e-6,
            "{y:?}"
        );

        let mut step = SoftHebbStep::new(2, 4);
        assert_eq!(step.add_patch(&w, &x, 1.0).unwrap(), 0);
        // dW_c = y_c (x - u_c W_c)
        let dw: Vec<f32> = (0..8)
            .map(|i| {
                let (c, j) = (i / 4, i % 4);
                let (yc, uc) = if c == 0 { (y0, 0.6) } else { (y1, 0.3) };
                yc * (x[j] - uc * w[i])
            })
            .collect();
        let max = dw.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        // ||W_0|| = 1: its rate is lr0 * sqrt(1e-10); ||W_1|| = sqrt(0.5).
        let lr0 = 0.1f32;
        let rates = [
            lr0 * 1e-5,
            lr0 * libm::sqrtf((libm::sqrtf(0.5) - 1.0).abs() + 1e-10),
        ];
        let mut updated = w;
        assert!((step.apply(&mut updated, lr0).unwrap() - max).abs() < 1e-7);
        for i in 0..8 {
            let expected = w[i] + rates[i / 4] * dw[i] / max;
            assert!(
                (updated[i] - expected).abs() < 1e-6,
                "{i}: {} vs {expected}",
                updated[i]
            );
        }
        // Unit 0, on the unit sphere, barely moved; unit 1 moved.
        assert!((updated[0] - w[0]).abs() < 1e-5);
        assert!((updated[6] - w[6]).abs() > 1e-3);
    }

    #[test]
    fn the_winner_keeps_its_sign_and_ties_go_to_the_lower_index() {
        let mut y = [0.0; 3];
        soft_wta(&[0.2, 0.9, 0.9], 4.0, &mut y);
        assert!(y[1] > 0.0 && y[0] < 0.0 && y[2] < 0.0, "{y:?}");
        let total: f32 = y.iter().map(|v| v.abs()).sum();
        assert!((total - 1.0).abs() < 1e-6);
        let mut step = SoftHebbStep::new(2, 2);
        assert!(step.add_patch(&[1.0; 4], &[1.0], 1.0).is_err());
        assert!(step.apply(&mut [0.0; 3], 0.1).is_err());
    }
}
