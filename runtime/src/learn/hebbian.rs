//! Hebbian rules for a layer `z = relu(W x)`, `W` of shape `[out, in]` (row `W_j` belongs to
//! output unit `j`), as used by HebbNet (Gupta et al., ICASSP 2021). Symbols: `x` the input,
//! `z` the layer's output, `eta` the learning rate. All three read only the layer's own input,
//! output and weights: no error signal reaches them.
//!
//! ```text
//! plain Hebb:    dW_ji = eta z_j x_i
//! Oja (subspace, as the reference HebbNet coded it; Oja 1989):
//!                dW_ji = eta z_j (x_i - sum_k W_ki z_k)
//! Gupta:         H_ji = z_j x_i;  dW = eta (H - M), M the running mean of past H;
//!                only the entries of dW at or above its p-th percentile are kept
//! ```
//!
//! Minibatches sum the per-sample updates (as `x^T z` does in the reference code).

use alloc::vec;
use alloc::vec::Vec;

use crate::{Error, Result};

fn check(w: &[f32], x: &[f32], z: &[f32]) -> Result<()> {
    if w.len() != x.len() * z.len() {
        return Err(Error::WrongLength {
            what: "Hebbian weights",
            expected: x.len() * z.len(),
            found: w.len(),
        });
    }
    Ok(())
}

/// `z = relu(W x)`: the layer's output, needed by every rule.
pub fn relu_forward(w: &[f32], x: &[f32], z: &mut [f32]) {
    crate::kernels::matvec_f32(w, x, z);
    z.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// Plain Hebb, one sample: `W_ji += eta z_j x_i`.
pub fn hebb_update(w: &mut [f32], x: &[f32], z: &[f32], eta: f32) -> Result<()> {
    check(w, x, z)?;
    for (row, &zj) in w.chunks_exact_mut(x.len()).zip(z) {
        let g = eta * zj;
        for (wi, &xi) in row.iter_mut().zip(x) {
            *wi += g * xi;
        }
    }
    Ok(())
}

/// Oja's subspace rule, one sample: `W_ji += eta z_j (x_i - sum_k W_ki z_k)`.
/// `residual` is scratch of length `x.len()` (no allocation).
pub fn oja_update(
    w: &mut [f32],
    x: &[f32],
    z: &[f32],
    eta: f32,
    residual: &mut [f32],
) -> Result<()> {
    check(w, x, z)?;
    // residual_i = x_i - sum_k W_ki z_k, from the weights before the update.
    residual.copy_from_slice(x);
    for (row, &zk) in w.chunks_exact(x.len()).zip(z) {
        for (r, &wi) in residual.iter_mut().zip(row) {
            *r -= wi * zk;
        }
    }
    for (row, &zj) in w.chunks_exact_mut(x.len()).zip(z) {
        let g = eta * zj;
        for (wi, &ri) in row.iter_mut().zip(residual.iter()) {
            *wi += g * ri;
        }
    }
    Ok(())
}

/// State of Gupta's rule: the running mean of past Hebbian products and two scratch buffers
/// (the update, and a copy to find its percentile), all sized at construction.
#[derive(Debug, Clone)]
pub struct Gupta {
    outputs: usize,
    inputs: usize,
    mean: Vec<f32>,
    delta: Vec<f32>,
    sorted: Vec<f32>,
    steps: u32,
    /// Percentile `p` (0..100): the top `(100 - p) %` of the update's entries are kept.
    pub percentile: f32,
}

impl Gupta {
    /// State for a `[outputs, inputs]` layer.
    pub fn new(outputs: usize, inputs: usize, percentile: f32) -> Self {
        let n = outputs * inputs;
        Self {
            outputs,
            inputs,
            mean: vec![0.0; n],
            delta: vec![0.0; n],
            sorted: vec![0.0; n],
            steps: 0,
            percentile: percentile.clamp(0.0, 100.0),
        }
    }

    /// One step on a minibatch `xs` (`[B, inputs]`) with outputs `zs` (`[B, outputs]`):
    /// `H = sum_b z_b x_b^T`; `dW = eta (H - M)`, `M` the mean of the `H` of earlier steps (zero
    /// at the first); entries of `dW` below its `percentile`-th value are dropped; `W += dW`;
    /// then `H` joins the mean. Returns how many weights changed.
    pub fn update(&mut self, w: &mut [f32], xs: &[f32], zs: &[f32], eta: f32) -> Result<usize> {
        let n = self.mean.len();
        let batch = xs.len() / self.inputs.max(1);
        if w.len() != n || xs.len() != batch * self.inputs || zs.len() != batch * self.outputs {
            return Err(Error::WrongLength {
                what: "Gupta weights or minibatch",
                expected: n,
                found: w.len(),
            });
        }
        // delta = H
        self.delta.fill(0.0);
        for (x, z) in xs
            .chunks_exact(self.inputs)
            .zip(zs.chunks_exact(self.outputs))
        {
            for (h_row, &zj) in self.delta.chunks_exact_mut(self.inputs).zip(z) {
                for (h, &xi) in h_row.iter_mut().zip(x) {
                    *h += zj * xi;
                }
            }
        }
        // mean <- (t M + H) / (t + 1), keeping M for the update: dW = eta (H - M_old).
        let t = self.steps as f32;
        for ((d, m), s) in self
            .delta
            .iter_mut()
            .zip(&mut self.mean)
            .zip(&mut self.sorted)
        {
            let h = *d;
            *d = eta * (h - *m);
            *m = (t * *m + h) / (t + 1.0);
            *s = *d;
        }
        self.steps = self.steps.saturating_add(1);
        let rank = ((self.percentile / 100.0) * n as f32) as usize;
        let threshold = if rank >= n {
            f32::INFINITY
        } else {
            *self.sorted.select_nth_unstable_by(rank, f32::total_cmp).1
        };
        let mut changed = 0;
        for (wi, &d) in w.iter_mut().zip(&self.delta) {
            if d >= threshold {
                *wi += d;
                changed += 1;
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hebb_adds_eta_z_x() {
        // W = [[1, 0], [0, 1]], x = [1, 2], z = [1, 0]: only row 0 grows, by 0.1 * [1, 2].
        let mut w = [1.0, 0.0, 0.0, 1.0];
        hebb_update(&mut w, &[1.0, 2.0], &[1.0, 0.0], 0.1).unwrap();
        assert_eq!(w, [1.1, 0.2, 0.0, 1.0]);
    }

    #[test]
    fn oja_subtracts_the_reconstruction() {
        // W = [[1, 0], [0, 0.5]], x = [1, 2]: z = relu(W x) = [1, 1];
        // residual = x - W^T z = [1 - 1, 2 - 0.5] = [0, 1.5];
        // dW_j = 0.1 z_j residual = [0, 0.15] for both rows.
        let mut w = [1.0, 0.0, 0.0, 0.5];
        let x = [1.0, 2.0];
        let mut z = [0.0; 2];
        relu_forward(&w, &x, &mut z);
        assert_eq!(z, [1.0, 1.0]);
        let mut r = [0.0; 2];
        oja_update(&mut w, &x, &z, 0.1, &mut r).unwrap();
        for (a, b) in w.iter().zip([1.0, 0.15, 0.0, 0.65]) {
            assert!((a - b).abs() < 1e-6, "{w:?}");
        }
    }

    #[test]
    fn gupta_keeps_the_top_entries_and_subtracts_the_running_mean() {
        // One output, four inputs. Step 1: H = z x^T = 2 * [1, 2, 3, 4] = [2, 4, 6, 8], M = 0:
        // dW = 0.5 H = [1, 2, 3, 4]; percentile 50 keeps the top half: [0, 0, 3, 4].
        let mut g = Gupta::new(1, 4, 50.0);
        let mut w = [0.0; 4];
        let changed = g
            .update(&mut w, &[1.0, 2.0, 3.0, 4.0], &[2.0], 0.5)
            .unwrap();
        assert_eq!((changed, w), (2, [0.0, 0.0, 3.0, 4.0]));
        // Step 2: H = 1 * [4, 3, 2, 1]; M = [2, 4, 6, 8]: dW = 0.5 (H - M) = [1, -0.5, -2, -3.5];
        // the top half is [1, -0.5].
        let changed = g
            .update(&mut w, &[4.0, 3.0, 2.0, 1.0], &[1.0], 0.5)
            .unwrap();
        assert_eq!((changed, w), (2, [1.0, -0.5, 3.0, 4.0]));
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let mut w = [0.0; 3];
        assert!(hebb_update(&mut w, &[1.0, 2.0], &[1.0], 0.1).is_err());
        let mut g = Gupta::new(1, 4, 50.0);
        assert!(g.update(&mut [0.0; 4], &[1.0; 3], &[1.0], 0.1).is_err());
    }
}
