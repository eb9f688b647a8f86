//! The k-th smallest value of a tensor as a candle operation, so that a rule that thresholds
//! at a percentile (Gupta's) runs on a GPU without reading the tensor back: on the CPU a
//! selection (`select_nth_unstable`), on CUDA a radix selection in kernels of our own
//! (`kth_value.cu`, feature `cuda`). Both order values as `f32::total_cmp` does.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape};

/// The `k`-th smallest value (0-based) of all the entries of a contiguous f32 tensor, as a
/// one-element tensor: `tensor.apply_op1_no_bwd(&KthSmallest { k })`.
#[derive(Debug, Clone, Copy)]
pub struct KthSmallest {
    /// 0-based rank; must be below the number of entries.
    pub k: usize,
}

impl KthSmallest {
    fn check(&self, layout: &Layout) -> candle_core::Result<(usize, usize)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("kth-smallest needs a contiguous tensor")
        };
        if self.k >= end - start {
            candle_core::bail!("kth-smallest: rank {} of {} values", self.k, end - start)
        }
        Ok((start, end))
    }
}

impl CustomOp1 for KthSmallest {
    fn name(&self) -> &'static str {
        "kth-smallest"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("kth-smallest takes f32")
        };
        let (start, end) = self.check(layout)?;
        let mut values = data[start..end].to_vec();
        let value = *values.select_nth_unstable_by(self.k, f32::total_cmp).1;
        Ok((CpuStorage::F32(vec![value]), Shape::from(1)))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use candle_core::cuda_backend::WrapErr;
        use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};

        const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/kth_value.ptx"));
        const MODULE: &str = "plastic_kth_value";
        let (start, end) = self.check(layout)?;
        let n = u32::try_from(end - start)
            .map_err(|_| candle_core::Error::Msg("kth-smallest: more than 2^32 values".into()))?;
        let k = self.k as u32;
        let device = &storage.device;
        let x = storage.as_cuda_slice::<f32>()?.slice(start..end);
        let stream = device.cuda_stream();
        let mut state = stream.alloc_zeros::<u32>(2).w()?;
        let mut hist = stream.alloc_zeros::<u32>(256).w()?;
        let mut out = stream.alloc_zeros::<f32>(1).w()?;
        let blocks = |count: u32| LaunchConfig {
            grid_dim: (count, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        let init = device.get_or_load_custom_func("kth_init", MODULE, PTX)?;
        let mut args = init.builder();
        args.arg(&mut state).arg(&mut hist).arg(&k);
        // SAFETY: the kernels touch state[0..2], hist[0..256], out[0] and x[0..n] only.
        unsafe { args.launch(blocks(1)) }.w()?;
        let histogram = device.get_or_load_custom_func("kth_histogram", MODULE, PTX)?;
        let pick = device.get_or_load_custom_func("kth_pick", MODULE, PTX)?;
        let grid = n.div_ceil(256).clamp(1, 1024);
        for shift in [24i32, 16, 8, 0] {
            let mut args = histogram.builder();
            args.arg(&x).arg(&n).arg(&shift).arg(&state).arg(&mut hist);
            // SAFETY: as above.
            unsafe { args.launch(blocks(grid)) }.w()?;
            let mut args = pick.builder();
            args.arg(&mut state)
                .arg(&mut hist)
                .arg(&shift)
                .arg(&mut out);
            // SAFETY: as above.
            unsafe { args.launch(blocks(1)) }.w()?;
        }
        Ok((
            candle_core::CudaStorage::wrap_cuda_slice(out, device.clone()),
            Shape::from(1),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn kth_on(device: &Device, values: &[f32], k: usize) -> f32 {
        Tensor::from_slice(values, values.len(), device)
            .unwrap()
            .apply_op1_no_bwd(&KthSmallest { k })
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()[0]
    }

    fn values() -> Vec<f32> {
        // Both signs, ties, zeros of both signs, magnitudes far apart.
        let mut v = crate::rng::seeded(3).uniform_vec(997, 1.0);
        v.extend([0.0, -0.0, 0.5, 0.5, 0.5, -1e-30, 1e30, -1e30]);
        v
    }

    #[test]
    fn kth_smallest_is_the_sorted_value_at_k() {
        let v = values();
        let mut sorted = v.clone();
        sorted.sort_by(f32::total_cmp);
        for k in [0, 1, 500, 998, v.len() - 1] {
            assert_eq!(kth_on(&Device::Cpu, &v, k), sorted[k], "k = {k}");
        }
        let err = Tensor::from_slice(&v, v.len(), &Device::Cpu)
            .unwrap()
            .apply_op1_no_bwd(&KthSmallest { k: v.len() });
        assert!(err.is_err());
    }

    #[cfg(feature = "cuda")]
    #[test]
    fn the_cuda_selection_equals_the_cpu_one() {
        let Ok(gpu) = Device::new_cuda(0) else {
            eprintln!("skipped: no CUDA device answers");
            return;
        };
        let v = values();
        for k in [0, 1, 500, 998, v.len() - 1] {
            assert_eq!(kth_on(&gpu, &v, k), kth_on(&Device::Cpu, &v, k), "k = {k}");
        }
    }
}
