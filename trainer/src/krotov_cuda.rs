//! The sparse Krotov step on a CUDA device, with no host synchronisation inside an epoch.
//!
//! The training set, the weights `W`, the power weights `Wp = sign(W)|W|^(p-1)` and every
//! buffer of the step stay on the device; an epoch uploads one permutation of the samples and
//! launches, per minibatch, five kernels on candle's stream: gather the minibatch, the currents
//! (one cuBLAS product), rank (winner and k-th), accumulate `ds` of the rows that moved, apply
//! it. The normaliser `max |ds|` never leaves the device. The kernels (`krotov_cuda.cu`) follow
//! the CPU path ([`crate::krotov`]) operation by operation and in the same order of summation,
//! so both converge alike; the dense tensor step ([`crate::krotov::dense_step`]) stays as the
//! baseline `plastic bench` times against.

use std::sync::Arc;

use candle_core::CudaDevice;
use candle_core::cuda_backend::cudarc::cublas::sys::cublasOperation_t;
use candle_core::cuda_backend::cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use candle_core::cuda_backend::cudarc::driver::{
    CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use candle_core::cuda_backend::cudarc::nvrtc::Ptx;
use plastic_runtime::learn::krotov::MAX_KROTOV_K;

use crate::krotov::KrotovConfig;
use crate::{Error, Result};

/// The kernels, compiled to PTX by `build.rs`.
const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/krotov_cuda.ptx"));

/// Threads per block; the kernels' `THREADS`.
const THREADS: u32 = 256;

fn cuda_error(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Config(format!("CUDA: {what} failed: {e:?}"))
}

struct Kernels {
    gather: CudaFunction,
    rank: CudaFunction,
    rows: CudaFunction,
    apply: CudaFunction,
}

/// A Krotov layer training on a CUDA device.
pub struct CudaKrotov {
    stream: Arc<CudaStream>,
    blas: Arc<CudaBlas>,
    kernels: Kernels,
    n: usize,
    hidden: usize,
    batch: usize,
    samples: usize,
    x: CudaSlice<f32>,
    perm: CudaSlice<u32>,
    w: CudaSlice<f32>,
    wp: CudaSlice<f32>,
    v: CudaSlice<f32>,
    currents: CudaSlice<f32>,
    g: CudaSlice<f32>,
    ds: CudaSlice<f32>,
    touched: CudaSlice<i32>,
    max_bits: CudaSlice<u32>,
}

impl CudaKrotov {
    /// Uploads the training set `x` (`[samples, n]`) and the initial weights `w`
    /// (`[cfg.hidden, n]`) to `device`.
    pub fn new(
        device: &CudaDevice,
        x: &[f32],
        n: usize,
        w: &[f32],
        cfg: &KrotovConfig,
    ) -> Result<Self> {
        let samples = x.len() / n.max(1);
        if cfg.params.k > MAX_KROTOV_K || w.len() != cfg.hidden * n || samples == 0 {
            return Err(Error::Config(format!(
                "CUDA Krotov: k {} (at most {MAX_KROTOV_K}), {} weights for [{}, {n}], {samples} samples",
                cfg.params.k,
                w.len(),
                cfg.hidden
            )));
        }
        for size in [cfg.hidden, n, cfg.batch, samples] {
            if i32::try_from(size).is_err() {
                return Err(Error::Config(format!(
                    "CUDA Krotov: {size} does not fit the kernels' 32-bit sizes"
                )));
            }
        }
        let stream = device.cuda_stream();
        let module = stream
            .context()
            .load_module(Ptx::from_src(PTX))
            .map_err(|e| cuda_error("loading the Krotov kernels", e))?;
        let function = |name: &str| {
            module
                .load_function(name)
                .map_err(|e| cuda_error("finding a Krotov kernel", e))
        };
        let kernels = Kernels {
            gather: function("krotov_gather")?,
            rank: function("krotov_rank")?,
            rows: function("krotov_rows")?,
            apply: function("krotov_apply")?,
        };
        let upload = |values: &[f32]| {
            stream
                .clone_htod(values)
                .map_err(|e| cuda_error("an upload", e))
        };
        let p = cfg.params.p;
        let wp: Vec<f32> = w
            .iter()
            .map(|&x| plastic_runtime::learn::krotov::lebesgue_weight(x, p))
            .collect();
        let zeros = |len: usize| {
            stream
                .alloc_zeros::<f32>(len)
                .map_err(|e| cuda_error("an allocation", e))
        };
        Ok(Self {
            x: upload(x)?,
            w: upload(w)?,
            wp: upload(&wp)?,
            v: zeros(cfg.batch * n)?,
            currents: zeros(cfg.batch * cfg.hidden)?,
            g: zeros(cfg.batch * cfg.hidden)?,
            ds: zeros(cfg.hidden * n)?,
            touched: stream
                .alloc_zeros::<i32>(cfg.hidden)
                .map_err(|e| cuda_error("an allocation", e))?,
            max_bits: stream
                .alloc_zeros::<u32>(1)
                .map_err(|e| cuda_error("an allocation", e))?,
            perm: stream
                .alloc_zeros::<u32>(samples)
                .map_err(|e| cuda_error("an allocation", e))?,
            blas: device.cublas_handle(),
            kernels,
            stream,
            n,
            hidden: cfg.hidden,
            batch: cfg.batch,
            samples,
        })
    }

    /// One pass over the training set in the order `order` (a permutation of the samples) at
    /// learning rate `eps`. Queues the work and returns: the host waits only when it reads the
    /// weights back.
    pub fn epoch(&mut self, order: &[u32], eps: f32, cfg: &KrotovConfig) -> Result<()> {
        if order.len() != self.samples || order.iter().any(|&i| i as usize >= self.samples) {
            return Err(Error::Config(
                "CUDA Krotov: the epoch's order is not a permutation of the samples".into(),
            ));
        }
        self.stream
            .memcpy_htod(order, &mut self.perm)
            .map_err(|e| cuda_error("uploading the epoch's order", e))?;
        let mut offset = 0;
        while offset < self.samples {
            let batch = self.batch.min(self.samples - offset);
            self.step(offset, batch, eps, cfg)?;
            offset += batch;
        }
        Ok(())
    }

    fn step(&mut self, offset: usize, batch: usize, eps: f32, cfg: &KrotovConfig) -> Result<()> {
        let (n, hidden) = (self.n as i32, self.hidden as i32);
        let (offset_i, batch_i) = (offset as i32, batch as i32);
        let k = cfg.params.k as i32;
        let (delta, p) = (cfg.params.delta, cfg.params.p);
        // Gather: v = x[perm[offset..offset + batch]].
        {
            let (x, perm, v) = (&self.x, &self.perm, &mut self.v);
            let mut args = self.stream.launch_builder(&self.kernels.gather);
            args.arg(x).arg(perm).arg(&offset_i).arg(&n).arg(v);
            launch(args, batch, "the gather kernel")?;
        }
        // Currents, row-major [batch, hidden] = v [batch, n] x Wp^T. cuBLAS is column-major:
        // it computes the transpose, Wp [hidden, n] (stored as an n x hidden matrix, hence
        // op T) times v^T.
        let gemm = GemmConfig {
            transa: cublasOperation_t::CUBLAS_OP_T,
            transb: cublasOperation_t::CUBLAS_OP_N,
            m: hidden,
            n: batch_i,
            k: n,
            alpha: 1.0f32,
            lda: n,
            ldb: n,
            beta: 0.0f32,
            ldc: hidden,
        };
        // SAFETY: wp holds hidden * n values, v at least batch * n, currents batch * hidden.
        unsafe { self.blas.gemm(gemm, &self.wp, &self.v, &mut self.currents) }
            .map_err(|e| cuda_error("the currents' product", e))?;
        {
            let mut args = self.stream.launch_builder(&self.kernels.rank);
            args.arg(&self.currents)
                .arg(&hidden)
                .arg(&k)
                .arg(&delta)
                .arg(&mut self.g)
                .arg(&mut self.max_bits);
            launch(args, batch, "the rank kernel")?;
        }
        {
            let mut args = self.stream.launch_builder(&self.kernels.rows);
            args.arg(&self.g)
                .arg(&self.currents)
                .arg(&self.v)
                .arg(&self.w)
                .arg(&batch_i)
                .arg(&hidden)
                .arg(&n)
                .arg(&mut self.ds)
                .arg(&mut self.touched)
                .arg(&mut self.max_bits);
            launch(args, self.hidden, "the rows kernel")?;
        }
        let mut args = self.stream.launch_builder(&self.kernels.apply);
        args.arg(&self.ds)
            .arg(&self.touched)
            .arg(&self.max_bits)
            .arg(&eps)
            .arg(&p)
            .arg(&n)
            .arg(&mut self.w)
            .arg(&mut self.wp);
        launch(args, self.hidden, "the apply kernel")?;
        Ok(())
    }

    /// The weights, row-major `[hidden, n]`; waits for the queued work.
    pub fn weights(&self) -> Result<Vec<f32>> {
        self.stream
            .clone_dtoh(&self.w)
            .map_err(|e| cuda_error("reading the weights back", e))
    }
}

/// Launches a kernel with `blocks` blocks of [`THREADS`] threads.
fn launch(
    mut args: candle_core::cuda_backend::cudarc::driver::LaunchArgs<'_>,
    blocks: usize,
    what: &str,
) -> Result<()> {
    let cfg = LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: every kernel indexes its buffers within the sizes passed next to them, which
    // `CudaKrotov::new` allocated for `hidden`, `n` and `batch`; `blocks` is at most those.
    unsafe { args.launch(cfg) }.map_err(|e| cuda_error(what, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use candle_core::Device;
    use plastic_runtime::learn::krotov::KrotovParams;

    use crate::krotov::{self, KrotovConfig};

    #[test]
    fn cuda_epochs_equal_the_cpu_sparse_epochs() {
        let Ok(gpu) = Device::new_cuda(0) else {
            eprintln!("skipped: no CUDA device answers");
            return;
        };
        // 30 samples in minibatches of 7: the last one is short. p = 3 is the paper's; 2 and
        // 4.5 take the kernels' other power paths.
        for p in [2.0f32, 3.0, 4.5] {
            let cfg = KrotovConfig {
                hidden: 50,
                params: KrotovParams {
                    p,
                    k: 4,
                    delta: 0.4,
                },
                eps0: 0.05,
                epochs: 3,
                batch: 7,
                init_std: 1.0,
            };
            let x = crate::rng::seeded(9).uniform_vec(30 * 20, 1.0);
            let on_gpu = krotov::train(&x, 20, &cfg, 3, &gpu, |_| {}).unwrap();
            let on_cpu = krotov::train(&x, 20, &cfg, 3, &Device::Cpu, |_| {}).unwrap();
            let largest = on_gpu
                .iter()
                .zip(&on_cpu)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(largest < 1e-4, "p = {p}: weights apart by {largest}");
        }
    }
}
