//! Per-feature standardisation of what a supervised head reads, folded into the head's first
//! layer at export so that the checkpoint runs on the raw features, as the runtime computes
//! them.
//!
//! Why: the features under a head (ReLUs of frozen convolutions, of a Hebbian layer) are all
//! non-negative and of very different scales. Raw, every weight of a hidden unit moves the same
//! way at each step, and a few large features set the step size for all. Standardised (and
//! from a zero start), a linear readout on 2000 random ReLUs of MNIST reaches 96.9 % against
//! 96.2 % raw, at the same Adam schedule; a CNN's FA head on raw features stalled at 17-58 %.

use candle_core::Tensor;

use crate::Result;
use crate::mlp::Mlp;

/// A feature's scale is at least this fraction of the average feature's: a feature that
/// rarely fires would otherwise get a huge column in the folded head, and one int8 scale per
/// row would crush the rest of its row (measured: 84 % int8 against 94 % f32 on a CNN head).
pub const STD_FLOOR: f64 = 0.1;
/// The same for features that are tracked while they drift ([`Standardiser::tracking`]): a
/// Hebbian layer's rarely firing units need the higher floor (measured on a 256-unit HebbNet:
/// 0.35 points lost to int8 at 0.1, 0.16 at 0.3, and 0.1 point gained in f32).
pub const TRACKING_STD_FLOOR: f64 = 0.3;

/// `(f - mean) * inv_std`, feature by feature.
#[derive(Debug, Clone)]
pub struct Standardiser {
    mean: Tensor,
    /// The variance as measured or tracked, before the floor.
    var: Tensor,
    inv_std: Tensor,
    floor: f64,
}

impl Standardiser {
    /// From the sums of the features and of their squares over `n` rows.
    pub fn from_sums(sum: &Tensor, sum_sq: &Tensor, n: usize) -> Result<Self> {
        let (mean, var) = moments(sum, sum_sq, n)?;
        Self::from_moments(mean, var, STD_FLOOR)
    }

    /// The statistics of `features(rows)` over all rows of `x`, `chunk` rows at a time.
    pub fn measure(
        x: &Tensor,
        chunk: usize,
        features: impl Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<Self> {
        let rows = x.dim(0)?;
        let (mut sum, mut sum_sq) = (None::<Tensor>, None::<Tensor>);
        for start in (0..rows).step_by(chunk.max(1)) {
            let f = features(&x.narrow(0, start, chunk.min(rows - start))?)?;
            let (s, q) = (f.sum(0)?, f.sqr()?.sum(0)?);
            sum = Some(match sum {
                Some(acc) => (acc + s)?,
                None => s,
            });
            sum_sq = Some(match sum_sq {
                Some(acc) => (acc + q)?,
                None => q,
            });
        }
        match (sum, sum_sq) {
            (Some(s), Some(q)) => Self::from_sums(&s, &q, rows),
            _ => Err(crate::Error::Config(
                "no rows to measure features on".into(),
            )),
        }
    }

    /// The statistics of one batch, to be moved by [`Standardiser::track`] as more batches
    /// come (with the floor [`TRACKING_STD_FLOOR`]).
    pub fn tracking(batch: &Tensor) -> Result<Self> {
        let (mean, var) = batch_moments(batch)?;
        Self::from_moments(mean, var, TRACKING_STD_FLOOR)
    }

    /// `floor`: the smallest scale, as a fraction of the average feature's.
    fn from_moments(mean: Tensor, var: Tensor, floor: f64) -> Result<Self> {
        let var = var.clamp(0.0, f32::MAX)?;
        let std = var.sqrt()?;
        // Kept on the device: reading the mean back would stop a GPU at every batch.
        let smallest = (std.mean_all()? * floor)?.maximum(1e-6)?;
        let inv_std = std
            .broadcast_maximum(&smallest)?
            .minimum(f64::from(f32::MAX))?
            .recip()?;
        Ok(Self {
            mean,
            var,
            inv_std,
            floor,
        })
    }

    /// Running statistics for features that drift while the head learns (a Hebbian layer):
    /// the mean and variance move towards the batch's by `momentum`, as batch normalisation's
    /// running estimates do.
    pub fn track(&mut self, batch: &Tensor, momentum: f64) -> Result<()> {
        let (mean, var) = batch_moments(batch)?;
        let mean = ((&self.mean * (1.0 - momentum))? + (mean * momentum)?)?;
        let var = ((&self.var * (1.0 - momentum))? + (var * momentum)?)?;
        *self = Self::from_moments(mean, var, self.floor)?;
        Ok(())
    }

    /// `features` standardised.
    pub fn apply(&self, features: &Tensor) -> Result<Tensor> {
        Ok(features
            .broadcast_sub(&self.mean)?
            .broadcast_mul(&self.inv_std)?)
    }

    /// Folds the standardisation into `head`'s first layer: `W ((f - m) / s) + b` becomes
    /// `(W / s) f + (b - (W / s) m)`, so the head reads the raw features.
    pub fn fold_into(&self, head: &Mlp) -> Result<()> {
        let (Some(w), Some(b)) = (head.weights.first(), head.biases.first()) else {
            return Ok(());
        };
        let scaled = w.as_tensor().broadcast_mul(&self.inv_std)?;
        let shift = scaled.matmul(&self.mean.unsqueeze(1)?)?.squeeze(1)?;
        b.set(&(b.as_tensor() - shift)?)?;
        w.set(&scaled)?;
        Ok(())
    }
}

/// Mean and (biased) variance per feature from the sums of the features and of their squares
/// over `n` rows.
fn moments(sum: &Tensor, sum_sq: &Tensor, n: usize) -> Result<(Tensor, Tensor)> {
    let n = n.max(1) as f64;
    let mean = (sum / n)?;
    let var = ((sum_sq / n)? - mean.sqr()?)?;
    Ok((mean, var))
}

/// [`moments`] of the rows of `batch`.
fn batch_moments(batch: &Tensor) -> Result<(Tensor, Tensor)> {
    moments(&batch.sum(0)?, &batch.sqr()?.sum(0)?, batch.dim(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::Feedback;
    use candle_core::Device;

    fn matrix(seed: u64, rows: usize, cols: usize) -> Tensor {
        let v = crate::rng::seeded(seed).uniform_vec(rows * cols, 1.0);
        Tensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn measured_features_come_out_with_mean_zero_and_unit_variance() {
        // Three features with the hand-computable columns (1, 3), (2, 2) and (0, 10).
        let x =
            Tensor::from_slice(&[1f32, 2.0, 0.0, 3.0, 2.0, 10.0], (2, 3), &Device::Cpu).unwrap();
        let s = Standardiser::measure(&x, 1, |f| Ok(f.clone())).unwrap();
        // Means 2, 2, 5; standard deviations 1, 0 (floored to 0.1 x mean std 2), 5.
        assert_eq!(values(&s.mean), vec![2.0, 2.0, 5.0]);
        let inv = values(&s.inv_std);
        assert!((inv[0] - 1.0).abs() < 1e-6 && (inv[1] - 5.0).abs() < 1e-5);
        assert!((inv[2] - 0.2).abs() < 1e-6);
        let z = values(&s.apply(&x).unwrap());
        for (got, want) in z.iter().zip([-1.0, 0.0, -1.0, 1.0, 0.0, 1.0]) {
            assert!((got - want).abs() < 1e-5, "{z:?}");
        }
    }

    #[test]
    fn tracking_moves_the_statistics_by_the_momentum() {
        let batch = |a: f32, b: f32| Tensor::from_slice(&[a, b], (2, 1), &Device::Cpu).unwrap();
        let mut s = Standardiser::tracking(&batch(0.0, 2.0)).unwrap(); // mean 1, variance 1
        s.track(&batch(4.0, 4.0), 0.5).unwrap(); // mean 2.5, variance 0.5
        assert!((values(&s.mean)[0] - 2.5).abs() < 1e-6);
        assert!((values(&s.inv_std)[0] - 2f32.sqrt()).abs() < 1e-5);
    }

    #[test]
    fn folding_keeps_the_heads_outputs() {
        let head = Mlp::new(&[4, 3, 2], Feedback::Backprop, 1, &Device::Cpu).unwrap();
        let x = matrix(2, 6, 4);
        let s = Standardiser::measure(&x, 4, |f| Ok((f * 3.0)?.exp()?)).unwrap();
        let raw = (&x * 3.0).unwrap().exp().unwrap();
        let before = values(&head.logits(&s.apply(&raw).unwrap()).unwrap());
        s.fold_into(&head).unwrap();
        let after = values(&head.logits(&raw).unwrap());
        for (a, b) in before.iter().zip(&after) {
            assert!((a - b).abs() < 1e-4, "{before:?} vs {after:?}");
        }
    }
}
