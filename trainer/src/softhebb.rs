//! SoftHebb's rule in candle tensors, for a layer's patches of a whole minibatch at once: the
//! equations and symbols are those of [`plastic_runtime::learn::softhebb`], which a test holds
//! this version to.

use candle_core::{D, DType, Tensor};
use plastic_runtime::learn::softhebb::{PREC, RATE_FLOOR};

use crate::Result;

/// One SoftHebb update of `w` (`[out, n]`) from `patches` (`[P, n]`, every patch of a
/// minibatch) at inverse temperature `inv_tau` and base rate `lr0`: returns the new weights.
pub fn softhebb_step(w: &Tensor, patches: &Tensor, inv_tau: f32, lr0: f32) -> Result<Tensor> {
    softhebb_step_with_u(w, patches, &patches.matmul(&w.t()?)?, inv_tau, lr0)
}

/// [`softhebb_step`] given `u = patches W^T` (`[P, out]`), which a network has already
/// computed for its forward pass.
pub fn softhebb_step_with_u(
    w: &Tensor,
    patches: &Tensor,
    u: &Tensor,
    inv_tau: f32,
    lr0: f32,
) -> Result<Tensor> {
    let soft = candle_nn::ops::softmax(&(u * f64::from(inv_tau))?, D::Minus1)?;
    let units = Tensor::arange(0u32, w.dim(0)? as u32, w.device())?.unsqueeze(0)?;
    let winner = units
        .broadcast_eq(&u.argmax_keepdim(1)?)?
        .to_dtype(DType::F32)?;
    // +y for the winner, -y for every other unit.
    let y = (soft * ((winner * 2.0)? - 1.0)?)?;
    let hebb = y.t()?.matmul(patches)?;
    let decay = (&y * u)?.sum(0)?.unsqueeze(1)?;
    let dw = (hebb - decay.broadcast_mul(w)?)?;
    let max = dw.abs()?.max_all()?.maximum(f64::from(PREC))?;
    let norms = w.sqr()?.sum_keepdim(1)?.sqrt()?;
    let rate = ((((norms - 1.0)?.abs()? + f64::from(RATE_FLOOR))?.sqrt()?) * f64::from(lr0))?;
    Ok((w + dw.broadcast_mul(&rate)?.broadcast_div(&max)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use plastic_runtime::learn::softhebb::SoftHebbStep;

    #[test]
    fn the_candle_step_equals_the_runtime_rule() {
        let (out, n, patches) = (5, 12, 7);
        let mut rng = crate::rng::seeded(6);
        let w0 = rng.normal_vec(out * n, 0.5);
        let x = rng.uniform_vec(patches * n, 1.0);
        for inv_tau in [1.0f32, 0.25, 4.0] {
            let dev = Device::Cpu;
            let ours = softhebb_step(
                &Tensor::from_slice(&w0, (out, n), &dev).unwrap(),
                &Tensor::from_slice(&x, (patches, n), &dev).unwrap(),
                inv_tau,
                0.05,
            )
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
            let mut step = SoftHebbStep::new(out, n);
            for patch in x.chunks_exact(n) {
                step.add_patch(&w0, patch, inv_tau).unwrap();
            }
            let mut theirs = w0.clone();
            step.apply(&mut theirs, 0.05).unwrap();
            assert_ne!(theirs, w0);
            for (a, b) in ours.iter().zip(&theirs) {
                assert!((a - b).abs() < 1e-5, "1/tau {inv_tau}: {a} vs {b}");
            }
        }
    }
}
