//! The last Hebbian convolution of a front end keeps learning on the device, with the rule it
//! was trained by: SoftHebb's soft winner-take-all ([`crate::learn::softhebb`]), one step per
//! frame over the frame's patches, no labels and no feedback.
//!
//! Why the last one: its filters are the ones a new view's features are built from, and the
//! learning readout ([`crate::AdaptiveReadout`]) reads them directly, so a label corrects
//! whatever the filters' change moves. Why it needs coordinates: the export folds the batch
//! norm before each block into the filters (`W' = W / s`, `b' = -W' m` per input channel with
//! mean `m` and spread `s`), and the rule acts on the unfolded filters `W` over normalised
//! patches `x_n = (x - m) / s`. The device unfolds with the reference moments of the layer's
//! input that ship with the model (`plastic calibrate`, [`crate::channel_stats`]): the channel
//! alignment brings the stream back to those moments, so the normalised patches are what the
//! rule saw in training. Each step is folded back, `W' = W / s` and `b' = beta - W' m`, with
//! `beta = b' + W' m` of the layer as it started (zero for an exact fold), so the layer's
//! outputs move only by what the rule changed.

use alloc::vec;
use alloc::vec::Vec;
use plastic_models::{Conv2d, LayerKind, ModelSpec};

use crate::channel_stats::Moments;
use crate::learn::softhebb::SoftHebbStep;
use crate::{Error, Model, Result};

/// One convolution's unfolded filters, their coordinates and the rule's buffers.
#[derive(Debug, Clone)]
pub struct HebbianConv {
    layer: usize,
    conv: Conv2d,
    inv_tau: f32,
    /// Base rate `lr0` of each step (see [`crate::learn::softhebb`]).
    rate: f32,
    /// `W`, `[out, patch]`, over normalised patches.
    weights: Vec<f32>,
    /// Per patch column: the mean and spread of its input channel.
    column_mean: Vec<f32>,
    column_spread: Vec<f32>,
    /// `beta = b' + W' m` per filter, kept as it started.
    offset: Vec<f32>,
    /// The layer's input on the latest frame, and whether it has not been learned from.
    input: Vec<f32>,
    fresh: bool,
    patch: Vec<f32>,
    step: SoftHebbStep,
    folded: Vec<f32>,
    bias: Vec<f32>,
}

impl HebbianConv {
    /// The learner of `model`'s layer `layer`, a SoftHebb convolution whose input channels
    /// have the `reference` moments, stepping at base rate `rate`. Errors when the layer is not
    /// a SoftHebb convolution or `reference` does not have one moment per input channel.
    pub fn new(model: &Model, layer: usize, reference: &[Moments], rate: f32) -> Result<Self> {
        let (conv, inv_tau) = softhebb_convolution(model.spec(), layer)?;
        if reference.len() != conv.in_channels {
            return Err(Error::WrongLength {
                what: "reference moments of a convolution's input",
                expected: conv.in_channels,
                found: reference.len(),
            });
        }
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(Error::NotLearnable(
                "a convolution's rate must be finite and >= 0",
            ));
        }
        let (folded, bias) = model.layer_f32(layer)?;
        let taps = conv.kernel * conv.kernel;
        let patch = conv.patch_len();
        let column_mean: Vec<f32> = (0..patch).map(|j| reference[j / taps].mean).collect();
        let column_spread: Vec<f32> = (0..patch).map(|j| reference[j / taps].spread()).collect();
        let weights: Vec<f32> = folded
            .chunks_exact(patch)
            .flat_map(|row| row.iter().zip(&column_spread).map(|(w, s)| w * s))
            .collect();
        let offset = folded
            .chunks_exact(patch)
            .zip(&bias)
            .map(|(row, b)| b + dot(row, &column_mean))
            .collect();
        Ok(Self {
            layer,
            conv,
            inv_tau,
            rate,
            weights,
            column_mean,
            column_spread,
            offset,
            input: vec![0.0; conv.input_len()],
            fresh: false,
            patch: vec![0.0; patch],
            step: SoftHebbStep::new(conv.out_channels, patch),
            folded,
            bias,
        })
    }

    /// The layer this learner changes.
    pub fn layer(&self) -> usize {
        self.layer
    }

    /// Keeps the layer's input of the frame being inferred (as the layer reads it: aligned, if
    /// the channels are), for the next [`HebbianConv::learn`].
    pub fn capture(&mut self, input: &[f32]) {
        if input.len() == self.input.len() {
            self.input.copy_from_slice(input);
            self.fresh = true;
        }
    }

    /// The filters `W` over normalised patches, `[out, patch]`.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// One step of the rule over every patch of the latest captured frame, folded into the
    /// layer of `model`. Returns whether it stepped (not without a new frame, nor when the step
    /// would leave a value that is not finite: the layer then stays as it was).
    pub fn learn(&mut self, model: &mut Model) -> Result<bool> {
        if !core::mem::take(&mut self.fresh) || self.rate == 0.0 {
            return Ok(false);
        }
        self.step.clear();
        let (height, width) = self.conv.conv_size();
        for oy in 0..height {
            for ox in 0..width {
                crate::conv::gather_patch(&self.conv, &self.input, oy, ox, &mut self.patch);
                for ((x, m), s) in self
                    .patch
                    .iter_mut()
                    .zip(&self.column_mean)
                    .zip(&self.column_spread)
                {
                    *x = (*x - m) / s;
                }
                self.step
                    .add_patch(&self.weights, &self.patch, self.inv_tau)?;
            }
        }
        self.step.apply(&mut self.weights, self.rate)?;
        let patch = self.patch.len();
        if self.weights.iter().any(|w| !w.is_finite()) {
            // Back to the filters of the last step, which the folded copy still holds.
            for (row, folded) in self
                .weights
                .chunks_exact_mut(patch)
                .zip(self.folded.chunks_exact(patch))
            {
                for ((w, f), s) in row.iter_mut().zip(folded).zip(&self.column_spread) {
                    *w = f * s;
                }
            }
            return Ok(false);
        }
        for ((row, folded), (bias, beta)) in self
            .weights
            .chunks_exact(patch)
            .zip(self.folded.chunks_exact_mut(patch))
            .zip(self.bias.iter_mut().zip(&self.offset))
        {
            for ((f, w), s) in folded.iter_mut().zip(row).zip(&self.column_spread) {
                *f = w / s;
            }
            *bias = beta - dot(folded, &self.column_mean);
        }
        model.set_layer(self.layer, &self.folded, &self.bias)?;
        Ok(true)
    }

    /// Bytes held: the unfolded and folded filters, the step's sums, the buffers.
    pub fn memory_bytes(&self) -> usize {
        4 * (3 * self.weights.len()
            + self.input.len()
            + 2 * self.column_mean.len()
            + 3 * self.offset.len())
    }
}

/// Layer `layer` of `spec` as a SoftHebb convolution (its geometry and `1 / tau`), or why it
/// cannot learn by the SoftHebb rule.
pub fn softhebb_convolution(spec: &ModelSpec, layer: usize) -> Result<(Conv2d, f32)> {
    let layer = spec
        .layers
        .get(layer)
        .ok_or(Error::NotLearnable("no such layer"))?;
    match (layer.conv, &layer.kind) {
        (Some(conv), LayerKind::SoftHebb { inv_tau }) => Ok((conv, *inv_tau)),
        _ => Err(Error::NotLearnable(
            "only a SoftHebb convolution learns by the SoftHebb rule",
        )),
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use plastic_models::{Activation, Checkpoint};

    /// A 3x3 gray input, a convolution of two 2x2 filters of layer kind `kind` (four positions,
    /// pooled to one value each), a dense readout to 2 classes. Folded filters `w`, bias `b`.
    fn softhebb_model(w: [f32; 8], b: [f32; 2], kind: LayerKind) -> Checkpoint {
        crate::test_models::tiny_conv(
            kind,
            w.to_vec(),
            Some(b.to_vec()),
            Activation::Identity,
            vec![1.0, 0.0, 0.0, 1.0],
        )
    }

    const W: [f32; 8] = [0.5, -0.25, 0.0, 0.25, 0.1, 0.2, 0.3, -0.4];
    const SOFTHEBB: LayerKind = LayerKind::SoftHebb { inv_tau: 2.0 };

    /// Mean 0.5, spread 2: mean square 0.25 + 4.
    fn reference() -> [Moments; 1] {
        [Moments {
            mean: 0.5,
            square: 4.25,
        }]
    }

    #[test]
    fn a_step_is_the_softhebb_rule_on_normalised_patches_folded_back() {
        let b = [0.3f32, -0.2];
        let mut model = Model::from_checkpoint(&softhebb_model(W, b, SOFTHEBB)).unwrap();
        let mut learner = HebbianConv::new(&model, 0, &reference(), 0.1).unwrap();
        let frame = [0.9f32, 0.1, 0.4, 0.0, 0.7, 0.3, 0.2, 0.8, 0.6];
        learner.capture(&frame);
        assert!(learner.learn(&mut model).unwrap());

        // By hand: unfold (W = W' s), the rule over the four normalised 2x2 patches, fold back
        // with beta = b' + W' m kept.
        let (m, s) = (0.5f32, 2.0f32);
        let mut unfolded: Vec<f32> = W.iter().map(|w| w * s).collect();
        let beta: Vec<f32> = (0..2)
            .map(|c| b[c] + W[c * 4..c * 4 + 4].iter().sum::<f32>() * m)
            .collect();
        let mut step = SoftHebbStep::new(2, 4);
        for (oy, ox) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let patch: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                .iter()
                .map(|(dy, dx)| (frame[(oy + dy) * 3 + ox + dx] - m) / s)
                .collect();
            step.add_patch(&unfolded, &patch, 2.0).unwrap();
        }
        step.apply(&mut unfolded, 0.1).unwrap();
        assert_eq!(learner.weights(), unfolded.as_slice());
        let (folded, bias) = model.layer_f32(0).unwrap();
        for c in 0..2 {
            let row = &unfolded[c * 4..c * 4 + 4];
            for j in 0..4 {
                assert!((folded[c * 4 + j] - row[j] / s).abs() < 1e-6);
            }
            let expected = beta[c] - row.iter().map(|w| w / s * m).sum::<f32>();
            assert!(
                (bias[c] - expected).abs() < 1e-6,
                "{c}: {} vs {expected}",
                bias[c]
            );
        }
        // The rule moved the filters; the same frame again is not learned twice.
        assert!(folded.iter().zip(W).any(|(a, b)| (a - b).abs() > 1e-4));
        assert!(!learner.learn(&mut model).unwrap());
    }

    #[test]
    fn an_int8_layer_is_written_back_quantized() {
        let model = Model::from_checkpoint(&softhebb_model(W, [0.0; 2], SOFTHEBB)).unwrap();
        let mut int8 = model.quantized();
        let mut learner = HebbianConv::new(&int8, 0, &reference(), 0.05).unwrap();
        learner.capture(&[0.2, 0.9, 0.1, 0.5, 0.3, 0.8, 0.7, 0.0, 0.4]);
        assert!(learner.learn(&mut int8).unwrap());
        let (folded, _) = int8.layer_f32(0).unwrap();
        for (q, w) in folded.iter().zip(learner.weights()) {
            // Within half a quantization step of the largest filter value (|w'| <= ~0.5).
            assert!(
                (q - w / 2.0).abs() < 0.5 / 127.0 + 1e-6,
                "{q} vs {}",
                w / 2.0
            );
        }
        assert_eq!(int8.precision(), crate::Precision::Int8);
    }

    #[test]
    fn only_a_softhebb_convolution_with_its_moments_and_a_finite_rate_learns() {
        let dense = Model::from_checkpoint(&softhebb_model(W, [0.0; 2], LayerKind::Dense)).unwrap();
        assert!(matches!(
            HebbianConv::new(&dense, 0, &reference(), 0.1),
            Err(Error::NotLearnable(_))
        ));
        let model = Model::from_checkpoint(&softhebb_model(W, [0.0; 2], SOFTHEBB)).unwrap();
        assert!(HebbianConv::new(&model, 1, &reference(), 0.1).is_err());
        assert!(HebbianConv::new(&model, 5, &reference(), 0.1).is_err());
        assert!(HebbianConv::new(&model, 0, &[], 0.1).is_err());
        assert!(HebbianConv::new(&model, 0, &reference(), f32::NAN).is_err());
        // A frame of the wrong size is not captured, so nothing is learned.
        let mut model = model;
        let mut learner = HebbianConv::new(&model, 0, &reference(), 0.1).unwrap();
        learner.capture(&[1.0; 4]);
        assert!(!learner.learn(&mut model).unwrap());
    }
}
