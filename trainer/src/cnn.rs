//! The reference's small CNN, trained by backpropagation, and CNN + FA: the same
//! convolutions, trained by backpropagation and then frozen, under a fully connected head
//! trained by feedback alignment.
//!
//! Each convolution layer is `relu(max_pool(conv(x) + b))` (stride 1, zero padding), the
//! layout of [`plastic_models::Conv2d`], so the runtime runs the checkpoint as it is. The
//! convolutions are an [`InputStage`] in front of an [`Mlp`]: [`TrainedConvs`] learns from the
//! error the backprop head sends below its first layer; [`FrozenConvs`] holds detached copies
//! of the weights, so nothing can reach them. The reference's "frozen" model kept training its
//! convolutions through the FA head, because nothing stopped the gradient; here the frozen
//! stage has no parameters for the optimiser to update, and a test holds its weights
//! bit-identical through the head's training.

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use plastic_models::{Activation, Conv2d, LayerKind, LayerSpec, LayerTensors, Weights};

use crate::mlp::{InputStage, Mlp, accuracy_in_chunks, kaiming};
use crate::rng::SplitMix64;
use crate::standardise::Standardiser;
use crate::{Error, Result};

/// Rows per chunk when a whole set goes through the convolutions (the first layer's output
/// for 10,000 CIFAR images at once would take gigabytes).
const CHUNK_ROWS: usize = 500;

/// The shape of a convolution stack.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvConfig {
    /// Input `(channels, height, width)`.
    pub input: (usize, usize, usize),
    /// Output channels of each convolution, first to last.
    pub channels: Vec<usize>,
    /// Side of every square kernel.
    pub kernel: usize,
    /// Zero padding of every convolution.
    pub padding: usize,
    /// Side of every max-pooling window.
    pub pool: usize,
}

/// One convolution layer: weights `[out, in, k, k]`, bias `[out]`.
#[derive(Debug)]
pub struct ConvLayer {
    /// The filters.
    pub weight: Var,
    /// One bias per filter.
    pub bias: Var,
    /// Sizes of its input, kernel and output.
    pub geometry: Conv2d,
}

/// Convolution layers from the image to the flat feature vector a head reads.
#[derive(Debug)]
pub struct ConvStack {
    /// The layers, first to last.
    pub layers: Vec<ConvLayer>,
}

impl ConvStack {
    /// A fresh stack with Kaiming-uniform filters (fan-in `in * k * k`) and zero biases.
    pub fn new(cfg: &ConvConfig, seed: u64, device: &Device) -> Result<Self> {
        let mut rng = crate::rng::seeded(seed);
        let (mut channels, mut height, mut width) = cfg.input;
        let mut layers = Vec::new();
        for &out in &cfg.channels {
            let geometry = Conv2d {
                in_channels: channels,
                height,
                width,
                out_channels: out,
                kernel: cfg.kernel,
                padding: cfg.padding,
                pool: cfg.pool,
                ..Default::default()
            };
            let (h, w) = geometry.output_size();
            if out == 0 || h == 0 || w == 0 || cfg.kernel == 0 || cfg.pool == 0 {
                return Err(Error::Config(format!(
                    "convolutions {:?} (kernel {}, padding {}, pool {}) leave nothing of a \
                     {}x{}x{} input",
                    cfg.channels,
                    cfg.kernel,
                    cfg.padding,
                    cfg.pool,
                    cfg.input.0,
                    cfg.input.1,
                    cfg.input.2
                )));
            }
            let filters = kaiming(&mut rng, out, geometry.patch_len(), device)?;
            layers.push(ConvLayer {
                weight: Var::from_tensor(
                    &filters.reshape((out, channels, cfg.kernel, cfg.kernel))?,
                )?,
                bias: Var::zeros(out, DType::F32, device)?,
                geometry,
            });
            (channels, height, width) = (out, h, w);
        }
        Ok(Self { layers })
    }

    /// Length of the flat feature vector at the top of the stack.
    pub fn feature_len(&self) -> usize {
        self.layers.last().map_or(0, |l| l.geometry.output_len())
    }

    /// The features of `x` (`[samples, channels * height * width]`, planar) with the given
    /// filters, `[samples, feature_len]`.
    fn apply(&self, x: &Tensor, filters: &[(Tensor, Tensor)]) -> Result<Tensor> {
        let Some(first) = self.layers.first() else {
            return Ok(x.clone());
        };
        let g = first.geometry;
        let mut h = x.reshape((x.dim(0)?, g.in_channels, g.height, g.width))?;
        for (layer, (w, b)) in self.layers.iter().zip(filters) {
            let pad = layer.geometry.padding;
            let conv = h.conv2d(w, pad, 1, 1, 1)?;
            let conv = conv.broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?)?;
            h = conv.max_pool2d(layer.geometry.pool)?.relu()?;
        }
        Ok(h.flatten_from(1)?)
    }

    /// The features of `x`, tracked for backprop into the filters.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let filters: Vec<_> = self
            .layers
            .iter()
            .map(|l| (l.weight.as_tensor().clone(), l.bias.as_tensor().clone()))
            .collect();
        self.apply(x, &filters)
    }

    /// The stack's filters and biases, as trainable parameters.
    pub fn params(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|l| [l.weight.clone(), l.bias.clone()])
            .collect()
    }

    /// The layers as checkpoint specs (dense kind: trained by backprop) and tensors.
    pub fn export(&self) -> Result<(Vec<LayerSpec>, Vec<LayerTensors>)> {
        let mut specs = Vec::new();
        let mut tensors = Vec::new();
        for layer in &self.layers {
            let g = layer.geometry;
            specs.push(LayerSpec {
                kind: LayerKind::Dense,
                inputs: g.input_len(),
                outputs: g.output_len(),
                bias: true,
                activation: Activation::Relu,
                conv: Some(g),
            });
            tensors.push(LayerTensors {
                weight: Weights::F32(layer.weight.as_tensor().flatten_all()?.to_vec1()?),
                bias: Some(layer.bias.as_tensor().to_vec1()?),
                feedback: None,
            });
        }
        Ok((specs, tensors))
    }
}

/// Each image of `x` (`[samples, c * h * w]`, planar) moved by its own random offset of up to
/// `shift` pixels in each direction, the uncovered border filled with the nearest edge pixel
/// (background, for digits). The standard augmentation of small CNNs: without it the
/// reference's CNN overfits MNIST and stops at 98.8 %.
pub fn random_shifts(
    x: &Tensor,
    (c, h, w): (usize, usize, usize),
    shift: usize,
    rng: &mut SplitMix64,
) -> Result<Tensor> {
    if shift == 0 {
        return Ok(x.clone());
    }
    let n = x.dim(0)?;
    let padded = x
        .reshape((n, c, h, w))?
        .pad_with_same(2, shift, shift)?
        .pad_with_same(3, shift, shift)?;
    let span = 2 * shift + 1;
    let moved = (0..n)
        .map(|i| {
            let (dy, dx) = (rng.below(span), rng.below(span));
            Ok(padded.narrow(0, i, 1)?.narrow(2, dy, h)?.narrow(3, dx, w)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::cat(&moved, 0)?.reshape((n, c * h * w))?)
}

/// Each image of `x` (`[samples, c * h * w]`, planar) mirrored left to right with probability
/// one half. The standard augmentation of CIFAR-10, whose classes look the same mirrored; never
/// for digits, which do not.
pub fn random_flips(
    x: &Tensor,
    (c, h, w): (usize, usize, usize),
    rng: &mut SplitMix64,
) -> Result<Tensor> {
    let n = x.dim(0)?;
    let images = x.reshape((n, c, h, w))?;
    let reversed = Tensor::from_vec((0..w as u32).rev().collect::<Vec<_>>(), w, x.device())?;
    let mirrored = images.index_select(&reversed, 3)?;
    let chosen: Vec<u8> = (0..n).map(|_| u8::from(rng.below(2) == 1)).collect();
    let mask = Tensor::from_vec(chosen, (n, 1, 1, 1), x.device())?.broadcast_as((n, c, h, w))?;
    Ok(mask
        .where_cond(&mirrored, &images)?
        .reshape((n, c * h * w))?)
}

/// How training images are varied, fresh every batch: random shifts ([`random_shifts`]) and,
/// where the classes allow it, mirror images ([`random_flips`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Augmentation {
    /// Largest shift, in pixels (0: none).
    pub shift: usize,
    /// Mirror half of the images left to right.
    pub flip: bool,
}

impl Augmentation {
    /// `x` varied as configured; `geometry` is `(channels, height, width)`.
    pub fn apply(
        &self,
        x: &Tensor,
        geometry: (usize, usize, usize),
        rng: &mut SplitMix64,
    ) -> Result<Tensor> {
        let x = random_shifts(x, geometry, self.shift, rng)?;
        if self.flip {
            random_flips(&x, geometry, rng)
        } else {
            Ok(x)
        }
    }
}

/// The convolutions trained with the head, by backprop: the stage for the CNN. Training
/// images are varied by an [`Augmentation`].
#[derive(Debug)]
pub struct TrainedConvs<'a> {
    stack: &'a ConvStack,
    augmentation: Augmentation,
    rng: SplitMix64,
}

impl<'a> TrainedConvs<'a> {
    /// Trains `stack`, varying training images with `augmentation` (drawn from `seed`).
    pub fn new(stack: &'a ConvStack, augmentation: Augmentation, seed: u64) -> Self {
        Self {
            stack,
            augmentation,
            rng: crate::rng::seeded(seed),
        }
    }
}

impl InputStage for TrainedConvs<'_> {
    const MODEL: &'static str = "CNN";

    fn train_batch(&mut self, x: &Tensor, _epoch: usize, _epochs: usize) -> Result<Tensor> {
        let geometry = self.stack.layers.first().map(|l| l.geometry);
        let x = match geometry {
            Some(g) => {
                self.augmentation
                    .apply(x, (g.in_channels, g.height, g.width), &mut self.rng)?
            }
            None => x.clone(),
        };
        self.stack.forward(&x)
    }

    fn accuracy(&self, net: &Mlp, x: &Tensor, labels: &[u32]) -> Result<f32> {
        accuracy_in_chunks(net, x, labels, CHUNK_ROWS, |xb| {
            Ok(self.stack.forward(xb)?.detach())
        })
    }

    fn params(&self) -> Vec<Var> {
        self.stack.params()
    }

    /// Backprop through the convolutions: the gradient of `sum(input * input_error)`, whose
    /// gradient with respect to `input` is `input_error`, is the loss's for the filters.
    fn backward(&self, input: &Tensor, input_error: &Tensor, grads: &mut GradStore) -> Result<()> {
        let surrogate = (input * input_error.detach())?.sum_all()?;
        let mut below = surrogate.backward()?;
        for var in self.stack.params() {
            let grad = below.remove(var.as_tensor()).ok_or_else(|| {
                Error::Config("a convolution got no gradient: is it on the path?".into())
            })?;
            grads.insert(var.as_tensor(), grad);
        }
        Ok(())
    }
}

/// The convolutions frozen: detached copies of the filters, so no gradient and no optimiser
/// can change them. The stage for CNN + FA.
///
/// The head sees the features standardised with their training-set mean and standard
/// deviation. Raw, they are all non-negative (ReLU after pooling), so every weight of a hidden
/// unit moves the same way at each step; under feedback alignment, whose early updates point
/// anywhere, that kills units before B and W align (an FA head on raw features stalled at
/// 17-58 % on a 6,000-digit slice). The standardisation is affine, so
/// [`FrozenConvs::fold_into`] moves it into the head's first layer and the checkpoint runs the
/// convolutions' raw output, as the runtime computes it.
#[derive(Debug)]
pub struct FrozenConvs<'a> {
    stack: &'a ConvStack,
    filters: Vec<(Tensor, Tensor)>,
    scale: Standardiser,
}

impl<'a> FrozenConvs<'a> {
    /// Freezes `stack` as it is now and measures its features' statistics on `x_train`.
    pub fn new(stack: &'a ConvStack, x_train: &Tensor) -> Result<Self> {
        let filters: Vec<_> = stack
            .layers
            .iter()
            .map(|l| (l.weight.as_tensor().detach(), l.bias.as_tensor().detach()))
            .collect();
        let scale = Standardiser::measure(x_train, CHUNK_ROWS, |x| stack.apply(x, &filters))?;
        Ok(Self {
            stack,
            filters,
            scale,
        })
    }

    fn features(&self, x: &Tensor) -> Result<Tensor> {
        self.scale.apply(&self.stack.apply(x, &self.filters)?)
    }

    /// Folds the standardisation into `head`'s first layer (see [`Standardiser::fold_into`]),
    /// so the head reads the raw features.
    pub fn fold_into(&self, head: &Mlp) -> Result<()> {
        self.scale.fold_into(head)
    }
}

impl InputStage for FrozenConvs<'_> {
    const MODEL: &'static str = "CNN + FA head";

    fn train_batch(&mut self, x: &Tensor, _epoch: usize, _epochs: usize) -> Result<Tensor> {
        self.features(x)
    }

    fn accuracy(&self, net: &Mlp, x: &Tensor, labels: &[u32]) -> Result<f32> {
        accuracy_in_chunks(net, x, labels, CHUNK_ROWS, |xb| self.features(xb))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::Feedback;

    fn stack() -> ConvStack {
        let cfg = ConvConfig {
            input: (2, 6, 6),
            channels: vec![3, 4],
            kernel: 3,
            padding: 1,
            pool: 2,
        };
        ConvStack::new(&cfg, 5, &Device::Cpu).unwrap()
    }

    fn batch() -> (Tensor, Tensor) {
        let mut rng = crate::rng::seeded(9);
        let x = Tensor::from_vec(rng.uniform_vec(8 * 72, 1.0), (8, 72), &Device::Cpu).unwrap();
        let y = Tensor::from_slice(&[0u32, 1, 2, 0, 1, 2, 0, 1], 8, &Device::Cpu).unwrap();
        (x, y)
    }

    #[test]
    fn sizes_follow_the_geometry() {
        let s = stack();
        // 6x6 -> (pad 1, k 3) 6x6 -> pool 3x3; -> 3x3 -> pool 1x1; 4 channels.
        assert_eq!(s.feature_len(), 4);
        let (specs, tensors) = s.export().unwrap();
        assert_eq!(specs[0].outputs, 3 * 3 * 3);
        assert_eq!(specs[1].inputs, 27);
        let Weights::F32(w) = &tensors[1].weight else {
            panic!("f32 expected")
        };
        assert_eq!(w.len(), 4 * 3 * 9);
    }

    #[test]
    fn stage_backward_equals_candle_autograd_through_the_whole_network() {
        let s = stack();
        let (x, y) = batch();
        let head = Mlp::new(&[4, 5, 3], Feedback::Backprop, 2, &Device::Cpu).unwrap();
        let stage = TrainedConvs::new(&s, Augmentation::default(), 1);
        let input = s.forward(&x).unwrap();
        let (_, mut ours, below) = head
            .gradients_below(&input, &y, Feedback::Backprop, true)
            .unwrap();
        stage.backward(&input, &below.unwrap(), &mut ours).unwrap();
        let loss =
            candle_nn::loss::cross_entropy(&head.logits(&s.forward(&x).unwrap()).unwrap(), &y)
                .unwrap();
        let auto = loss.backward().unwrap();
        for var in s.params().iter().chain(&head.weights) {
            let a = ours.get(var.as_tensor()).unwrap().flatten_all().unwrap();
            let b = auto.get(var.as_tensor()).unwrap().flatten_all().unwrap();
            let (a, b) = (a.to_vec1::<f32>().unwrap(), b.to_vec1::<f32>().unwrap());
            for (p, q) in a.iter().zip(&b) {
                assert!((p - q).abs() < 1e-5, "{p} vs {q}");
            }
        }
    }

    #[test]
    fn frozen_stage_has_nothing_to_train_and_ignores_later_changes() {
        let s = stack();
        let (x, _) = batch();
        let mut frozen = FrozenConvs::new(&s, &x).unwrap();
        assert!(frozen.params().is_empty());
        // Standardised on this batch: every feature has mean 0 (or never fires).
        let f = frozen.train_batch(&x, 0, 1).unwrap();
        for m in f.mean(0).unwrap().to_vec1::<f32>().unwrap() {
            assert!(m.abs() < 1e-4, "{m}");
        }
        // A head's loss does not reach the frozen filters.
        let head = Mlp::new(&[4, 3], Feedback::Alignment, 2, &Device::Cpu).unwrap();
        let features = frozen.train_batch(&x, 0, 1).unwrap();
        let grads = head
            .logits(&features)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for var in s.params() {
            assert!(grads.get(var.as_tensor()).is_none());
        }
    }

    #[test]
    fn shifts_move_each_image_within_its_padding() {
        // One 1x3x3 image 1..=9, shifted by up to 1: every result is the image moved by
        // (dy, dx) in -1..=1 with edges repeated, so its centre pixel is one of the nine.
        let x =
            Tensor::from_vec((1..=9).map(|v| v as f32).collect(), (1, 9), &Device::Cpu).unwrap();
        let mut rng = crate::rng::seeded(3);
        let mut centres = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let moved = random_shifts(&x, (1, 3, 3), 1, &mut rng).unwrap();
            let v = moved.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            centres.insert(v[4] as i32);
            // Moved right by one (dx = 0 in the padded frame): the first column repeats.
            if v[4] == 4.0 {
                assert_eq!(v, [1.0, 1.0, 2.0, 4.0, 4.0, 5.0, 7.0, 7.0, 8.0]);
            }
        }
        assert_eq!(
            centres.into_iter().collect::<Vec<_>>(),
            (1..=9).collect::<Vec<_>>()
        );
        assert_eq!(
            random_shifts(&x, (1, 3, 3), 0, &mut rng).unwrap().dims(),
            [1, 9]
        );
    }

    #[test]
    fn flips_mirror_about_half_of_the_images_and_leave_the_rest() {
        // Two channels of a 2x3 image: each result is the image or its mirror, whole.
        let image: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        let mirror = [3., 2., 1., 6., 5., 4., 9., 8., 7., 12., 11., 10.];
        let x = Tensor::from_vec(image.repeat(400), (400, 12), &Device::Cpu).unwrap();
        let mut rng = crate::rng::seeded(5);
        let out = random_flips(&x, (2, 2, 3), &mut rng)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let flipped = out.iter().filter(|row| row[..] == mirror[..]).count();
        assert!(out.iter().all(|row| *row == image || row[..] == mirror[..]));
        assert!((150..=250).contains(&flipped), "{flipped} of 400 mirrored");
        let both = Augmentation {
            shift: 1,
            flip: true,
        };
        assert_eq!(
            both.apply(&x, (2, 2, 3), &mut rng).unwrap().dims(),
            [400, 12]
        );
    }

    #[test]
    fn folding_the_standardisation_keeps_the_heads_outputs() {
        let s = stack();
        let (x, _) = batch();
        let frozen = FrozenConvs::new(&s, &x).unwrap();
        let head = Mlp::new(&[4, 5, 3], Feedback::Alignment, 2, &Device::Cpu).unwrap();
        let before = head.logits(&frozen.features(&x).unwrap()).unwrap();
        frozen.fold_into(&head).unwrap();
        let after = head.logits(&s.forward(&x).unwrap()).unwrap();
        let diff = (before - after).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-4);
    }
}
