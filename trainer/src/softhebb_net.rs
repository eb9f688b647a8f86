//! SoftHebb's convolutional network (Journé et al., ICLR 2023): blocks of a non-affine batch
//! norm, a convolution learned by the soft winner-take-all Hebbian rule
//! ([`crate::softhebb::softhebb_step`]), the "triangle" activation and pooling; a linear
//! readout on the last block's features is trained apart ([`DropoutFeatures`]).
//!
//! Every block learns from its own input and output only: the unsupervised pass runs the
//! network forward on a minibatch and lets each block take its step, as the paper's one epoch
//! does. Nothing sends an error back through a convolution.
//!
//! The convolutions are computed as patches times weights (`[positions, in * k * k]` by
//! `[in * k * k, out]`): the rule needs the patches anyway, and one matrix product is the
//! fastest path candle has on a CPU and on a GPU alike.

use candle_core::{D, DType, Device, Tensor};

use plastic_models::{Conv2d, PoolKind};
use plastic_runtime::rng::SplitMix64;

use crate::Result;
use crate::mlp::{InputStage, Mlp};
use crate::softhebb::softhebb_step_with_u;

/// How a block pools its activations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pool {
    /// Largest value of each `size x size` window, windows `stride` apart, the input padded
    /// by `padding` on every side (with zeros: the activations are never negative, so a zero
    /// never wins over a real value where a window has one).
    Max {
        /// Window side.
        size: usize,
        /// Step between windows.
        stride: usize,
        /// Padding on every side.
        padding: usize,
    },
    /// Mean of each `size x size` window, windows `size` apart.
    Avg {
        /// Window side (and step).
        size: usize,
    },
}

impl Pool {
    /// Side of the pooled output of a `side`-pixel input.
    pub fn output_side(self, side: usize) -> usize {
        match self {
            Pool::Max {
                size,
                stride,
                padding,
            } => (side + 2 * padding).saturating_sub(size) / stride.max(1) + 1,
            Pool::Avg { size } => side / size.max(1),
        }
    }

    /// The pooling a convolution layer of a checkpoint declares.
    pub fn of(conv: &Conv2d) -> Self {
        match conv.pool_kind {
            PoolKind::Max => Pool::Max {
                size: conv.pool.max(1),
                stride: conv.pool_step(),
                padding: conv.pool_padding,
            },
            PoolKind::Avg => Pool::Avg {
                size: conv.pool.max(1),
            },
        }
    }

    /// `conv` with its pooling fields (`pool`, `pool_kind`, `pool_stride`, `pool_padding`)
    /// declaring this pooling: the inverse of [`Pool::of`].
    pub fn declared_in(self, conv: Conv2d) -> Conv2d {
        match self {
            Pool::Max {
                size,
                stride,
                padding,
            } => Conv2d {
                pool: size,
                pool_kind: PoolKind::Max,
                pool_stride: stride,
                pool_padding: padding,
                ..conv
            },
            Pool::Avg { size } => Conv2d {
                pool: size,
                pool_kind: PoolKind::Avg,
                pool_stride: 0,
                pool_padding: 0,
                ..conv
            },
        }
    }

    /// Pools `x` (`[B, C, H, W]`).
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Pool::Max {
                size,
                stride,
                padding,
            } => x
                .pad_with_zeros(2, padding, padding)?
                .pad_with_zeros(3, padding, padding)?
                .max_pool2d_with_stride(size, stride)?,
            Pool::Avg { size } => x.avg_pool2d(size)?,
        })
    }
}

/// One block's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockConfig {
    /// Filters of the convolution.
    pub out_channels: usize,
    /// Side of the square kernel; the input is padded by `kernel / 2` (reflected), so the
    /// convolution keeps the input's size.
    pub kernel: usize,
    /// Inverse temperature `1 / tau` of the soft winner-take-all.
    pub inv_tau: f32,
    /// Power of the triangle activation.
    pub power: f32,
    /// Base learning rate `lr0` of the rule.
    pub lr0: f32,
    /// Pooling after the activation.
    pub pool: Pool,
}

/// Momentum of the batch norms' running statistics (PyTorch's default, which the paper's
/// code uses).
const BN_MOMENTUM: f64 = 0.1;
/// Added to the variance before the square root, as PyTorch's batch norm does.
const BN_EPS: f64 = 1e-5;

/// A non-affine batch norm's running statistics, one per channel.
#[derive(Debug, Clone)]
struct RunningStats {
    mean: Tensor,
    var: Tensor,
}

/// One block: batch norm, Hebbian convolution, triangle, pooling.
#[derive(Debug, Clone)]
pub struct Block {
    /// Its settings.
    pub cfg: BlockConfig,
    /// Channels of its input.
    pub in_channels: usize,
    /// Filters, `[out, in * k * k]` (input channel major, then kernel row, then column).
    pub weights: Tensor,
    stats: RunningStats,
}

impl Block {
    fn new(in_channels: usize, cfg: BlockConfig, seed: u64, device: &Device) -> Result<Self> {
        let n = in_channels * cfg.kernel * cfg.kernel;
        // The paper's start: N(0, 1) scaled by 25 / sqrt(fan-in), norms far above 1, so the
        // norm-dependent rate starts high and every filter moves.
        let scale = 25.0 / (n as f32).sqrt();
        let mut rng = crate::rng::seeded(seed);
        let weights = Tensor::from_vec(
            rng.normal_vec(cfg.out_channels * n, scale),
            (cfg.out_channels, n),
            device,
        )?;
        Ok(Self {
            stats: RunningStats {
                mean: Tensor::zeros(in_channels, DType::F32, device)?,
                var: Tensor::ones(in_channels, DType::F32, device)?,
            },
            in_channels,
            weights,
            cfg,
        })
    }

    /// Batch-normalises `x` (`[B, C, H, W]`) per channel with the batch's own statistics,
    /// and moves the running statistics toward them.
    fn normalise_learning(&mut self, x: &Tensor) -> Result<Tensor> {
        let per_channel = x.transpose(0, 1)?.flatten_from(1)?;
        let count = per_channel.dim(1)?;
        let mean = per_channel.mean(1)?;
        let var = per_channel
            .broadcast_sub(&mean.unsqueeze(1)?)?
            .sqr()?
            .mean(1)?;
        // The running variance is the unbiased one, as PyTorch keeps it.
        let unbiased = (&var * (count as f64 / (count.max(2) - 1) as f64))?;
        let stats = &mut self.stats;
        stats.mean = ((&stats.mean * (1.0 - BN_MOMENTUM))? + (&mean * BN_MOMENTUM)?)?;
        stats.var = ((&stats.var * (1.0 - BN_MOMENTUM))? + (unbiased * BN_MOMENTUM)?)?;
        self.standardise(x, &mean, &var)
    }

    /// The running batch norm as `(mean, 1 / sqrt(var + eps))` per input channel.
    pub fn folding(&self) -> Result<(Tensor, Tensor)> {
        let scale = (&self.stats.var + BN_EPS)?.sqrt()?.recip()?;
        Ok((self.stats.mean.clone(), scale))
    }

    /// The filters (`[out, in * k * k]`) and bias (`[out]`) with the running batch norm folded
    /// in: `W' = W s_c`, `b = -sum W' m_c` over each input channel `c`'s kernel entries. Exact
    /// with reflected padding, which copies normalised values just as it copies raw ones.
    pub fn folded_filters(&self) -> Result<(Tensor, Tensor)> {
        let (mean, scale) = self.folding()?;
        let k2 = self.cfg.kernel * self.cfg.kernel;
        // One value per input channel, repeated over its k x k kernel entries.
        let per_column = |v: &Tensor| -> Result<Tensor> {
            Ok(v.unsqueeze(1)?
                .repeat((1, k2))?
                .flatten_all()?
                .unsqueeze(0)?)
        };
        let folded = self.weights.broadcast_mul(&per_column(&scale)?)?;
        let bias = folded.broadcast_mul(&per_column(&mean)?)?.sum(1)?.neg()?;
        Ok((folded, bias))
    }

    /// `(x - mean) / sqrt(var + eps)` per channel of `x` (`[B, C, H, W]`).
    fn standardise(&self, x: &Tensor, mean: &Tensor, var: &Tensor) -> Result<Tensor> {
        let shape = (1, self.in_channels, 1, 1);
        let scale = (var + BN_EPS)?.sqrt()?.recip()?.reshape(shape)?;
        Ok(x.broadcast_sub(&mean.reshape(shape)?)?
            .broadcast_mul(&scale)?)
    }

    /// The block's output for its pre-activations `u` (`[B * H * W, out]`): triangle, back to
    /// `[B, out, H, W]`, pooled.
    fn activate(&self, u: &Tensor, batch: usize, height: usize, width: usize) -> Result<Tensor> {
        let activated = triangle(u, self.cfg.power)?
            .reshape((batch, height, width, self.cfg.out_channels))?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        self.cfg.pool.apply(&activated)
    }

    /// Runs the block on `x` (`[B, C, H, W]`) with the running statistics, changing nothing.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, _, height, width) = x.dims4()?;
        let normalised = self.standardise(x, &self.stats.mean, &self.stats.var)?;
        let u = patches(&normalised, self.cfg.kernel)?.matmul(&self.weights.t()?)?;
        self.activate(&u, batch, height, width)
    }

    /// Runs the block on a minibatch `x` as the unsupervised pass does: normalised with the
    /// batch's statistics (which the running ones follow), and, if `filters_learn`, the
    /// filters take one step of the rule (the output is computed with the filters as they were
    /// before it).
    fn forward_learning(&mut self, x: &Tensor, filters_learn: bool) -> Result<Tensor> {
        let (batch, _, height, width) = x.dims4()?;
        let normalised = self.normalise_learning(x)?;
        let patches = patches(&normalised, self.cfg.kernel)?;
        let u = patches.matmul(&self.weights.t()?)?;
        if filters_learn {
            self.weights =
                softhebb_step_with_u(&self.weights, &patches, &u, self.cfg.inv_tau, self.cfg.lr0)?;
        }
        self.activate(&u, batch, height, width)
    }
}

/// The triangle activation of `u` (`[positions, channels]`): each position's mean over the
/// channels subtracted, the negative part cut, the rest raised to `power`.
pub fn triangle(u: &Tensor, power: f32) -> Result<Tensor> {
    let centred = u.broadcast_sub(&u.mean_keepdim(D::Minus1)?)?.relu()?;
    Ok(if power == 1.0 {
        centred
    } else {
        centred.powf(f64::from(power))?
    })
}

/// Indices `0..side` padded by `pad` on each side by reflection (`pad` <= `side - 1`):
/// `[2, 1, 0, 1, 2, ...]` for a pad of 2, as `reflect` padding does.
fn reflected(side: usize, pad: usize, device: &Device) -> Result<Tensor> {
    let last = side as i64 - 1;
    let idx: Vec<u32> = (-(pad as i64)..side as i64 + pad as i64)
        .map(|i| {
            let r = if i < 0 {
                -i
            } else if i > last {
                2 * last - i
            } else {
                i
            };
            r.clamp(0, last) as u32
        })
        .collect();
    Ok(Tensor::from_vec(idx, side + 2 * pad, device)?)
}

/// Every `k x k` patch of `x` (`[B, C, H, W]`) around every pixel, the input padded by
/// `k / 2` by reflection: `[B * H * W, C * k * k]`, rows in the order of the output pixels,
/// columns as a `[out, C, k, k]` filter is laid out.
pub fn patches(x: &Tensor, k: usize) -> Result<Tensor> {
    patches_padded(x, k, k / 2)
}

/// [`patches`] of the input padded by `pad` (reflected, `pad` below both sides): the output
/// is `(H + 2 pad - k + 1) x (W + 2 pad - k + 1)` positions.
pub fn patches_padded(x: &Tensor, k: usize, pad: usize) -> Result<Tensor> {
    let (batch, channels, height, width) = x.dims4()?;
    let padded = if pad == 0 {
        x.clone()
    } else {
        x.index_select(&reflected(height, pad, x.device())?, 2)?
            .index_select(&reflected(width, pad, x.device())?, 3)?
    };
    let (oh, ow) = (height + 2 * pad + 1 - k, width + 2 * pad + 1 - k);
    let mut shifted = Vec::with_capacity(k * k);
    for dy in 0..k {
        for dx in 0..k {
            shifted.push(padded.narrow(2, dy, oh)?.narrow(3, dx, ow)?);
        }
    }
    Ok(Tensor::stack(&shifted, 4)?
        .permute((0, 2, 3, 1, 4))?
        .contiguous()?
        .reshape((batch * oh * ow, channels * k * k))?)
}

/// The network: blocks in order.
#[derive(Debug, Clone)]
pub struct SoftHebbNet {
    /// The blocks, input first.
    pub blocks: Vec<Block>,
    channels: usize,
    side: usize,
}

impl SoftHebbNet {
    /// A network for `channels x side x side` images, filters drawn from `seed`.
    pub fn new(
        channels: usize,
        side: usize,
        blocks: &[BlockConfig],
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        let mut built = Vec::with_capacity(blocks.len());
        let mut in_channels = channels;
        for (i, cfg) in blocks.iter().enumerate() {
            built.push(Block::new(
                in_channels,
                cfg.clone(),
                seed.wrapping_add(i as u64 * 7919),
                device,
            )?);
            in_channels = cfg.out_channels;
        }
        Ok(Self {
            blocks: built,
            channels,
            side,
        })
    }

    /// Length of the features the readout reads: the last block's channels times its pooled
    /// output's pixels.
    pub fn feature_len(&self) -> usize {
        let side = self
            .blocks
            .iter()
            .fold(self.side, |s, b| b.cfg.pool.output_side(s));
        self.blocks
            .last()
            .map_or(self.channels * self.side * self.side, |b| {
                b.cfg.out_channels
            })
            * side
            * side
    }

    /// Images (`[B, channels * side * side]`, pixels in 0..1) as the first block's input.
    fn images(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.reshape((x.dim(0)?, self.channels, self.side, self.side))?)
    }

    /// One minibatch of the unsupervised pass: every block takes one step of its rule on what
    /// reaches it, and its batch norm's running statistics move.
    pub fn learn(&mut self, x: &Tensor) -> Result<()> {
        self.pass(x, true)
    }

    /// One minibatch of the unsupervised pass with the filters held: only the batch norms'
    /// running statistics move. A network of random filters measured this way is the baseline
    /// that says what the rule learned.
    pub fn observe(&mut self, x: &Tensor) -> Result<()> {
        self.pass(x, false)
    }

    fn pass(&mut self, x: &Tensor, filters_learn: bool) -> Result<()> {
        let mut h = self.images(x)?;
        for block in &mut self.blocks {
            h = block.forward_learning(&h, filters_learn)?;
        }
        Ok(())
    }

    /// The features of `x` (`[B, channels * side * side]`), flattened: `[B, feature_len]`.
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.images(x)?;
        for block in &self.blocks {
            h = block.forward(&h)?;
        }
        Ok(h.flatten_from(1)?)
    }

    /// Features of every row of `x`, `rows` at a time, into one `[N, feature_len]` tensor.
    pub fn features_in_chunks(&self, x: &Tensor, rows: usize) -> Result<Tensor> {
        let total = x.dim(0)?;
        let mut parts = Vec::new();
        for start in (0..total).step_by(rows.max(1)) {
            let len = rows.min(total - start);
            parts.push(self.features(&x.narrow(0, start, len)?)?);
        }
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// Whether every filter is finite: a diverged rule is an error, not a silent NaN readout.
    pub fn is_finite(&self) -> Result<bool> {
        for block in &self.blocks {
            let sum = block.weights.abs()?.sum_all()?.to_scalar::<f32>()?;
            if !sum.is_finite() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The readout's input stage over cached features: dropout while training (each feature
/// kept with probability `1 - rate` and scaled by its inverse), the features as they are
/// when measuring.
///
/// On the CPU the masks come from `rng`, so a seed gives the same readout every time: candle's
/// own dropout draws from an unseeded generator there, and two runs of the same preset ended a
/// few tenths of a point apart. On a GPU candle's dropout draws on the device (a mask made on
/// the host would cross the bus every batch).
#[derive(Debug)]
pub struct DropoutFeatures {
    /// Fraction of features dropped per training sample.
    pub rate: f32,
    /// Draws the masks on the CPU.
    pub rng: SplitMix64,
}

impl InputStage for DropoutFeatures {
    const MODEL: &'static str = "SoftHebb readout";

    fn train_batch(&mut self, x: &Tensor, _epoch: usize, _epochs: usize) -> Result<Tensor> {
        if self.rate <= 0.0 {
            return Ok(x.clone());
        }
        if !x.device().is_cpu() {
            return Ok(candle_nn::ops::dropout(x, self.rate)?);
        }
        let keep = 1.0 - self.rate;
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if self.rng.next_f32() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        Ok((x * mask)?)
    }

    fn accuracy(&self, net: &Mlp, x: &Tensor, labels: &[u32]) -> Result<f32> {
        crate::mlp::accuracy_in_chunks(net, x, labels, 1000, |x| Ok(x.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn reflected_padding_mirrors_without_repeating_the_edge() {
        let idx = reflected(4, 2, &Device::Cpu).unwrap();
        assert_eq!(idx.to_vec1::<u32>().unwrap(), vec![2, 1, 0, 1, 2, 3, 2, 1]);
    }

    #[test]
    fn patches_of_a_3x3_image_by_hand() {
        // One channel, 1..=9 row by row; the 3x3 patch around the corner (0, 0) of the
        // reflected input reads rows 1, 0, 1 and columns 1, 0, 1.
        let x = Tensor::from_vec(
            (1..=9).map(|v| v as f32).collect::<Vec<_>>(),
            (1, 1, 3, 3),
            &Device::Cpu,
        )
        .unwrap();
        let p = patches(&x, 3).unwrap();
        assert_eq!(p.dims(), &[9, 9]);
        let rows = p.to_vec2::<f32>().unwrap();
        assert_eq!(rows[0], vec![5.0, 4.0, 5.0, 2.0, 1.0, 2.0, 5.0, 4.0, 5.0]);
        // The centre's patch is the image itself.
        assert_eq!(rows[4], (1..=9).map(|v| v as f32).collect::<Vec<_>>());
    }

    #[test]
    fn triangle_by_hand() {
        let u = Tensor::new(&[[1.0f32, 2.0, 6.0], [3.0, 3.0, 3.0]], &Device::Cpu).unwrap();
        // Means 3 and 3: [0, 0, 3] squared, and nothing above a flat position's mean.
        assert_eq!(
            values(&triangle(&u, 2.0).unwrap()),
            vec![0.0, 0.0, 9.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn pooling_sizes_follow_the_paper() {
        let max = Pool::Max {
            size: 4,
            stride: 2,
            padding: 1,
        };
        assert_eq!(
            (
                max.output_side(32),
                max.output_side(16),
                max.output_side(28)
            ),
            (16, 8, 14)
        );
        assert_eq!(Pool::Avg { size: 2 }.output_side(8), 4);
        let x = Tensor::from_vec(
            (0..16).map(|v| v as f32).collect::<Vec<_>>(),
            (1, 1, 4, 4),
            &Device::Cpu,
        )
        .unwrap();
        // Windows of 4 at stride 2 over the zero-padded 6x6: the largest values of the
        // bottom-right 3x3 corners of each quadrant's reach.
        assert_eq!(
            values(&max.apply(&x).unwrap()),
            vec![10.0, 11.0, 14.0, 15.0]
        );
        assert_eq!(
            values(&Pool::Avg { size: 2 }.apply(&x).unwrap()),
            vec![2.5, 4.5, 10.5, 12.5]
        );
    }

    #[test]
    fn the_batch_norm_is_folded_exactly_into_what_a_block_computes() {
        let dev = Device::Cpu;
        let cfg = BlockConfig {
            out_channels: 4,
            kernel: 3,
            inv_tau: 1.0,
            power: 1.0,
            lr0: 0.05,
            pool: Pool::Avg { size: 1 },
        };
        let mut block = Block::new(2, cfg, 3, &dev).unwrap();
        let mut rng = crate::rng::seeded(9);
        let x = Tensor::from_vec(rng.uniform_vec(3 * 2 * 5 * 5, 1.0), (3, 2, 5, 5), &dev).unwrap();
        block
            .forward_learning(&((&x * 3.0).unwrap() + 0.5).unwrap(), true)
            .unwrap();
        // u with the block's own normalisation against u from the folded filters and bias.
        let normalised = block
            .standardise(&x, &block.stats.mean, &block.stats.var)
            .unwrap();
        let u = patches(&normalised, 3)
            .unwrap()
            .matmul(&block.weights.t().unwrap())
            .unwrap();
        let (folded, bias) = block.folded_filters().unwrap();
        let direct = patches(&x, 3)
            .unwrap()
            .matmul(&folded.t().unwrap())
            .unwrap()
            .broadcast_add(&bias)
            .unwrap();
        for (a, b) in values(&u).iter().zip(values(&direct)) {
            assert!((a - b).abs() < 1e-3 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }
}
