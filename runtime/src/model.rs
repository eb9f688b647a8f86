//! Inference on a loaded checkpoint, in f32 or int8, without allocating per sample.

use alloc::vec;
use alloc::vec::Vec;
use plastic_models::{Activation, Checkpoint, Conv2d, LayerTensors, ModelSpec, Weights};

use crate::kernels::{self, Kernels};
use crate::quant::{quantize_rows, quantize_vector};
use crate::{Error, Result};

/// Numeric precision of a model's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 weights, f32 arithmetic.
    F32,
    /// int8 weights with a scale per row; activations quantized per vector; exact i32 sums.
    Int8,
}

/// One layer as the runtime stores it.
#[derive(Debug, Clone, PartialEq)]
enum LayerWeights {
    F32(Vec<f32>),
    Int8 { q: Vec<i8>, scale: Vec<f32> },
}

#[derive(Debug, Clone)]
struct Layer {
    inputs: usize,
    outputs: usize,
    /// Length of a weight row: `inputs`, or a convolution's patch length.
    cols: usize,
    weights: LayerWeights,
    bias: Option<Vec<f32>>,
    activation: Activation,
    conv: Option<Conv2d>,
}

impl Layer {
    /// Rows of the weight matrix: the outputs, or a convolution's output channels.
    fn outputs_per_position(&self) -> usize {
        self.conv.map_or(self.outputs, |c| c.out_channels)
    }
}

/// A model ready to run: weights in the precision of the checkpoint it came from.
#[derive(Debug, Clone)]
pub struct Model {
    spec: ModelSpec,
    layers: Vec<Layer>,
    widest: usize,
    /// Longest convolution patch and largest convolution output before pooling (0 without
    /// convolutions).
    patch: usize,
    conv_out: usize,
    kernels: Kernels,
}

/// The buffers one inference needs, allocated once per model (see [`Model::workspace`]).
#[derive(Debug, Clone)]
pub struct Workspace {
    a: Vec<f32>,
    b: Vec<f32>,
    q: Vec<i8>,
    acc: Vec<i32>,
    /// A convolution's receptive field, its outputs at one position, and its whole output
    /// before pooling.
    patch: Vec<f32>,
    column: Vec<f32>,
    conv_out: Vec<f32>,
}

impl Workspace {
    /// The outputs of the last layer after the latest [`Model::infer`].
    pub fn outputs(&self, model: &Model) -> &[f32] {
        &self.a[..model.spec.output_len()]
    }

    /// The outputs of layer `layer` (0-based) after the latest [`Model::forward_to`].
    pub fn activations(&self, width: usize) -> &[f32] {
        &self.a[..width]
    }

    /// The last layer's input after the latest [`Model::infer`]: the features a readout reads
    /// (the forward pass leaves them in the buffer it swapped out, so this costs nothing).
    /// `None` for a one-layer model, whose last layer reads the input itself.
    pub fn features<'a>(&'a self, model: &Model) -> Option<&'a [f32]> {
        match model.layers.as_slice() {
            [.., _, last] => Some(&self.b[..last.inputs]),
            _ => None,
        }
    }
}

/// The model's answer for one input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Index of the winning class.
    pub class: usize,
    /// How sure the model is, in 0..=1: the softmax probability for logits, `(c + 1) / 2` for
    /// the paper's tanh outputs `c` in -1..=1.
    pub confidence: f32,
}

impl Model {
    /// Builds a model from a checkpoint, keeping its precision. The checkpoint is validated
    /// first ([`Checkpoint::validate`]), so one built in code meets the bar a file does.
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<Self> {
        ckpt.validate()?;
        let mut layers = Vec::with_capacity(ckpt.layers.len());
        for (spec, tensors) in ckpt.spec.layers.iter().zip(&ckpt.layers) {
            let weights = match &tensors.weight {
                Weights::F32(w) => LayerWeights::F32(w.clone()),
                Weights::Int8 { q, scale } => LayerWeights::Int8 {
                    q: q.clone(),
                    scale: scale.clone(),
                },
            };
            layers.push(Layer {
                inputs: spec.inputs,
                outputs: spec.outputs,
                cols: spec.weight_matrix()[1],
                weights,
                bias: tensors.bias.clone(),
                activation: spec.activation.clone(),
                conv: spec.conv,
            });
        }
        let convs = || ckpt.spec.layers.iter().filter_map(|l| l.conv);
        let patch = convs().map(|c| c.patch_len()).max().unwrap_or(0);
        let conv_out = convs()
            .map(|c| {
                let (h, w) = c.conv_size();
                c.out_channels * h * w
            })
            .max()
            .unwrap_or(0);
        let widest = ckpt
            .spec
            .layers
            .iter()
            .map(|l| l.inputs.max(l.outputs))
            .max()
            .unwrap_or(0);
        Ok(Self {
            spec: ckpt.spec.clone(),
            layers,
            widest,
            patch,
            conv_out,
            kernels: kernels::best(),
        })
    }

    /// Parses the bytes of a checkpoint file and builds the model.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_checkpoint(&Checkpoint::from_bytes(bytes)?)
    }

    /// This model with other matrix-vector kernels (e.g. [`kernels::generic()`], to compare
    /// against the [`kernels::best()`] that [`Model::from_checkpoint`] picks).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// The matrix-vector kernels this model runs on.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// The spec the model was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The precision of the first layer (checkpoints are quantized whole).
    pub fn precision(&self) -> Precision {
        match self.layers.first().map(|l| &l.weights) {
            Some(LayerWeights::Int8 { .. }) => Precision::Int8,
            _ => Precision::F32,
        }
    }

    /// A copy of this model with every layer quantized to int8.
    pub fn quantized(&self) -> Self {
        let mut out = self.clone();
        for layer in &mut out.layers {
            if let LayerWeights::F32(w) = &layer.weights {
                let mut q = vec![0i8; w.len()];
                let mut scale = vec![0.0f32; w.len() / layer.cols.max(1)];
                quantize_rows(w, layer.cols, &mut q, &mut scale);
                layer.weights = LayerWeights::Int8 { q, scale };
            }
        }
        out
    }

    /// Bytes held by weights, biases and scales: what the model costs in memory.
    pub fn weight_bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|l| {
                let w = match &l.weights {
                    LayerWeights::F32(w) => w.len() * 4,
                    LayerWeights::Int8 { q, scale } => q.len() + scale.len() * 4,
                };
                w + l.bias.as_ref().map_or(0, |b| b.len() * 4)
            })
            .sum()
    }

    /// The buffers [`Model::infer`] needs; make one per thread and reuse it.
    pub fn workspace(&self) -> Workspace {
        Workspace {
            a: vec![0.0; self.widest],
            b: vec![0.0; self.widest],
            q: vec![0; self.widest.max(self.patch)],
            acc: vec![0; self.widest],
            patch: vec![0.0; self.patch],
            column: vec![0.0; self.widest],
            conv_out: vec![0.0; self.conv_out],
        }
    }

    /// The layers' weights and biases as a checkpoint holds them (in their precision; without
    /// the feedback matrices, which only training reads).
    pub fn layer_tensors(&self) -> Vec<LayerTensors> {
        self.layers
            .iter()
            .map(|l| LayerTensors {
                weight: match &l.weights {
                    LayerWeights::F32(w) => Weights::F32(w.clone()),
                    LayerWeights::Int8 { q, scale } => Weights::Int8 {
                        q: q.clone(),
                        scale: scale.clone(),
                    },
                },
                bias: l.bias.clone(),
                feedback: None,
            })
            .collect()
    }

    /// Layer `layer`'s weights in f32 (dequantized from int8), row-major as a checkpoint holds
    /// them, and its bias (zeros without one).
    pub fn layer_f32(&self, layer: usize) -> Result<(Vec<f32>, Vec<f32>)> {
        let l = self.layer(layer)?;
        let weights = match &l.weights {
            LayerWeights::F32(w) => w.clone(),
            LayerWeights::Int8 { q, scale } => crate::quant::dequantize_rows(q, scale, l.cols),
        };
        let bias = l
            .bias
            .clone()
            .unwrap_or_else(|| vec![0.0; l.outputs_per_position()]);
        Ok((weights, bias))
    }

    /// Replaces layer `layer`'s weights (f32, row-major; quantized per row for an int8 model)
    /// and bias (ignored for a layer without one): what a rule that learns on the device writes
    /// back. Allocates nothing. Wrong lengths or values that are not finite change nothing.
    pub fn set_layer(&mut self, layer: usize, weights: &[f32], bias: &[f32]) -> Result<()> {
        let l = self.layer(layer)?;
        let rows = l.outputs_per_position();
        let expected = (rows * l.cols, rows);
        if (weights.len(), bias.len()) != expected {
            return Err(Error::WrongLength {
                what: "layer weights",
                expected: expected.0,
                found: weights.len(),
            });
        }
        if weights.iter().chain(bias).any(|v| !v.is_finite()) {
            return Err(Error::NonFiniteInput);
        }
        let l = &mut self.layers[layer];
        match &mut l.weights {
            LayerWeights::F32(w) => w.copy_from_slice(weights),
            LayerWeights::Int8 { q, scale } => quantize_rows(weights, l.cols, q, scale),
        }
        if let Some(b) = &mut l.bias {
            b.copy_from_slice(bias);
        }
        Ok(())
    }

    /// Whether the first `depth` layers hold the same weights and biases as `other`'s.
    pub fn same_layers(&self, other: &Model, depth: usize) -> bool {
        self.layers.len() >= depth
            && other.layers.len() >= depth
            && self.layers[..depth]
                .iter()
                .zip(&other.layers[..depth])
                .all(|(a, b)| a.weights == b.weights && a.bias == b.bias)
    }

    fn layer(&self, layer: usize) -> Result<&Layer> {
        self.layers.get(layer).ok_or(Error::WrongLength {
            what: "layer index",
            expected: self.layers.len(),
            found: layer,
        })
    }

    /// Runs the first `depth` layers on a preprocessed input; the result is in
    /// `ws.activations(width of layer depth - 1)`. Allocates nothing.
    pub fn forward_to(&self, input: &[f32], depth: usize, ws: &mut Workspace) -> Result<usize> {
        self.forward_with(input, depth, ws, |_, _| {})
    }

    /// [`Model::forward_to`] that hands each layer's input to `before(layer index, input)`
    /// first, to read or change in place: the on-device statistics of a layer's input channels
    /// ([`crate::channel_stats`]) are measured and re-aligned there.
    pub fn forward_with(
        &self,
        input: &[f32],
        depth: usize,
        ws: &mut Workspace,
        mut before: impl FnMut(usize, &mut [f32]),
    ) -> Result<usize> {
        if input.len() != self.spec.input_len() {
            return Err(Error::WrongLength {
                what: "model input",
                expected: self.spec.input_len(),
                found: input.len(),
            });
        }
        if ws.a.len() < self.widest
            || ws.patch.len() < self.patch
            || ws.conv_out.len() < self.conv_out
        {
            return Err(Error::WrongWorkspace {
                needed: self.widest,
                found: ws.a.len(),
            });
        }
        if input.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFiniteInput);
        }
        ws.a[..input.len()].copy_from_slice(input);
        let mut width = input.len();
        for (index, layer) in self.layers.iter().enumerate().take(depth) {
            before(index, &mut ws.a[..layer.inputs]);
            let (x, y) = (&ws.a[..layer.inputs], &mut ws.b[..layer.outputs]);
            match &layer.conv {
                None => {
                    self.product(layer, x, y, &mut ws.q, &mut ws.acc);
                    add_bias(y, layer.bias.as_deref());
                }
                Some(conv) => {
                    let (ch, cw) = conv.conv_size();
                    let plane = ch * cw;
                    let column = &mut ws.column[..conv.out_channels];
                    let patch = &mut ws.patch[..conv.patch_len()];
                    let conv_out = &mut ws.conv_out[..conv.out_channels * plane];
                    for oy in 0..ch {
                        for ox in 0..cw {
                            crate::conv::gather_patch(conv, x, oy, ox, patch);
                            self.product(layer, patch, column, &mut ws.q, &mut ws.acc);
                            add_bias(column, layer.bias.as_deref());
                            if let Activation::Triangle { power } = layer.activation {
                                crate::conv::triangle(column, power);
                            }
                            for (c, &v) in column.iter().enumerate() {
                                conv_out[c * plane + oy * cw + ox] = v;
                            }
                        }
                    }
                    crate::conv::pool(conv, conv_out, y);
                }
            }
            // A convolution's triangle was applied per position, before the pooling.
            if layer.conv.is_none() || !matches!(layer.activation, Activation::Triangle { .. }) {
                apply_activation(&layer.activation, y);
            }
            core::mem::swap(&mut ws.a, &mut ws.b);
            width = layer.outputs;
        }
        Ok(width)
    }

    /// `y = W x` with the layer's weights in their precision (`x` one weight row long); int8
    /// layers quantize `x` into `q` and sum into `acc`.
    fn product(&self, layer: &Layer, x: &[f32], y: &mut [f32], q: &mut [i8], acc: &mut [i32]) {
        match &layer.weights {
            LayerWeights::F32(w) => self.kernels.matvec_f32(w, x, y),
            LayerWeights::Int8 { q: wq, scale } => {
                let xq = &mut q[..x.len()];
                let sx = quantize_vector(x, xq);
                let acc = &mut acc[..y.len()];
                self.kernels.matvec_i8(wq, xq, acc);
                for ((o, &a), &s) in y.iter_mut().zip(acc.iter()).zip(scale) {
                    *o = a as f32 * s * sx;
                }
            }
        }
    }

    /// Runs the whole model on a preprocessed input (see [`crate::preprocess`]).
    pub fn infer(&self, input: &[f32], ws: &mut Workspace) -> Result<Prediction> {
        let width = self.forward_to(input, self.layers.len(), ws)?;
        let out = &ws.a[..width];
        Ok(predict(out, self.layers.last().map(|l| &l.activation)))
    }
}

fn add_bias(y: &mut [f32], bias: Option<&[f32]>) {
    if let Some(bias) = bias {
        for (o, b) in y.iter_mut().zip(bias) {
            *o += b;
        }
    }
}

/// `x^n` for `x >= 0`, fast when `n` is a whole or half number (the paper's 4.5 is
/// `x^4 sqrt(x)`): a general `powf` per hidden unit costs more than the int8 matvec itself.
#[derive(Debug, Clone, Copy)]
struct Power {
    n: f32,
    whole: u32,
    half: bool,
    exact: bool,
}

impl Power {
    fn new(n: f32) -> Self {
        let twice = n * 2.0;
        let exact = twice == libm::roundf(twice) && (0.0..=64.0).contains(&n);
        Self {
            n,
            whole: n as u32,
            half: exact && twice as u32 % 2 == 1,
            exact,
        }
    }

    #[inline]
    fn of(self, x: f32) -> f32 {
        if !self.exact {
            return libm::powf(x, self.n);
        }
        let mut r = 1.0f32;
        let (mut base, mut e) = (x, self.whole);
        while e > 0 {
            if e & 1 == 1 {
                r *= base;
            }
            base *= base;
            e >>= 1;
        }
        if self.half { r * libm::sqrtf(x) } else { r }
    }
}

/// Applies a layer's activation to its outputs `y` in place, exactly as [`Model`] does: for
/// code that runs its own layers (a firmware's plastic layer) and must match the model.
pub fn apply_activation(activation: &Activation, y: &mut [f32]) {
    match *activation {
        Activation::Identity => {}
        Activation::Relu => y.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::RectifiedPower { n } => {
            let max = y.iter().fold(0.0f32, |m, &v| m.max(v));
            if max > 0.0 {
                let inv = 1.0 / max;
                let power = Power::new(n);
                y.iter_mut().for_each(|v| *v = power.of(v.max(0.0) * inv));
            } else {
                y.fill(0.0);
            }
        }
        Activation::Tanh { beta } => y.iter_mut().for_each(|v| *v = libm::tanhf(beta * *v)),
        Activation::Triangle { power } => crate::conv::triangle(y, power),
    }
}

/// Every class's confidence from the last layer's outputs `out`, on the scale of
/// [`Prediction::confidence`]: `(c + 1) / 2` for tanh outputs, the softmax otherwise. For a
/// display's class bars. `conf` takes as many values as both hold.
pub fn class_confidences(out: &[f32], last: Option<&Activation>, conf: &mut [f32]) {
    match last {
        Some(Activation::Tanh { .. }) => {
            for (c, &o) in conf.iter_mut().zip(out) {
                *c = ((o + 1.0) * 0.5).clamp(0.0, 1.0);
            }
        }
        _ => {
            let best = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let total: f32 = out.iter().map(|&v| libm::expf(v - best)).sum();
            for (c, &o) in conf.iter_mut().zip(out) {
                *c = libm::expf(o - best) / total;
            }
        }
    }
}

pub(crate) fn predict(out: &[f32], last: Option<&Activation>) -> Prediction {
    let (class, &best) =
        out.iter().enumerate().fold(
            (0, &f32::NEG_INFINITY),
            |b, c| if c.1 > b.1 { c } else { b },
        );
    let confidence = match last {
        Some(Activation::Tanh { .. }) => (best + 1.0) * 0.5,
        _ => {
            let total: f32 = out.iter().map(|&v| libm::expf(v - best)).sum();
            1.0 / total
        }
    };
    Prediction { class, confidence }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plastic_models::{InputSpec, LayerKind, LayerSpec, Preprocess};

    #[test]
    fn class_confidences_agree_with_the_prediction() {
        let out = [0.5f32, -1.0, 2.0];
        let mut conf = [0.0f32; 3];
        // Softmax of logits: e^(o - 2) / (e^-1.5 + e^-3 + 1).
        class_confidences(&out, None, &mut conf);
        let total = libm::expf(-1.5) + libm::expf(-3.0) + 1.0;
        assert!((conf[2] - 1.0 / total).abs() < 1e-6);
        assert!((conf.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(conf[2], predict(&out, None).confidence);
        // Tanh outputs: (c + 1) / 2.
        let tanh = Activation::Tanh { beta: 1.0 };
        class_confidences(&[0.5, -0.5, -1.0], Some(&tanh), &mut conf);
        assert_eq!(conf, [0.75, 0.25, 0.0]);
    }

    fn two_layer(weight: Weights) -> Checkpoint {
        let spec = ModelSpec {
            name: "t".into(),
            input: InputSpec {
                width: 2,
                height: 1,
                channels: 1,
                preprocess: Preprocess::Scale01,
            },
            layers: vec![
                LayerSpec {
                    kind: LayerKind::Dense,
                    inputs: 2,
                    outputs: 3,
                    bias: false,
                    activation: Activation::RectifiedPower { n: 2.0 },
                    conv: None,
                },
                LayerSpec {
                    kind: LayerKind::Dense,
                    inputs: 3,
                    outputs: 2,
                    bias: true,
                    activation: Activation::Identity,
                    conv: None,
                },
            ],
            classes: vec![],
        };
        Checkpoint {
            spec,
            layers: vec![
                LayerTensors {
                    weight,
                    bias: None,
                    feedback: None,
                },
                LayerTensors {
                    weight: Weights::F32(vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0]),
                    bias: Some(vec![0.5, 0.0]),
                    feedback: None,
                },
            ],
            train: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
        }
    }

    /// A checkpoint built in code meets the bar of a file: a width whose product with the
    /// height wraps to 2 in 64 bits, or NaN weights, are errors here, not panics later.
    #[test]
    fn checkpoints_built_in_code_are_validated() {
        let weight = || Weights::F32(vec![1.0, 0.0, -1.0, 0.0, 0.5, 0.5]);
        let mut wraps = two_layer(weight());
        (wraps.spec.input.width, wraps.spec.input.height) = (1 << 63, 4);
        assert!(matches!(
            Model::from_checkpoint(&wraps),
            Err(Error::Checkpoint(plastic_models::Error::InvalidSpec(_)))
        ));
        let nan = two_layer(Weights::F32(vec![f32::NAN; 6]));
        assert!(matches!(
            Model::from_checkpoint(&nan),
            Err(Error::Checkpoint(plastic_models::Error::NonFinite { .. }))
        ));
    }

    #[test]
    fn forward_matches_hand_computation() {
        // W1 x = [1*1 + 0*2, -1, 0.5*1 + 0.5*2] = [1, -1, 1.5]; relu / max = [2/3, 0, 1];
        // squared: [4/9, 0, 1]. Layer 2: [4/9 + 0.5, 0 + 1] = [0.944.., 1].
        let ckpt = two_layer(Weights::F32(vec![1.0, 0.0, -1.0, 0.0, 0.5, 0.5]));
        let model = Model::from_checkpoint(&ckpt).unwrap();
        let mut ws = model.workspace();
        let p = model.infer(&[1.0, 2.0], &mut ws).unwrap();
        let out = ws.outputs(&model);
        assert!((out[0] - (4.0 / 9.0 + 0.5)).abs() < 1e-6 && (out[1] - 1.0).abs() < 1e-6);
        assert_eq!(p.class, 1);
        let e = libm::expf(out[0] - 1.0);
        assert!((p.confidence - 1.0 / (1.0 + e)).abs() < 1e-6);
    }

    #[test]
    fn convolution_layer_matches_hand_computation() {
        // A 3x3 input 1..=9, one 2x2 filter [1, 1, 0, 0] (a pixel plus its right neighbour),
        // bias -1: convolution outputs 3-1, 5-1, 9-1, 11-1; pooled 2x2 to 10; relu; then a
        // dense layer [1, -1] with no bias: [10, -10].
        let ckpt = crate::test_models::tiny_conv(
            LayerKind::Dense,
            vec![1.0, 1.0, 0.0, 0.0],
            Some(vec![-1.0]),
            Activation::Relu,
            vec![1.0, -1.0],
        );
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        for model in [
            Model::from_checkpoint(&ckpt).unwrap(),
            Model::from_checkpoint(&ckpt).unwrap().quantized(),
        ] {
            let mut ws = model.workspace();
            let p = model.infer(&x, &mut ws).unwrap();
            assert_eq!(p.class, 0);
            let out = ws.outputs(&model);
            assert!(
                (out[0] - 10.0).abs() < 0.2 && (out[1] + 10.0).abs() < 0.2,
                "{out:?}"
            );
        }
    }

    #[test]
    fn int8_model_is_close_to_f32() {
        let ckpt = two_layer(Weights::F32(vec![1.0, 0.0, -1.0, 0.3, 0.5, 0.5]));
        let model = Model::from_checkpoint(&ckpt).unwrap();
        let q = model.quantized();
        assert_eq!(q.precision(), Precision::Int8);
        let (mut w1, mut w2) = (model.workspace(), q.workspace());
        model.infer(&[0.25, 0.75], &mut w1).unwrap();
        q.infer(&[0.25, 0.75], &mut w2).unwrap();
        for (a, b) in w1.outputs(&model).iter().zip(w2.outputs(&q)) {
            assert!((a - b).abs() < 0.02, "{a} vs {b}");
        }
        assert!(q.weight_bytes() < model.weight_bytes());
    }

    #[test]
    fn fast_power_equals_powf() {
        for n in [1.0f32, 2.0, 3.0, 4.5, 6.0, 10.0, 2.7] {
            let p = Power::new(n);
            for x in [0.0f32, 0.001, 0.3, 0.77, 1.0] {
                let (a, b) = (p.of(x), libm::powf(x, n));
                assert!(
                    (a - b).abs() <= 1e-6 * b.max(1e-30) + 1e-30,
                    "{x}^{n}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let model = Model::from_checkpoint(&two_layer(Weights::F32(vec![0.0; 6]))).unwrap();
        let mut ws = model.workspace();
        assert!(matches!(
            model.infer(&[1.0], &mut ws),
            Err(Error::WrongLength { expected: 2, .. })
        ));
        assert!(matches!(
            model.infer(&[f32::NAN, 0.0], &mut ws),
            Err(Error::NonFiniteInput)
        ));
    }
}
