//! Model specs: the layers, activations and input preprocessing of a model, stored as JSON in
//! the `spec` metadata entry of every checkpoint, so that a checkpoint alone says how to run it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::limits::{
    MAX_ABS_MEAN, MAX_INPUT_LEN, MAX_KROTOV_K, MAX_KROTOV_P, MAX_LAYER_WEIGHTS, MAX_LAYER_WIDTH,
    STD_RANGE,
};
use crate::{Error, Result};

/// A feed-forward model: input description, then layers applied in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Short name, e.g. `krotov-power-tanh`.
    pub name: String,
    /// What the model expects as input.
    pub input: InputSpec,
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
    /// Class names, one per output of the last layer.
    pub classes: Vec<String>,
}

/// Input geometry and the preprocessing the model was trained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Image width in pixels.
    pub width: usize,
    /// Image height in pixels.
    pub height: usize,
    /// 1 for gray, 3 for RGB (planar, channel-major, as CIFAR-10 stores it).
    pub channels: usize,
    /// How raw bytes become the input vector.
    pub preprocess: Preprocess,
}

impl InputSpec {
    /// Length of the input vector: `width * height * channels`. Exact for a validated spec;
    /// for any other it saturates at `usize::MAX` instead of wrapping to a small, plausible
    /// length (see [`InputSpec::checked_len`]).
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// `width * height * channels`, or `None` when the product does not fit in a `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        self.width
            .checked_mul(self.height)?
            .checked_mul(self.channels)
    }

    /// True when the input has no pixels (never valid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How raw pixel bytes (0..=255) become the model's input vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Preprocess {
    /// `x / 255`.
    Scale01,
    /// `x / ||x||_2`: each image becomes a unit vector. Krotov & Hopfield need this for their
    /// readout (the reference ports skipped it and lost accuracy).
    UnitNorm,
    /// `(x - mean(x)) / ||x - mean(x)||_2`, the mean over the image's own pixels: a unit vector
    /// with zero mean, whatever the image's brightness and contrast (all zeros for a uniform
    /// image). Without the centring, the unit vectors of natural images (CIFAR-10) all point
    /// near the mean colour, and a Krotov layer spends its units on brightness and tint.
    CentredUnitNorm,
    /// `(x / 255 - mean[c]) / std[c]` per channel.
    MeanStd {
        /// Mean per channel, on the 0..1 scale.
        mean: Vec<f32>,
        /// Standard deviation per channel, on the 0..1 scale.
        std: Vec<f32>,
    },
}

/// One layer: `y = activation(W x + b)`, `W` of shape `[outputs, inputs]`; or, when `conv`
/// is set, a 2-D convolution followed by max-pooling and the activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    /// How the weights were learned (inference is the same matrix product for every kind).
    pub kind: LayerKind,
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Whether a `layers.{i}.bias` tensor exists.
    pub bias: bool,
    /// The nonlinearity after the affine map.
    pub activation: Activation,
    /// Present when the layer is a convolution: its geometry. Absent (the default, so older
    /// checkpoints still read) for a fully connected layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<Conv2d>,
}

/// A 2-D convolution (stride 1; zero padding, or reflected for SoftHebb's networks), then
/// pooling (`pool x pool` max-pooling with stride `pool` and the remainder dropped, as
/// PyTorch's `max_pool2d`, unless the optional fields below say otherwise), then the layer's
/// activation. A [`Activation::Triangle`] acts on each position's channels, so it is applied
/// before the pooling; every other activation commutes with max-pooling and comes after it.
///
/// The layer's input and output vectors are planar, channel first (`[c][y][x]`), the layout of
/// CIFAR-10 and of PyTorch's `flatten`, so a dense layer after it reads the same order. Its
/// weight tensor is stored as `[out_channels, in_channels, kernel, kernel]` (PyTorch's layout);
/// the runtime sees it as the `[out_channels, in_channels * kernel * kernel]` matrix it is,
/// with one int8 scale per output channel. The bias is per output channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv2d {
    /// Channels of the input.
    pub in_channels: usize,
    /// Input height in pixels.
    pub height: usize,
    /// Input width in pixels.
    pub width: usize,
    /// Channels of the output (filters).
    pub out_channels: usize,
    /// Side of the square kernel.
    pub kernel: usize,
    /// Pixels added on every side of the input (zeros, or as `padding_mode` says).
    pub padding: usize,
    /// Side of the square pooling window (1: no pooling).
    pub pool: usize,
    /// What the padding holds; absent in older checkpoints: zeros.
    #[serde(default, skip_serializing_if = "is_default")]
    pub padding_mode: PaddingMode,
    /// How a pooling window is reduced; absent: its largest value.
    #[serde(default, skip_serializing_if = "is_default")]
    pub pool_kind: PoolKind,
    /// Step between pooling windows; absent or 0: the window's side (windows that do not
    /// overlap).
    #[serde(default, skip_serializing_if = "is_default")]
    pub pool_stride: usize,
    /// Zeros added on every side of the convolution's output before max-pooling (the
    /// activations pooled are never negative where it is used, so a zero never wins over a
    /// real value); absent: none.
    #[serde(default, skip_serializing_if = "is_default")]
    pub pool_padding: usize,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// What a convolution reads outside its input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaddingMode {
    /// Zeros (PyTorch's default).
    #[default]
    Zeros,
    /// The input mirrored at its edge, the edge itself not repeated (`[2, 1, 0, 1, 2, ...]`),
    /// as PyTorch's `reflect` padding: SoftHebb's convolutions pad so.
    Reflect,
}

/// How a pooling window is reduced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolKind {
    /// Its largest value.
    #[default]
    Max,
    /// Its mean.
    Avg,
}

/// Largest side, channel count, kernel, padding or pool a checkpoint may declare: a hostile
/// file must not make the runtime allocate or loop without bound.
const MAX_CONV_SIDE: usize = 4096;
/// Largest input, pre-pooling output or receptive field of a convolution, in values.
const MAX_CONV_LEN: u64 = 1 << 24;

impl Conv2d {
    /// Height and width of the convolution's output, before pooling.
    pub fn conv_size(&self) -> (usize, usize) {
        let grow = |side: usize| (side + 2 * self.padding + 1).saturating_sub(self.kernel);
        (grow(self.height), grow(self.width))
    }

    /// Height and width of the layer's output, after pooling.
    pub fn output_size(&self) -> (usize, usize) {
        let (h, w) = self.conv_size();
        (self.pooled_side(h), self.pooled_side(w))
    }

    /// Step between pooling windows.
    pub fn pool_step(&self) -> usize {
        if self.pool_stride == 0 {
            self.pool.max(1)
        } else {
            self.pool_stride
        }
    }

    /// Side of the pooled output of a `side`-pixel convolution output.
    fn pooled_side(&self, side: usize) -> usize {
        let pool = self.pool.max(1);
        match (side + 2 * self.pool_padding).checked_sub(pool) {
            Some(room) => room / self.pool_step() + 1,
            None => 0,
        }
    }

    /// Length of the input vector: `in_channels * height * width`.
    pub fn input_len(&self) -> usize {
        self.in_channels * self.height * self.width
    }

    /// Length of the output vector: `out_channels * output height * output width`.
    pub fn output_len(&self) -> usize {
        let (h, w) = self.output_size();
        self.out_channels * h * w
    }

    /// Length of one receptive field (a row of the weight matrix).
    pub fn patch_len(&self) -> usize {
        self.in_channels * self.kernel * self.kernel
    }

    /// Why this geometry cannot be run, if it cannot.
    fn problem(&self) -> Option<String> {
        if [
            self.in_channels,
            self.height,
            self.width,
            self.out_channels,
            self.kernel,
        ]
        .contains(&0)
            || self.pool == 0
        {
            return Some("convolution sizes must be positive".into());
        }
        let sizes = [
            self.in_channels,
            self.height,
            self.width,
            self.out_channels,
            self.kernel,
            self.padding,
            self.pool,
        ];
        if sizes.iter().any(|&s| s > MAX_CONV_SIDE) {
            return Some(format!(
                "convolution sizes above {MAX_CONV_SIDE} are refused"
            ));
        }
        if self.padding >= self.kernel {
            return Some("convolution padding must be smaller than its kernel".into());
        }
        if self.padding_mode == PaddingMode::Reflect
            && (self.padding >= self.height || self.padding >= self.width)
        {
            return Some("reflected padding must be smaller than the input's sides".into());
        }
        if self.pool_stride > MAX_CONV_SIDE || self.pool_padding > MAX_CONV_SIDE {
            return Some(format!(
                "pooling strides or padding above {MAX_CONV_SIDE} are refused"
            ));
        }
        if 2 * self.pool_padding > self.pool {
            return Some("pooling padding must be at most half the pooling window".into());
        }
        if self.pool_padding > 0 && self.pool_kind == PoolKind::Avg {
            return Some("average pooling takes no padding".into());
        }
        // In u64, so the check itself cannot wrap on a 32-bit target.
        let grow = |side: usize| (side + 2 * self.padding + 1).saturating_sub(self.kernel) as u64;
        let (c_in, c_out, k) = (
            self.in_channels as u64,
            self.out_channels as u64,
            self.kernel as u64,
        );
        let lengths = [
            c_in * self.height as u64 * self.width as u64,
            c_out * grow(self.height) * grow(self.width),
            c_in * k * k,
        ];
        if lengths.iter().any(|&l| l > MAX_CONV_LEN) {
            return Some(format!(
                "a convolution's input, output or receptive field above {MAX_CONV_LEN} values is refused"
            ));
        }
        let (h, w) = self.conv_size();
        if h + 2 * self.pool_padding < self.pool || w + 2 * self.pool_padding < self.pool {
            return Some(format!(
                "a {}x{} kernel with padding {} and pooling {} leaves no output of a {}x{} input",
                self.kernel, self.kernel, self.padding, self.pool, self.height, self.width
            ));
        }
        None
    }
}

impl LayerSpec {
    /// `[rows, cols]` of the weight matrix as the kernels see it: `[outputs, inputs]`, or
    /// `[out_channels, patch length]` for a convolution.
    pub fn weight_matrix(&self) -> [usize; 2] {
        match &self.conv {
            Some(c) => [c.out_channels, c.patch_len()],
            None => [self.outputs, self.inputs],
        }
    }

    /// Shape of the stored weight tensor: `[outputs, inputs]`, or PyTorch's
    /// `[out_channels, in_channels, kernel, kernel]` for a convolution.
    pub fn weight_shape(&self) -> Vec<usize> {
        match &self.conv {
            Some(c) => alloc::vec![c.out_channels, c.in_channels, c.kernel, c.kernel],
            None => alloc::vec![self.outputs, self.inputs],
        }
    }

    /// Length of the bias vector (and of the int8 scales): one per weight row.
    pub fn rows(&self) -> usize {
        self.weight_matrix()[0]
    }
}

/// How a layer's weights are learned. Inference does not depend on it; on-device learning does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LayerKind {
    /// Trained by backpropagation (or a local delta rule on the device).
    Dense,
    /// Feedback alignment (Lillicrap et al. 2016): trained with a fixed random feedback matrix
    /// `layers.{i}.feedback` of the weights' shape `[out, in]`, used in place of `W` to send
    /// the error to the layer below.
    FeedbackAlignment,
    /// Direct feedback alignment (Nokland 2016): the output error reaches this hidden layer
    /// through its own fixed random matrix `layers.{i}.feedback` of shape `[classes, out]`.
    DirectFeedbackAlignment,
    /// Krotov-Hopfield competing hidden units (PNAS 2019).
    Krotov {
        /// Lebesgue norm `p` of the weight rows.
        p: f32,
        /// Rank of the unit that gets the anti-Hebbian push.
        k: usize,
        /// Strength of that push (`Delta` in the paper).
        delta: f32,
    },
    /// A convolution learned by SoftHebb's soft winner-take-all Hebbian rule (Journé et al.,
    /// ICLR 2023): `y = softmax(u / tau)` over the channels at every position, the winner
    /// Hebbian and the others anti-Hebbian, `dW = y (x - u W)`. Inference is the convolution's;
    /// the temperature is what a device that keeps learning needs.
    SoftHebb {
        /// Inverse temperature `1 / tau` of the soft winner-take-all.
        inv_tau: f32,
    },
}

/// Nonlinearity applied after a layer's affine map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activation {
    /// No nonlinearity (logits).
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// Krotov & Hopfield's rectified power `relu(x)^n`, with each sample's vector first divided
    /// by its largest entry: `h_j = (relu(x_j) / max_l relu(x_l))^n` (all zeros if no entry is
    /// positive). The division keeps `x^4.5` from overflowing or vanishing whatever the input
    /// scale, so the readout's `beta` need not be tuned to it; the paper has no such division.
    RectifiedPower {
        /// The power `n` (4.5 for MNIST in the paper).
        n: f32,
    },
    /// `tanh(beta x)`, the paper's readout output.
    Tanh {
        /// Inverse temperature `beta`.
        beta: f32,
    },
    /// SoftHebb's "triangle" (Journé et al. 2023): the mean over the channels subtracted,
    /// the negative part cut, the rest raised to `power`: `relu(x_c - mean_l x_l)^power`. On a
    /// convolution the mean is over each position's channels (and the pooling comes after);
    /// on a dense layer over all its outputs.
    Triangle {
        /// The power (0.7, 1.4 and 1 in the paper's three CIFAR-10 blocks).
        power: f32,
    },
}

impl ModelSpec {
    /// Shape `[rows, cols]` of the feedback matrix of layer `i`, if its kind has one.
    pub fn feedback_shape(&self, i: usize) -> Option<[usize; 2]> {
        let layer = self.layers.get(i)?;
        match layer.kind {
            LayerKind::FeedbackAlignment => Some([layer.outputs, layer.inputs]),
            LayerKind::DirectFeedbackAlignment => Some([self.output_len(), layer.outputs]),
            _ => None,
        }
    }

    /// Parses a spec from its JSON text and validates it.
    pub fn from_json(text: &str) -> Result<Self> {
        let spec: ModelSpec = serde_json::from_str(text).map_err(|e| Error::BadMetadata {
            key: crate::keys::META_SPEC,
            reason: format!("{e}"),
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// The spec as compact JSON.
    pub fn to_json(&self) -> String {
        // A spec holds only strings, numbers and enums: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Number of inputs of the first layer.
    pub fn input_len(&self) -> usize {
        self.input.len()
    }

    /// Number of outputs of the last layer (0 if there are no layers).
    pub fn output_len(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Checks that the layers chain, sizes are positive and within [`crate::limits`] (all
    /// products computed without wrapping), and every numeric parameter is finite and in range.
    /// Every reader and writer of specs goes through this one check.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidSpec(msg));
        self.input.validate()?;
        if self.layers.is_empty() {
            return bad("model has no layers".into());
        }
        let mut width = self.input.len();
        // The (channels, height, width) the previous layer hands on, while it has one: the
        // image itself, then each convolution's pooled planes; a dense layer flattens it.
        let mut planes = Some((self.input.channels, self.input.height, self.input.width));
        for (i, layer) in self.layers.iter().enumerate() {
            if layer.inputs != width {
                return bad(format!(
                    "layer {i} takes {} inputs but receives {width}",
                    layer.inputs
                ));
            }
            if layer.outputs == 0 {
                return bad(format!("layer {i} has no outputs"));
            }
            if layer.outputs > MAX_LAYER_WIDTH {
                return bad(format!(
                    "layer {i} has {} outputs, more than the {MAX_LAYER_WIDTH} allowed",
                    layer.outputs
                ));
            }
            let rows_of_feedback = match layer.kind {
                LayerKind::DirectFeedbackAlignment => self.output_len().max(1),
                _ => layer.inputs,
            };
            // A convolution's weights are its filters, not an inputs x outputs matrix.
            let [rows, cols] = layer.weight_matrix();
            if rows as u64 * cols as u64 > MAX_LAYER_WEIGHTS
                || (layer.conv.is_none()
                    && rows_of_feedback as u64 * layer.outputs as u64 > MAX_LAYER_WEIGHTS)
            {
                return bad(format!(
                    "layer {i}: a {rows} x {cols} weight matrix is above the {MAX_LAYER_WEIGHTS} \
                     values allowed"
                ));
            }
            if let Some(conv) = &layer.conv {
                if let Some(problem) = conv.problem() {
                    return bad(format!("layer {i}: {problem}"));
                }
                if conv.input_len() != layer.inputs || conv.output_len() != layer.outputs {
                    return bad(format!(
                        "layer {i}: a convolution from {} to {} values is declared {} -> {}",
                        conv.input_len(),
                        conv.output_len(),
                        layer.inputs,
                        layer.outputs
                    ));
                }
                if !matches!(layer.kind, LayerKind::Dense | LayerKind::SoftHebb { .. }) {
                    return bad(format!(
                        "layer {i}: convolutions are trained by backpropagation (kind dense) \
                         or by SoftHebb's rule (kind soft_hebb)"
                    ));
                }
                let declared = (conv.in_channels, conv.height, conv.width);
                if let Some(given) = planes.filter(|&given| given != declared) {
                    return bad(format!(
                        "layer {i}: a convolution over {}x{}x{} (channels x height x width) \
                         receives {}x{}x{}",
                        declared.0, declared.1, declared.2, given.0, given.1, given.2
                    ));
                }
            }
            planes = layer.conv.as_ref().map(|conv| {
                let (h, w) = conv.output_size();
                (conv.out_channels, h, w)
            });
            if matches!(layer.kind, LayerKind::SoftHebb { .. }) && layer.conv.is_none() {
                return bad(format!(
                    "layer {i}: SoftHebb's rule (kind soft_hebb) learns convolutions; the layer has none"
                ));
            }
            if let Some(problem) = layer.kind.problem(layer.outputs) {
                return bad(format!("layer {i}: {problem}"));
            }
            if let Some(problem) = layer.activation.problem() {
                return bad(format!("layer {i}: {problem}"));
            }
            width = layer.outputs;
        }
        if !self.classes.is_empty() && self.classes.len() != width {
            return bad(format!(
                "{} class names for {width} outputs",
                self.classes.len()
            ));
        }
        Ok(())
    }
}

impl InputSpec {
    /// The input part of [`ModelSpec::validate`]: a size whose product fits (and stays within
    /// [`MAX_INPUT_LEN`]), and preprocessing constants that keep every input finite.
    fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidSpec(msg));
        match self.checked_len() {
            Some(0) => return bad("input has no pixels".into()),
            Some(len) if len <= MAX_INPUT_LEN => {}
            _ => {
                return bad(format!(
                    "an input of {}x{}x{} (width x height x channels) is above the \
                     {MAX_INPUT_LEN} values allowed",
                    self.width, self.height, self.channels
                ));
            }
        }
        if let Preprocess::MeanStd { mean, std } = &self.preprocess {
            if mean.len() != self.channels || std.len() != self.channels {
                return bad(format!(
                    "mean/std have {}/{} entries for {} channels",
                    mean.len(),
                    std.len(),
                    self.channels
                ));
            }
            if let Some(m) = mean
                .iter()
                .find(|m| !(-MAX_ABS_MEAN..=MAX_ABS_MEAN).contains(*m))
            {
                return bad(format!(
                    "preprocessing mean {m} must be finite, within +-{MAX_ABS_MEAN}"
                ));
            }
            if let Some(s) = std.iter().find(|s| !STD_RANGE.contains(s)) {
                return bad(format!(
                    "preprocessing std {s} must be within {:e}..={:e}",
                    STD_RANGE.start(),
                    STD_RANGE.end()
                ));
            }
        }
        Ok(())
    }
}

impl LayerKind {
    /// Why a layer of this kind with `outputs` units cannot learn, if it cannot.
    fn problem(&self, outputs: usize) -> Option<String> {
        if let LayerKind::SoftHebb { inv_tau } = *self {
            return (!(inv_tau.is_finite() && inv_tau > 0.0)).then(|| {
                format!(
                    "SoftHebb's inverse temperature 1/tau = {inv_tau} must be positive and \
                     finite (a zero temperature has none)"
                )
            });
        }
        let LayerKind::Krotov { p, k, delta } = *self else {
            return None;
        };
        if !(2.0..=MAX_KROTOV_P).contains(&p) {
            return Some(format!("Krotov needs 2 <= p <= {MAX_KROTOV_P} (p = {p})"));
        }
        let most = outputs.min(MAX_KROTOV_K);
        if !(2..=most).contains(&k) {
            return Some(format!(
                "Krotov needs 2 <= k <= min(hidden units, {MAX_KROTOV_K}) = {most} (k = {k})"
            ));
        }
        if !delta.is_finite() {
            return Some(format!("Krotov delta = {delta} is not finite"));
        }
        None
    }
}

impl Activation {
    /// Why this activation cannot be computed, if it cannot.
    fn problem(&self) -> Option<String> {
        match *self {
            Activation::RectifiedPower { n } if !(n.is_finite() && n > 0.0) => {
                Some(format!("power n = {n} must be positive and finite"))
            }
            Activation::Tanh { beta } if !(beta.is_finite() && beta > 0.0) => {
                Some(format!("tanh beta = {beta} must be positive and finite"))
            }
            Activation::Triangle { power } if !(power.is_finite() && power > 0.0) => Some(format!(
                "triangle power = {power} must be positive and finite"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    pub(crate) fn krotov_spec() -> ModelSpec {
        ModelSpec {
            name: "krotov-power-tanh".into(),
            input: InputSpec {
                width: 2,
                height: 2,
                channels: 1,
                preprocess: Preprocess::UnitNorm,
            },
            layers: vec![
                LayerSpec {
                    kind: LayerKind::Krotov {
                        p: 3.0,
                        k: 2,
                        delta: 0.4,
                    },
                    inputs: 4,
                    outputs: 3,
                    bias: false,
                    activation: Activation::RectifiedPower { n: 4.5 },
                    conv: None,
                },
                LayerSpec {
                    kind: LayerKind::Dense,
                    inputs: 3,
                    outputs: 2,
                    bias: false,
                    activation: Activation::Tanh { beta: 1.0 },
                    conv: None,
                },
            ],
            classes: vec!["a".to_string(), "b".to_string()],
        }
    }

    #[test]
    fn json_round_trip_keeps_every_field() {
        let spec = krotov_spec();
        let back = ModelSpec::from_json(&spec.to_json()).unwrap();
        assert_eq!(back, spec);
        assert!(spec.to_json().contains("\"kind\":\"rectified_power\""));
    }

    #[test]
    fn layers_that_do_not_chain_are_refused() {
        let mut spec = krotov_spec();
        spec.layers[1].inputs = 5;
        let err = spec.validate().unwrap_err().to_string();
        assert!(
            err.contains("layer 1 takes 5 inputs but receives 3"),
            "{err}"
        );
    }

    #[test]
    fn krotov_rank_beyond_the_layer_is_refused() {
        let mut spec = krotov_spec();
        spec.layers[0].kind = LayerKind::Krotov {
            p: 3.0,
            k: 9,
            delta: 0.4,
        };
        assert!(matches!(spec.validate(), Err(Error::InvalidSpec(_))));
    }

    /// The fuzzed input: 9223372036854776200 * 2 wraps to 784 in 64 bits, which passed the
    /// check and then made the simulator and `plastic viz fields` panic or allocate 846 GB.
    #[test]
    fn input_sizes_whose_product_wraps_are_refused() {
        let text = krotov_spec().to_json().replace(
            "\"width\":2,\"height\":2",
            "\"width\":9223372036854776200,\"height\":2",
        );
        assert!(text.contains("9223372036854776200"), "{text}");
        let err = ModelSpec::from_json(&text).unwrap_err().to_string();
        assert!(err.contains("above the"), "{err}");
        let mut spec = krotov_spec();
        spec.input.width = usize::MAX / 2 + 1;
        spec.input.height = 2;
        assert_eq!(spec.input.checked_len(), None);
        assert_eq!(spec.input.len(), usize::MAX);
        assert!(!spec.input.is_empty());
        assert!(spec.validate().is_err());
        // Within usize but above the limit.
        (spec.input.width, spec.input.height, spec.input.channels) = (1 << 13, 1 << 13, 1);
        spec.layers[0].inputs = 1 << 26;
        assert!(spec.validate().is_err());
    }

    #[test]
    fn layers_above_the_size_limits_are_refused() {
        let mut spec = krotov_spec();
        spec.layers[0].outputs = usize::MAX;
        spec.layers[1].inputs = usize::MAX;
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("outputs, more than"), "{err}");
        (spec.input.width, spec.input.height) = (64, 64);
        spec.layers[0].inputs = 64 * 64;
        spec.layers[0].outputs = 1 << 24;
        spec.layers[1].inputs = 1 << 24;
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("weight matrix"), "{err}");
    }

    /// 1e39 is infinite in f32 and 1e-40 is subnormal (its inverse is infinite): with either,
    /// every frame became NaN and the simulator skipped them all.
    #[test]
    fn preprocessing_constants_must_keep_inputs_finite() {
        let mut spec = krotov_spec();
        spec.input.preprocess = Preprocess::MeanStd {
            mean: vec![0.5],
            std: vec![0.25],
        };
        assert!(spec.validate().is_ok());
        let json = spec.to_json();
        for (from, to) in [
            ("\"mean\":[0.5]", "\"mean\":[1e39]"),
            ("\"std\":[0.25]", "\"std\":[1e-40]"),
            ("\"std\":[0.25]", "\"std\":[0.0]"),
            ("\"std\":[0.25]", "\"std\":[-0.25]"),
            ("\"std\":[0.25]", "\"std\":[1e39]"),
        ] {
            let text = json.replace(from, to);
            assert_ne!(text, json);
            let err = ModelSpec::from_json(&text).unwrap_err().to_string();
            assert!(err.contains("preprocessing"), "{to}: {err}");
        }
        for (mean, std) in [(f32::NAN, 0.25), (0.5, f32::NAN), (f32::INFINITY, 0.25)] {
            spec.input.preprocess = Preprocess::MeanStd {
                mean: vec![mean],
                std: vec![std],
            };
            assert!(spec.validate().is_err(), "{mean} {std}");
        }
    }

    #[test]
    fn activation_and_rule_constants_must_be_finite_and_in_range() {
        let bad_kinds = [
            (f32::NAN, 2, 0.4),
            (1.5, 2, 0.4),
            (1e9, 2, 0.4),
            (3.0, 1, 0.4),
            (3.0, 2, f32::INFINITY),
        ];
        for (p, k, delta) in bad_kinds {
            let mut spec = krotov_spec();
            spec.layers[0].kind = LayerKind::Krotov { p, k, delta };
            assert!(spec.validate().is_err(), "{p} {k} {delta}");
        }
        for activation in [
            Activation::Tanh { beta: f32::NAN },
            Activation::Tanh { beta: 0.0 },
            Activation::RectifiedPower { n: f32::INFINITY },
            Activation::RectifiedPower { n: 0.0 },
            Activation::Triangle { power: 0.0 },
            Activation::Triangle { power: f32::NAN },
        ] {
            let mut spec = krotov_spec();
            spec.layers[1].activation = activation.clone();
            assert!(spec.validate().is_err(), "{activation:?}");
        }
    }

    /// k from 33 to `hidden` passed the check but overran the ranking's 32 slots at the first
    /// learning step on the device.
    #[test]
    fn krotov_rank_beyond_the_kernel_limit_is_refused() {
        let mut spec = krotov_spec();
        spec.layers[0].outputs = 64;
        spec.layers[1].inputs = 64;
        for (k, ok) in [
            (crate::MAX_KROTOV_K, true),
            (crate::MAX_KROTOV_K + 1, false),
        ] {
            spec.layers[0].kind = LayerKind::Krotov {
                p: 3.0,
                k,
                delta: 0.4,
            };
            assert_eq!(spec.validate().is_ok(), ok, "k = {k}");
        }
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("k = 33") && err.contains("32"), "{err}");
    }

    #[test]
    fn softhebb_blocks_are_checked_and_old_convolutions_read_as_before() {
        // SoftHebb's first CIFAR-10 block: 3 -> 96 channels, 5x5 reflected, max-pooled 4 by 2
        // over one zero of padding, under the triangle.
        let block = Conv2d {
            in_channels: 3,
            height: 32,
            width: 32,
            out_channels: 96,
            kernel: 5,
            padding: 2,
            pool: 4,
            padding_mode: PaddingMode::Reflect,
            pool_stride: 2,
            pool_padding: 1,
            ..Default::default()
        };
        assert_eq!(block.output_size(), (16, 16));
        let mut spec = krotov_spec();
        spec.input.channels = 3;
        spec.input.width = 32;
        spec.input.height = 32;
        spec.layers = vec![
            LayerSpec {
                kind: LayerKind::SoftHebb { inv_tau: 1.0 },
                inputs: 3 * 32 * 32,
                outputs: 96 * 16 * 16,
                bias: true,
                activation: Activation::Triangle { power: 0.7 },
                conv: Some(block),
            },
            LayerSpec {
                kind: LayerKind::Dense,
                inputs: 96 * 16 * 16,
                outputs: 2,
                bias: true,
                activation: Activation::Identity,
                conv: None,
            },
        ];
        spec.validate().unwrap();
        let refused = |edit: fn(&mut ModelSpec), why: &str| {
            let mut bad = spec.clone();
            edit(&mut bad);
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains(why), "{why}: {e}");
        };
        refused(
            |s| s.layers[0].kind = LayerKind::SoftHebb { inv_tau: 0.0 },
            "temperature",
        );
        refused(
            |s| s.layers[1].kind = LayerKind::SoftHebb { inv_tau: 1.0 },
            "learns convolutions",
        );
        refused(
            |s| s.layers[0].conv.as_mut().unwrap().pool_padding = 3,
            "half the pooling window",
        );
        refused(
            |s| {
                let c = s.layers[0].conv.as_mut().unwrap();
                (c.kernel, c.padding, c.height, c.width) = (5, 4, 3, 3);
            },
            "reflected padding",
        );
        refused(
            |s| s.layers[0].activation = Activation::Triangle { power: 0.0 },
            "triangle power",
        );
        // A convolution written before these fields existed reads as zero padding and
        // max-pooling, and is written back without them.
        let json = r#"{"in_channels":1,"height":28,"width":28,"out_channels":10,"kernel":5,"padding":0,"pool":2}"#;
        let old: Conv2d = serde_json::from_str(json).unwrap();
        assert_eq!(old.padding_mode, PaddingMode::Zeros);
        assert_eq!(old.pool_kind, PoolKind::Max);
        assert_eq!(old.pool_step(), 2);
        assert_eq!(serde_json::to_string(&old).unwrap(), json);
    }

    /// MNIST's first convolution in the reference CNN: 1 -> 10 channels, 5x5, pooled by 2.
    pub(crate) fn conv_layer() -> LayerSpec {
        LayerSpec {
            kind: LayerKind::Dense,
            inputs: 28 * 28,
            outputs: 10 * 12 * 12,
            bias: true,
            activation: Activation::Relu,
            conv: Some(Conv2d {
                in_channels: 1,
                height: 28,
                width: 28,
                out_channels: 10,
                kernel: 5,
                padding: 0,
                pool: 2,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn convolution_sizes_follow_the_geometry() {
        let layer = conv_layer();
        let conv = layer.conv.unwrap();
        assert_eq!(conv.conv_size(), (24, 24));
        assert_eq!(conv.output_size(), (12, 12));
        assert_eq!(layer.weight_matrix(), [10, 25]);
        assert_eq!(layer.weight_shape(), [10, 1, 5, 5]);
        assert_eq!(layer.rows(), 10);
        // Padding 2 keeps a 32x32 CIFAR image 32x32 before pooling.
        let cifar = Conv2d {
            in_channels: 3,
            height: 32,
            width: 32,
            out_channels: 16,
            kernel: 5,
            padding: 2,
            pool: 2,
            ..Default::default()
        };
        assert_eq!(cifar.output_size(), (16, 16));
        assert_eq!(cifar.patch_len(), 75);
    }

    #[test]
    fn convolutions_that_do_not_fit_are_refused() {
        let mut spec = krotov_spec();
        spec.input.width = 28;
        spec.input.height = 28;
        spec.layers = vec![conv_layer()];
        spec.classes.clear();
        assert!(spec.validate().is_ok(), "{:?}", spec.validate());
        spec.layers[0].outputs = 10 * 24 * 24;
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("declared 784 -> 5760"), "{err}");
        spec.layers[0] = conv_layer();
        spec.layers[0].conv.as_mut().unwrap().kernel = 40;
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("leaves no output"), "{err}");
        // A hostile file: huge padding cancelled by a huge pool, or sides whose product
        // would make the runtime allocate gigabytes; refused before any size is multiplied.
        for (padding, pool, side, kernel) in
            [(50_000, 100_001, 28, 1), (0, 1, 4096, 1), (3, 1, 28, 3)]
        {
            spec.layers[0] = conv_layer();
            let c = spec.layers[0].conv.as_mut().unwrap();
            (c.padding, c.pool, c.height, c.width, c.kernel) = (padding, pool, side, side, kernel);
            c.in_channels = if side == 4096 { 4096 } else { c.in_channels };
            let err = spec.validate().unwrap_err().to_string();
            assert!(err.contains("refused") || err.contains("padding"), "{err}");
        }
        // The right length in the wrong geometry: 784 values read as 4 planes of 14x14.
        spec.layers[0] = conv_layer();
        let c = spec.layers[0].conv.as_mut().unwrap();
        (c.in_channels, c.height, c.width) = (4, 14, 14);
        spec.layers[0].outputs = spec.layers[0].conv.unwrap().output_len();
        let err = spec.validate().unwrap_err().to_string();
        assert!(
            err.contains("over 4x14x14") && err.contains("receives 1x28x28"),
            "{err}"
        );
        // A second convolution must take the first one's pooled planes (10 x 12 x 12).
        spec.layers[0] = conv_layer();
        let mut second = conv_layer();
        second.conv = Some(Conv2d {
            in_channels: 10,
            height: 12,
            width: 12,
            out_channels: 20,
            kernel: 5,
            padding: 0,
            pool: 2,
            ..Default::default()
        });
        (second.inputs, second.outputs) = (10 * 12 * 12, 20 * 4 * 4);
        spec.layers.push(second);
        assert!(spec.validate().is_ok(), "{:?}", spec.validate());
        let c = spec.layers[1].conv.as_mut().unwrap();
        (c.in_channels, c.height, c.width) = (40, 6, 6);
        spec.layers[1].outputs = spec.layers[1].conv.unwrap().output_len();
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("receives 10x12x12"), "{err}");
        spec.layers.truncate(1);
        spec.layers[0] = conv_layer();
        spec.layers[0].kind = LayerKind::FeedbackAlignment;
        assert!(spec.validate().is_err());
        let back = ModelSpec::from_json(&{
            let mut ok = spec.clone();
            ok.layers[0] = conv_layer();
            ok.to_json()
        })
        .unwrap();
        assert_eq!(back.layers[0], conv_layer());
    }

    #[test]
    fn garbage_json_is_a_metadata_error() {
        assert!(matches!(
            ModelSpec::from_json("{\"name\": 3"),
            Err(Error::BadMetadata { key: "spec", .. })
        ));
    }
}
