//! Hebbian layer updates with candle tensors, for HebbNet (Gupta et al., ICASSP 2021): the
//! minibatch form of the rules in [`plastic_runtime::learn::hebbian`] (see there for the
//! equations). A layer is `z = relu(x W^T)`, `W` of shape `[out, in]`, `x` of shape `[B, in]`.
//! Tests hold each to the runtime's slice version.

use candle_core::{DType, Tensor};

use crate::Result;
use crate::kth_value::KthSmallest;

/// Which Hebbian rule updates a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HebbianRule {
    /// `dW = eta z^T x`.
    Hebb,
    /// `dW = eta z^T (x - z W)` (Oja's subspace rule, as the reference coded it).
    Oja,
    /// Gupta: `eta (z^T x - running mean)`, top `(100 - percentile) %` of entries kept.
    Gupta {
        /// The percentile `p` below which update entries are dropped.
        percentile: f32,
    },
}

/// `z = relu(x W^T)`.
pub fn forward(w: &Tensor, x: &Tensor) -> Result<Tensor> {
    Ok(x.matmul(&w.t()?)?.relu()?)
}

/// Plain Hebb on a minibatch: `W + eta z^T x`, with `z = forward(w, x)` given.
pub fn hebb_step(w: &Tensor, x: &Tensor, z: &Tensor, eta: f32) -> Result<Tensor> {
    Ok((w + (z.t()?.matmul(x)? * f64::from(eta))?)?)
}

/// Oja's subspace rule on a minibatch: `W + eta z^T (x - z W)`, with `z = forward(w, x)`.
pub fn oja_step(w: &Tensor, x: &Tensor, z: &Tensor, eta: f32) -> Result<Tensor> {
    let residual = (x - z.matmul(w)?)?;
    Ok((w + (z.t()?.matmul(&residual)? * f64::from(eta))?)?)
}

/// Gupta's rule: the running mean of past Hebbian products lives here.
#[derive(Debug, Clone)]
pub struct GuptaState {
    mean: Tensor,
    steps: u32,
    percentile: f32,
}

impl GuptaState {
    /// Zero mean for a layer shaped like `w`.
    pub fn new(w: &Tensor, percentile: f32) -> Result<Self> {
        Ok(Self {
            mean: w.zeros_like()?,
            steps: 0,
            percentile: percentile.clamp(0.0, 100.0),
        })
    }

    /// One step, with `z = forward(w, x)` given: returns the new weights.
    pub fn step(&mut self, w: &Tensor, x: &Tensor, z: &Tensor, eta: f32) -> Result<Tensor> {
        let h = z.t()?.matmul(x)?;
        let delta = ((&h - &self.mean)? * f64::from(eta))?;
        let t = f64::from(self.steps);
        self.mean = ((((&self.mean * t)? + &h)?) / (t + 1.0))?;
        self.steps = self.steps.saturating_add(1);
        // The percentile over all entries, found where delta lives (on a GPU, without
        // reading it back).
        let len = delta.elem_count();
        let rank = ((self.percentile / 100.0) * len as f32) as usize;
        if rank >= len {
            return Ok(w.clone());
        }
        let threshold = delta
            .flatten_all()?
            .apply_op1_no_bwd(&KthSmallest { k: rank })?
            .reshape((1, 1))?;
        let keep = delta.broadcast_ge(&threshold)?.to_dtype(DType::F32)?;
        Ok((w + (delta * keep)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use plastic_runtime::learn::hebbian::{Gupta, hebb_update, oja_update, relu_forward};

    const OUT: usize = 5;
    const IN: usize = 7;

    fn random(seed: u64, n: usize) -> Vec<f32> {
        crate::rng::seeded(seed).uniform_vec(n, 1.0)
    }

    fn tensor(v: &[f32], rows: usize, cols: usize) -> Tensor {
        Tensor::from_slice(v, (rows, cols), &Device::Cpu).unwrap()
    }

    fn close(a: &Tensor, b: &[f32]) {
        let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }

    #[test]
    fn candle_hebb_equals_the_runtime_rule_summed_over_the_batch() {
        let (w0, xs) = (random(1, OUT * IN), random(2, 3 * IN));
        let (wt, xt) = (tensor(&w0, OUT, IN), tensor(&xs, 3, IN));
        let candle = hebb_step(&wt, &xt, &forward(&wt, &xt).unwrap(), 0.05).unwrap();
        let mut w = w0.clone();
        for x in xs.chunks_exact(IN) {
            let mut z = [0.0; OUT];
            relu_forward(&w0, x, &mut z);
            hebb_update(&mut w, x, &z, 0.05).unwrap();
        }
        close(&candle, &w);
    }

    #[test]
    fn candle_oja_equals_the_runtime_rule() {
        let (w0, x) = (random(3, OUT * IN), random(4, IN));
        let (wt, xt) = (tensor(&w0, OUT, IN), tensor(&x, 1, IN));
        let candle = oja_step(&wt, &xt, &forward(&wt, &xt).unwrap(), 0.05).unwrap();
        let mut w = w0.clone();
        let mut z = [0.0; OUT];
        relu_forward(&w0, &x, &mut z);
        oja_update(&mut w, &x, &z, 0.05, &mut [0.0; IN]).unwrap();
        close(&candle, &w);
    }

    #[test]
    fn candle_gupta_equals_the_runtime_rule_over_two_steps() {
        let w0 = random(5, OUT * IN);
        let mut state = GuptaState::new(&tensor(&w0, OUT, IN), 60.0).unwrap();
        let mut rule = Gupta::new(OUT, IN, 60.0);
        let (mut wt, mut w) = (tensor(&w0, OUT, IN), w0.clone());
        for step in 0..2 {
            let xs = random(10 + step, 3 * IN);
            let mut zs = vec![0.0; 3 * OUT];
            for (x, z) in xs.chunks_exact(IN).zip(zs.chunks_exact_mut(OUT)) {
                relu_forward(&w, x, z);
            }
            let xt = tensor(&xs, 3, IN);
            wt = state
                .step(&wt, &xt, &forward(&wt, &xt).unwrap(), 0.1)
                .unwrap();
            rule.update(&mut w, &xs, &zs, 0.1).unwrap();
            close(&wt, &w);
        }
    }
}
