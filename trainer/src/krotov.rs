//! Training the Krotov-Hopfield layer (PNAS 2019) with candle.
//!
//! The equations and symbols are those of [`plastic_runtime::learn::krotov`]. Two paths compute
//! the same update:
//! - on the CPU, candle computes the currents of a minibatch (`[B, n] x [n, hidden]`, the only
//!   heavy part) and the runtime's [`KrotovStep`] updates only the rows that won or came k-th —
//!   at most `2B` of `hidden` rows — after which only those rows of `sign(W)|W|^(p-1)` are
//!   refreshed, in place. The reference code rebuilt the dense `[hidden, n]` update and the
//!   whole power matrix every minibatch.
//! - on CUDA, the same sparse rule runs in kernels of its own, with the training set and every
//!   buffer on the device and no host synchronisation inside an epoch (`krotov_cuda`, feature
//!   `cuda`).
//! - on any other candle device, [`dense_step`] does the whole update in tensors; it is also the
//!   baseline `plastic bench` times the other two against.
//!
//! A test holds the dense and the sparse CPU step to the same numbers; on a GPU, a test
//! (feature `cuda`) and `plastic bench --device cuda` hold the CUDA kernels' epochs to the CPU's
//! (measured: weights within 2.4e-7 after two epochs).

use candle_core::{CpuStorage, DType, Device, InplaceOp1, Layout, Storage, Tensor};
use plastic_runtime::learn::krotov::{
    KrotovParams, KrotovStep, MAX_KROTOV_K, PREC, lebesgue_weight, rank_winner_and_kth,
};
use rayon::prelude::*;

use crate::{Error, Result};

/// Hyper-parameters of the unsupervised phase.
#[derive(Debug, Clone, PartialEq)]
pub struct KrotovConfig {
    /// Hidden units (2000 in the paper).
    pub hidden: usize,
    /// The rule's `p`, `k`, `delta` (paper, MNIST: 3, 7, 0.4).
    pub params: KrotovParams,
    /// Initial learning rate, decayed linearly to 0 over the epochs (paper: 0.04).
    pub eps0: f32,
    /// Passes over the training set (paper: 1000).
    pub epochs: usize,
    /// Minibatch size (paper: 100).
    pub batch: usize,
    /// Standard deviation of the normal initial weights (paper: N(0, 1)).
    pub init_std: f32,
}

/// What one epoch of the unsupervised phase did.
#[derive(Debug, Clone, Copy)]
pub struct KrotovEpoch {
    /// 0-based epoch.
    pub epoch: usize,
    /// Learning rate used in this epoch.
    pub eps: f32,
    /// Fraction of hidden units whose row p-norm is within 5 % of 1: the paper's sign of
    /// convergence (each winning row is pulled to the unit sphere of the p-norm).
    pub converged: f32,
    /// Seconds this epoch took.
    pub seconds: f32,
}

/// The learning rate of epoch `epoch` of `epochs`: `eps0 * (1 - epoch / epochs)`.
pub fn learning_rate(eps0: f32, epoch: usize, epochs: usize) -> f32 {
    eps0 * (1.0 - epoch as f32 / epochs as f32)
}

/// Row p-norms `(sum_i |W_mu,i|^p)^(1/p)` of a row-major `[hidden, n]` matrix.
pub fn row_norms(w: &[f32], n: usize, p: f32) -> Vec<f32> {
    w.par_chunks_exact(n)
        .map(|row| {
            let sum: f64 = row
                .iter()
                .map(|&x| f64::from(lebesgue_weight(x, p) * x))
                .sum();
            sum.powf(1.0 / f64::from(p)) as f32
        })
        .collect()
}

/// Trains a `[hidden, n]` Krotov layer on the rows of `x` (`[samples, n]`, already normalised).
/// Calls `on_epoch` after every epoch. Returns the weights, row-major.
pub fn train(
    x: &[f32],
    n: usize,
    cfg: &KrotovConfig,
    seed: u64,
    device: &Device,
    mut on_epoch: impl FnMut(KrotovEpoch),
) -> Result<Vec<f32>> {
    let samples = x.len() / n.max(1);
    if n == 0 || samples == 0 || x.len() != samples * n {
        return Err(Error::Config(format!(
            "training data of {} values is not a whole number of {n}-wide samples",
            x.len()
        )));
    }
    let KrotovParams { p, k, delta } = cfg.params;
    if p.is_nan()
        || p < 2.0
        || k < 2
        || k > cfg.hidden
        || k > MAX_KROTOV_K
        || cfg.batch == 0
        || cfg.epochs == 0
    {
        return Err(Error::Config(format!(
            "Krotov needs p >= 2, 2 <= k <= min(hidden, {MAX_KROTOV_K}), batch > 0, epochs > 0 \
             (p = {p}, k = {k}, hidden = {}, batch = {}, epochs = {})",
            cfg.hidden, cfg.batch, cfg.epochs
        )));
    }
    if !(delta.is_finite() && cfg.eps0 > 0.0 && cfg.eps0.is_finite()) {
        return Err(Error::Config(
            "delta and eps0 must be finite, eps0 > 0".into(),
        ));
    }
    let mut rng = crate::rng::seeded(seed);
    let mut w = rng.normal_vec(cfg.hidden * n, cfg.init_std);
    let mut order: Vec<usize> = (0..samples).collect();
    let mut path = match device {
        Device::Cpu => Path::Sparse(SparseState::new(&w, n, cfg, device)?),
        #[cfg(feature = "cuda")]
        Device::Cuda(cuda) => Path::Cuda(Box::new(crate::krotov_cuda::CudaKrotov::new(
            cuda, x, n, &w, cfg,
        )?)),
        #[allow(unreachable_patterns)]
        _ => Path::Dense(Tensor::from_slice(&w, (cfg.hidden, n), device)?),
    };
    for epoch in 0..cfg.epochs {
        let start = std::time::Instant::now();
        let eps = learning_rate(cfg.eps0, epoch, cfg.epochs);
        rng.shuffle(&mut order);
        match &mut path {
            Path::Sparse(state) => {
                let mut batch = Vec::with_capacity(cfg.batch * n);
                for chunk in order.chunks(cfg.batch) {
                    gather(x, n, chunk, &mut batch);
                    state.step(&mut w, &batch, cfg, eps)?;
                }
            }
            #[cfg(feature = "cuda")]
            Path::Cuda(state) => {
                let order: Vec<u32> = order.iter().map(|&i| i as u32).collect();
                state.epoch(&order, eps, cfg)?;
                w = state.weights()?;
            }
            Path::Dense(wd) => {
                let mut batch = Vec::with_capacity(cfg.batch * n);
                for chunk in order.chunks(cfg.batch) {
                    gather(x, n, chunk, &mut batch);
                    let v = Tensor::from_slice(&batch, (chunk.len(), n), device)?;
                    *wd = dense_step(wd, &v, cfg.params, eps)?;
                }
                w = wd.flatten_all()?.to_vec1::<f32>()?;
            }
        }
        if w.iter().any(|v| !v.is_finite()) {
            return Err(Error::Diverged(format!(
                "non-finite weights after epoch {epoch}"
            )));
        }
        let norms = row_norms(&w, n, p);
        let converged =
            norms.iter().filter(|&&r| (r - 1.0).abs() < 0.05).count() as f32 / norms.len() as f32;
        on_epoch(KrotovEpoch {
            epoch,
            eps,
            converged,
            seconds: start.elapsed().as_secs_f32(),
        });
    }
    Ok(w)
}

/// How [`train`] steps: the sparse rule on the CPU, the CUDA kernels, or dense tensor steps
/// on any other candle device.
enum Path {
    Sparse(SparseState),
    #[cfg(feature = "cuda")]
    Cuda(Box<crate::krotov_cuda::CudaKrotov>),
    Dense(Tensor),
}

/// Copies the samples `chunk` of the row-major `x` into `batch`.
fn gather(x: &[f32], n: usize, chunk: &[usize], batch: &mut Vec<f32>) {
    batch.clear();
    for &i in chunk {
        batch.extend_from_slice(&x[i * n..(i + 1) * n]);
    }
}

/// The CPU path's state: `sign(W)|W|^(p-1)` as a candle tensor and the sparse step buffers.
struct SparseState {
    wp: Tensor,
    step: KrotovStep,
    device: Device,
}

impl SparseState {
    fn new(w: &[f32], n: usize, cfg: &KrotovConfig, device: &Device) -> Result<Self> {
        let p = cfg.params.p;
        let wp: Vec<f32> = w.iter().map(|&x| lebesgue_weight(x, p)).collect();
        Ok(Self {
            wp: Tensor::from_vec(wp, (cfg.hidden, n), device)?,
            step: KrotovStep::new(cfg.hidden, n, cfg.batch),
            device: device.clone(),
        })
    }

    fn step(&mut self, w: &mut [f32], batch: &[f32], cfg: &KrotovConfig, eps: f32) -> Result<()> {
        let n = self.wp.dim(1)?;
        let v = Tensor::from_slice(batch, (batch.len() / n, n), &self.device)?;
        let currents = v.matmul(&self.wp.t()?)?;
        let (storage, layout) = currents.storage_and_layout();
        let Storage::Cpu(cpu) = &*storage else {
            return Err(Error::Config(
                "the sparse Krotov path runs on the CPU".into(),
            ));
        };
        let currents = &cpu.as_slice::<f32>()?[layout.start_offset()..];
        // Ranking is independent per sample: both cores do it; accumulating is sequential.
        let ranks: Vec<(usize, usize)> = currents
            .par_chunks(cfg.hidden)
            .map(|c| rank_winner_and_kth(c, cfg.params.k))
            .collect();
        self.step.clear();
        for ((vb, ib), &rank) in batch
            .chunks_exact(n)
            .zip(currents.chunks_exact(cfg.hidden))
            .zip(&ranks)
        {
            self.step.add_ranked(vb, ib, rank, cfg.params.delta)?;
        }
        self.step.apply(w, eps);
        self.wp.inplace_op1(&RefreshRows {
            rows: self.step.changed_rows(),
            w,
            p: cfg.params.p,
        })?;
        Ok(())
    }
}

/// Recomputes `sign(W)|W|^(p-1)` for the given rows of the power tensor, in place.
struct RefreshRows<'a> {
    rows: &'a [usize],
    w: &'a [f32],
    p: f32,
}

impl InplaceOp1 for RefreshRows<'_> {
    fn name(&self) -> &'static str {
        "krotov-refresh-rows"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("krotov power weights must be f32")
        };
        if !layout.is_contiguous() || layout.start_offset() != 0 {
            candle_core::bail!("krotov power weights must be contiguous");
        }
        let n = layout.dims()[1];
        for &mu in self.rows {
            for (o, &x) in data[mu * n..(mu + 1) * n]
                .iter_mut()
                .zip(&self.w[mu * n..(mu + 1) * n])
            {
                *o = lebesgue_weight(x, self.p);
            }
        }
        Ok(())
    }
}

/// One dense Krotov update of `w` (`[hidden, n]`) on the minibatch `v` (`[B, n]`), all in
/// tensors, for any device: returns the new weights.
pub fn dense_step(w: &Tensor, v: &Tensor, params: KrotovParams, eps: f32) -> Result<Tensor> {
    // sign(W)|W|^(p-1) = |W|^(p-2) W, which also maps 0 to 0 for p > 2.
    let wp = (w.abs()?.powf(f64::from(params.p) - 2.0)? * w)?;
    let currents = v.matmul(&wp.t()?)?;
    let g = activation_pattern(&currents, params.k, params.delta)?;
    let hebb = g.t()?.matmul(v)?;
    let coef = (&g * &currents)?.sum(0)?.unsqueeze(1)?;
    let ds = (hebb - coef.broadcast_mul(w)?)?;
    let max = ds
        .abs()?
        .max_all()?
        .to_dtype(DType::F32)?
        .to_scalar::<f32>()?;
    Ok((w + (ds * f64::from(eps / max.max(PREC)))?)?)
}

/// `g` for every sample and hidden unit (`[B, hidden]`): 1 for the largest current, `-delta`
/// for the `k`-th largest, 0 elsewhere. Found by masking the top unit `k - 1` times, which
/// needs only argmax (available on every candle device), not a sort.
pub fn activation_pattern(currents: &Tensor, k: usize, delta: f32) -> Result<Tensor> {
    let hidden = currents.dim(1)?;
    let units = Tensor::arange(0u32, hidden as u32, currents.device())?.unsqueeze(0)?;
    let one_hot = |c: &Tensor| -> Result<Tensor> {
        Ok(units
            .broadcast_eq(&c.argmax_keepdim(1)?)?
            .to_dtype(DType::F32)?)
    };
    let winner = one_hot(currents)?;
    let mut masked = currents.clone();
    let mut ranked = winner.clone();
    for _ in 1..k {
        masked = (masked - (&ranked * 1e30)?)?;
        ranked = one_hot(&masked)?;
    }
    Ok((winner - (ranked * f64::from(delta))?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> KrotovParams {
        KrotovParams {
            p: 3.0,
            k: 3,
            delta: 0.4,
        }
    }

    #[test]
    fn dense_candle_step_equals_the_runtime_sparse_rule() {
        // p = 3 is the paper's; 2 and 4.5 take the general power path of both.
        for p in [2.0f32, 3.0, 4.5] {
            let params = KrotovParams { p, ..params() };
            let (hidden, n, b) = (7, 5, 4);
            let mut rng = crate::rng::seeded(2);
            let w0 = rng.normal_vec(hidden * n, 1.0);
            let v = rng.uniform_vec(b * n, 1.0);
            let dev = Device::Cpu;
            let dense = dense_step(
                &Tensor::from_slice(&w0, (hidden, n), &dev).unwrap(),
                &Tensor::from_slice(&v, (b, n), &dev).unwrap(),
                params,
                0.05,
            )
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
            let cfg = KrotovConfig {
                hidden,
                params,
                eps0: 0.05,
                epochs: 1,
                batch: b,
                init_std: 1.0,
            };
            let mut sparse = SparseState::new(&w0, n, &cfg, &dev).unwrap();
            let mut w = w0.clone();
            sparse.step(&mut w, &v, &cfg, 0.05).unwrap();
            for (a, d) in w.iter().zip(&dense) {
                assert!((a - d).abs() < 1e-5, "p = {p}: {a} vs {d}");
            }
            assert_ne!(w, w0);
            // The in-place refresh left the power tensor equal to sign(W)|W|^(p-1) of the new W.
            let wp = sparse.wp.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (a, x) in wp.iter().zip(&w) {
                let expected = x.signum() * x.abs().powf(p - 1.0);
                assert!((a - expected).abs() < 1e-5, "p = {p}: {a} vs {expected}");
            }
        }
    }

    #[test]
    fn pattern_marks_winner_and_kth() {
        let c = Tensor::new(
            &[[0.1f32, 0.9, 0.5, 0.7], [3.0, 1.0, 2.0, 0.0]],
            &Device::Cpu,
        )
        .unwrap();
        let g = activation_pattern(&c, 3, 0.4)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(
            g,
            vec![vec![0.0, 1.0, -0.4, 0.0], vec![1.0, -0.4, 0.0, 0.0]]
        );
    }

    #[test]
    fn learning_rate_decays_linearly_to_zero() {
        assert_eq!(learning_rate(0.04, 0, 4), 0.04);
        assert_eq!(learning_rate(0.04, 2, 4), 0.02);
        assert!(learning_rate(0.04, 3, 4) > 0.0);
    }

    #[test]
    fn bad_config_is_refused() {
        let cfg = KrotovConfig {
            hidden: 4,
            params: KrotovParams {
                p: 3.0,
                k: 9,
                delta: 0.4,
            },
            eps0: 0.02,
            epochs: 1,
            batch: 2,
            init_std: 1.0,
        };
        let err = train(&[0.0; 8], 4, &cfg, 0, &Device::Cpu, |_| {});
        assert!(matches!(err, Err(Error::Config(_))));
    }
}
