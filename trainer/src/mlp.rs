//! Multi-layer perceptrons trained by backpropagation, feedback alignment, direct feedback
//! alignment or sign symmetry, with the backward pass written out so that they differ in one
//! line.
//!
//! Symbols: layer `l` computes `a_l = h_{l-1} W_l^T + b_l`, `h_l = relu(a_l)` (the last layer's
//! `a_L` are logits); `e = softmax(a_L) - onehot(t)` is the output error of the cross-entropy
//! loss, `delta_L = e`. Going down, the error of hidden layer `l` is
//!
//! ```text
//! backprop (BP):                    delta_l = (delta_{l+1} W_{l+1}) * relu'(a_l)
//! feedback alignment (Lillicrap 2016): delta_l = (delta_{l+1} B_{l+1}) * relu'(a_l), B fixed random
//! direct FA (Nokland 2016):         delta_l = (e D_l) * relu'(a_l),  D_l fixed random [classes, out_l]
//! sign symmetry (Liao et al. 2016):  delta_l = (delta_{l+1} S_{l+1}) * relu'(a_l),
//!                                    S = sign(W) sqrt(2 / (fan_in + fan_out))
//! ```
//!
//! and every layer's gradient is `delta_l^T h_{l-1} / batch` (weights) and the batch mean of
//! `delta_l` (bias). The fixed matrices are saved in the checkpoint (`layers.{i}.feedback`).
//! Sign symmetry (biotorch's uSF: uniform sign-concordant feedback) sends the error back
//! through the signs of the current forward weights at Glorot's scale: no magnitudes travel
//! backwards, only which way each weight points; nothing is stored, as the signs follow `W`.
//! Unlike the reference FA network, every hidden layer has its ReLU (the reference FA twin had
//! none while its BP twin did, so the comparison measured the missing nonlinearity).

use candle_core::backprop::GradStore;
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use plastic_models::{Activation, LayerKind, LayerSpec, LayerTensors, Weights};

use crate::labelled::Labelled;
use crate::rng::SplitMix64;
use crate::{Error, Result};

/// How the error reaches the hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Backpropagation: the transposed forward weights.
    Backprop,
    /// Feedback alignment: a fixed random matrix per layer, shaped like its weights.
    Alignment,
    /// Direct feedback alignment: the output error to every hidden layer, through fixed
    /// random matrices.
    Direct,
    /// Sign symmetry (uSF): the signs of the forward weights, at Glorot's scale.
    SignSymmetry,
}

impl Feedback {
    /// Parses `bp`, `fa`, `dfa` or `ss`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "bp" => Ok(Self::Backprop),
            "fa" => Ok(Self::Alignment),
            "dfa" => Ok(Self::Direct),
            "ss" => Ok(Self::SignSymmetry),
            other => Err(Error::Config(format!(
                "unknown feedback `{other}`: use bp, fa, dfa or ss"
            ))),
        }
    }
}

/// Training settings of an MLP.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    /// Widths from input to output, e.g. `[784, 1000, 10]`.
    pub sizes: Vec<usize>,
    /// How hidden layers get their error.
    pub feedback: Feedback,
    /// Passes over the training set.
    pub epochs: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Adam learning rate of the first epoch.
    pub lr0: f64,
    /// Learning rate of the last epoch (geometric decay in between).
    pub lr_end: f64,
}

/// An MLP with its fixed feedback matrices.
#[derive(Debug)]
pub struct Mlp {
    /// `W_l`, `[out, in]`.
    pub weights: Vec<Var>,
    /// `b_l`, `[out]`.
    pub biases: Vec<Var>,
    /// `B_l` (`[out, in]`, FA) or `D_l` (`[classes, out]`, DFA) per layer; `None` where unused.
    pub feedback: Vec<Option<Tensor>>,
    /// How hidden layers get their error.
    pub kind: Feedback,
}

/// Kaiming-uniform values for a `[out, in]` matrix: bound `sqrt(6 / in)`, right for ReLU.
pub(crate) fn kaiming(
    rng: &mut SplitMix64,
    out: usize,
    inp: usize,
    device: &Device,
) -> Result<Tensor> {
    let bound = (6.0 / inp as f32).sqrt();
    Ok(Tensor::from_vec(
        rng.uniform_vec(out * inp, bound),
        (out, inp),
        device,
    )?)
}

/// Sign symmetry's backward matrix for forward weights `w` (`[out, in]`):
/// `sign(W) sqrt(2 / (in + out))`, Glorot's standard deviation, so the error sent down keeps
/// the scale a Glorot-initialised `W^T` would give it.
pub fn sign_feedback(w: &Tensor) -> Result<Tensor> {
    let (out, inp) = w.dims2()?;
    Ok((w.sign()? * (2.0 / (inp + out) as f64).sqrt())?)
}

impl Mlp {
    /// A fresh network with seeded weights and feedback matrices.
    pub fn new(sizes: &[usize], kind: Feedback, seed: u64, device: &Device) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(Error::Config(format!(
                "an MLP needs at least two positive widths, got {sizes:?}"
            )));
        }
        let mut rng = crate::rng::seeded(seed);
        let classes = *sizes.last().unwrap_or(&1);
        let layers = sizes.len() - 1;
        let (mut weights, mut biases, mut feedback) = (Vec::new(), Vec::new(), Vec::new());
        // Forward weights first: BP, FA and DFA networks of one seed start from the same W.
        for l in 0..layers {
            let (inp, out) = (sizes[l], sizes[l + 1]);
            weights.push(Var::from_tensor(&kaiming(&mut rng, out, inp, device)?)?);
            biases.push(Var::zeros(out, DType::F32, device)?);
        }
        for l in 0..layers {
            let (inp, out) = (sizes[l], sizes[l + 1]);
            feedback.push(match kind {
                // B_l carries layer l's error down to layer l - 1: layer 0 needs none.
                Feedback::Alignment if l > 0 => Some(kaiming(&mut rng, out, inp, device)?),
                Feedback::Direct if l + 1 < layers => {
                    Some(kaiming(&mut rng, classes, out, device)?)
                }
                _ => None,
            });
        }
        Ok(Self {
            weights,
            biases,
            feedback,
            kind,
        })
    }

    /// Pre-activations `a_l` and activations `h_l` (with `h_{-1} = x` first) of a batch.
    fn forward_all(&self, x: &Tensor) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let mut pre = Vec::new();
        let mut act = vec![x.clone()];
        let last = self.weights.len() - 1;
        for (l, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            let a = act[l]
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(b.as_tensor())?;
            act.push(if l == last { a.clone() } else { a.relu()? });
            pre.push(a);
        }
        Ok((pre, act))
    }

    /// Logits of a batch.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_all(x)?.1.pop().unwrap_or_else(|| x.clone()))
    }

    /// Cross-entropy loss and the gradients this network's feedback gives, for one batch.
    pub fn gradients(&self, x: &Tensor, labels: &Tensor) -> Result<(f32, GradStore)> {
        self.gradients_as(x, labels, self.kind)
    }

    /// Loss and gradients as `kind` would compute them for these weights: backprop gradients
    /// of an FA network measure how well its updates align with the true gradient.
    pub fn gradients_as(
        &self,
        x: &Tensor,
        labels: &Tensor,
        kind: Feedback,
    ) -> Result<(f32, GradStore)> {
        let (loss, grads, _) = self.gradients_below(x, labels, kind, false)?;
        Ok((loss.to_scalar::<f32>()?, grads))
    }

    /// As [`Mlp::gradients_as`], with the loss left on the device (a scalar tensor: reading
    /// it every step would stop a GPU at every step), and, when `input_error` is asked for,
    /// the gradient of the batch-mean loss with respect to `x` (`delta_0 W_0 / batch`): what
    /// trainable layers below the network (convolutions) learn from. Only backprop sends it;
    /// the feedback matrices of FA and DFA stop at the first layer.
    pub fn gradients_below(
        &self,
        x: &Tensor,
        labels: &Tensor,
        kind: Feedback,
        input_error: bool,
    ) -> Result<(Tensor, GradStore, Option<Tensor>)> {
        let (pre, act) = self.forward_all(x)?;
        let logits = &act[act.len() - 1];
        let n = x.dim(0)? as f64;
        let classes = logits.dim(1)?;
        let loss = candle_nn::loss::cross_entropy(logits, labels)?;
        let target = crate::readout::one_hot(labels, classes, 1.0, 0.0)?;
        let error = (candle_nn::ops::softmax(logits, D::Minus1)? - target)?;
        let mut grads = GradStore::default();
        let mut delta = error.clone();
        for l in (0..self.weights.len()).rev() {
            grads.insert(
                self.weights[l].as_tensor(),
                (delta.t()?.matmul(&act[l])? / n)?,
            );
            grads.insert(self.biases[l].as_tensor(), (delta.sum(0)? / n)?);
            if l == 0 {
                if !input_error {
                    break;
                }
                if kind != Feedback::Backprop {
                    return Err(Error::Config(
                        "only a backprop network trains the layers below it".into(),
                    ));
                }
                let below = (delta.matmul(self.weights[0].as_tensor())? / n)?;
                return Ok((loss, grads, Some(below)));
            }
            let upstream = match (kind, &self.feedback[l], &self.feedback[l - 1]) {
                (Feedback::Backprop, _, _) => delta.matmul(self.weights[l].as_tensor())?,
                (Feedback::Alignment, Some(b), _) => delta.matmul(b)?,
                (Feedback::Direct, _, Some(d)) => error.matmul(d)?,
                (Feedback::SignSymmetry, _, _) => {
                    delta.matmul(&sign_feedback(self.weights[l].as_tensor())?)?
                }
                _ => return Err(Error::Config("feedback matrix missing".into())),
            };
            // relu'(0) = 1, candle's convention, so BP here equals candle's autograd exactly.
            let relu_grad = pre[l - 1].ge(0.0)?.to_dtype(DType::F32)?;
            delta = (upstream * relu_grad)?;
        }
        Ok((loss, grads, None))
    }

    /// Fraction of rows of `x` classified as their label.
    pub fn accuracy(&self, x: &Tensor, labels: &[u32]) -> Result<f32> {
        crate::readout::fraction_correct(&self.logits(x)?, labels)
    }

    /// The layers as checkpoint specs and tensors.
    pub fn export(&self) -> Result<(Vec<LayerSpec>, Vec<LayerTensors>)> {
        let last = self.weights.len() - 1;
        let mut specs = Vec::new();
        let mut tensors = Vec::new();
        for (l, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            let (out, inp) = w.as_tensor().dims2()?;
            let kind = match (self.kind, &self.feedback[l]) {
                (Feedback::Alignment, Some(_)) => LayerKind::FeedbackAlignment,
                (Feedback::Direct, Some(_)) => LayerKind::DirectFeedbackAlignment,
                _ => LayerKind::Dense,
            };
            specs.push(LayerSpec {
                kind,
                inputs: inp,
                outputs: out,
                bias: true,
                activation: if l == last {
                    Activation::Identity
                } else {
                    Activation::Relu
                },
                conv: None,
            });
            tensors.push(LayerTensors {
                weight: Weights::F32(w.as_tensor().flatten_all()?.to_vec1()?),
                bias: Some(b.as_tensor().to_vec1()?),
                feedback: match &self.feedback[l] {
                    Some(f) => Some(f.flatten_all()?.to_vec1()?),
                    None => None,
                },
            });
        }
        Ok((specs, tensors))
    }
}

/// What one MLP epoch did.
#[derive(Debug, Clone, Copy)]
pub struct MlpEpoch {
    /// 0-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Mean training loss.
    pub loss: f32,
    /// Test accuracy after the epoch.
    pub test_accuracy: f32,
    /// Seconds the epoch took.
    pub seconds: f32,
}

/// What the network is fed: the data as it is, or layers of their own in front of it that
/// learn with local rules while the network trains (HebbNet's Hebbian layers). [`fit`] runs
/// the same Adam loop over either.
pub trait InputStage {
    /// Names the model in a divergence error (`MLP`, `HebbNet`).
    const MODEL: &'static str;

    /// The network's input for a training batch `x` of epoch `epoch` (of `epochs`); a
    /// learning stage updates itself here, once per batch.
    fn train_batch(&mut self, x: &Tensor, epoch: usize, epochs: usize) -> Result<Tensor>;

    /// Fraction of rows of `x` that `net`, fed through this stage, classifies as their label.
    fn accuracy(&self, net: &Mlp, x: &Tensor, labels: &[u32]) -> Result<f32>;

    /// Parameters of the stage that the optimiser updates together with the network's (and
    /// by the network's backprop): none for the data, or for layers that learn by local rules
    /// or are frozen.
    fn params(&self) -> Vec<Var> {
        Vec::new()
    }

    /// Adds to `grads` the gradients of [`InputStage::params`], given `input_error`, the
    /// loss's gradient with respect to `input` (the tensor [`InputStage::train_batch`]
    /// returned). Called only for stages with parameters.
    fn backward(
        &self,
        _input: &Tensor,
        _input_error: &Tensor,
        _grads: &mut GradStore,
    ) -> Result<()> {
        Ok(())
    }

    /// Called after the last batch of every epoch, before the accuracy: where a stage checks
    /// what it learned (once per epoch, not per batch, so that a GPU is not stopped at every
    /// step).
    fn end_epoch(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Calls `step` with the indices of every minibatch of `order`, `batch` at a time, as
/// slices of one tensor uploaded once per epoch: on a GPU, a step then needs nothing from
/// the host.
pub fn for_each_minibatch(
    order: &[u32],
    batch: usize,
    device: &Device,
    mut step: impl FnMut(&Tensor) -> Result<()>,
) -> Result<()> {
    let all = Tensor::from_slice(order, order.len(), device)?;
    let batch = batch.max(1);
    for start in (0..order.len()).step_by(batch) {
        step(&all.narrow(0, start, batch.min(order.len() - start))?)?;
    }
    Ok(())
}

/// Fraction of rows of `x` that `net` classifies as their label when fed `features` of them,
/// computed `rows` at a time: the features of a whole test set at once can be large.
pub fn accuracy_in_chunks(
    net: &Mlp,
    x: &Tensor,
    labels: &[u32],
    rows: usize,
    features: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<f32> {
    let mut correct = 0.0;
    let total = x.dim(0)?;
    for start in (0..total).step_by(rows.max(1)) {
        let len = rows.min(total - start);
        let part = &labels[start..start + len];
        correct += net.accuracy(&features(&x.narrow(0, start, len)?)?, part)? * len as f32;
    }
    Ok(correct / total.max(1) as f32)
}

/// The data fed as it is: a plain MLP.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawInput;

impl InputStage for RawInput {
    const MODEL: &'static str = "MLP";

    fn train_batch(&mut self, x: &Tensor, _epoch: usize, _epochs: usize) -> Result<Tensor> {
        Ok(x.clone())
    }

    fn accuracy(&self, net: &Mlp, x: &Tensor, labels: &[u32]) -> Result<f32> {
        net.accuracy(x, labels)
    }
}

/// Trains an MLP with Adam on `data` (inputs `[samples, in]`, on the device).
pub fn train(
    cfg: &MlpConfig,
    data: Labelled<'_>,
    seed: u64,
    on_epoch: impl FnMut(MlpEpoch),
) -> Result<Mlp> {
    let mlp = Mlp::new(&cfg.sizes, cfg.feedback, seed, data.x_train.device())?;
    fit(
        &mlp,
        cfg,
        &mut RawInput,
        data,
        seed.wrapping_add(7),
        on_epoch,
    )?;
    Ok(mlp)
}

/// Trains `mlp` with Adam on the schedule of `cfg` (epochs, batch, learning rates; its sizes
/// and feedback are `mlp`'s), each batch fed through `stage`; batches drawn in an order
/// shuffled from `shuffle_seed`. Reports every epoch.
pub fn fit<S: InputStage>(
    mlp: &Mlp,
    cfg: &MlpConfig,
    stage: &mut S,
    data: Labelled<'_>,
    shuffle_seed: u64,
    mut on_epoch: impl FnMut(MlpEpoch),
) -> Result<()> {
    let Labelled {
        x_train,
        y_train,
        x_test,
        y_test,
    } = data;
    let device = x_train.device().clone();
    let stage_params = stage.params();
    let trains_stage = !stage_params.is_empty();
    let mut params: Vec<Var> = mlp.weights.iter().chain(&mlp.biases).cloned().collect();
    params.extend(stage_params);
    let mut opt = AdamW::new(
        params,
        ParamsAdamW {
            lr: cfg.lr0,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let samples = y_train.len();
    let y_all = Tensor::from_slice(y_train, samples, &device)?;
    let mut rng = crate::rng::seeded(shuffle_seed);
    let mut order: Vec<u32> = (0..samples as u32).collect();
    for epoch in 0..cfg.epochs {
        let start = std::time::Instant::now();
        let lr = crate::readout::geometric_rate(cfg.lr0, cfg.lr_end, epoch, cfg.epochs);
        opt.set_learning_rate(lr);
        rng.shuffle(&mut order);
        let mut total = Tensor::zeros((), DType::F32, &device)?;
        for_each_minibatch(&order, cfg.batch, &device, |idx| {
            let input = stage.train_batch(&x_train.index_select(idx, 0)?, epoch, cfg.epochs)?;
            let labels = y_all.index_select(idx, 0)?;
            let (loss, mut grads, below) =
                mlp.gradients_below(&input, &labels, mlp.kind, trains_stage)?;
            if let Some(input_error) = below {
                stage.backward(&input, &input_error, &mut grads)?;
            }
            opt.step(&grads)?;
            total = (&total + (loss.detach() * idx.dim(0)? as f64)?)?;
            Ok(())
        })?;
        stage.end_epoch()?;
        let loss = total.to_scalar::<f32>()? / samples.max(1) as f32;
        if !loss.is_finite() {
            return Err(Error::Diverged(format!(
                "{} loss is {loss} at epoch {epoch}",
                S::MODEL
            )));
        }
        on_epoch(MlpEpoch {
            epoch,
            lr,
            loss,
            test_accuracy: stage.accuracy(mlp, x_test, y_test)?,
            seconds: start.elapsed().as_secs_f32(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry of `t`, flattened.
    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    fn toy(device: &Device) -> (Tensor, Vec<u32>) {
        let mut rng = crate::rng::seeded(4);
        let x: Vec<f32> = rng.uniform_vec(64 * 6, 1.0);
        let y: Vec<u32> = x.chunks(6).map(|r| u32::from(r[0] + r[1] > 0.0)).collect();
        (Tensor::from_vec(x, (64, 6), device).unwrap(), y)
    }

    #[test]
    fn backprop_gradients_equal_candle_autograd() {
        let dev = Device::Cpu;
        let (x, y) = toy(&dev);
        let labels = Tensor::from_slice(&y, 64, &dev).unwrap();
        let mlp = Mlp::new(&[6, 5, 4, 2], Feedback::Backprop, 1, &dev).unwrap();
        let (_, ours) = mlp.gradients(&x, &labels).unwrap();
        let loss = candle_nn::loss::cross_entropy(&mlp.logits(&x).unwrap(), &labels).unwrap();
        let auto = loss.backward().unwrap();
        for (i, v) in mlp.weights.iter().chain(&mlp.biases).enumerate() {
            let a = values(ours.get(v.as_tensor()).unwrap());
            let b = values(auto.get(v.as_tensor()).unwrap());
            for (p, q) in a.iter().zip(&b) {
                assert!((p - q).abs() < 1e-5, "param {i}: {p} vs {q}");
            }
        }
    }

    #[test]
    fn fa_and_dfa_differ_from_bp_only_below_the_top_layer() {
        let dev = Device::Cpu;
        let (x, y) = toy(&dev);
        let labels = Tensor::from_slice(&y, 64, &dev).unwrap();
        let bp = Mlp::new(&[6, 5, 4, 2], Feedback::Backprop, 1, &dev).unwrap();
        let fa = Mlp::new(&[6, 5, 4, 2], Feedback::Alignment, 1, &dev).unwrap();
        // Same forward weights (same seed, drawn first), so the top layer's gradient is equal.
        let (_, g_bp) = bp.gradients(&x, &labels).unwrap();
        let (_, g_fa) = fa.gradients(&x, &labels).unwrap();
        let top = |g: &GradStore, m: &Mlp| values(g.get(m.weights[2].as_tensor()).unwrap());
        assert_eq!(top(&g_bp, &bp), top(&g_fa, &fa));
        let bottom = |g: &GradStore, m: &Mlp| values(g.get(m.weights[0].as_tensor()).unwrap());
        assert_ne!(bottom(&g_bp, &bp), bottom(&g_fa, &fa));
        let dfa = Mlp::new(&[6, 5, 4, 2], Feedback::Direct, 1, &dev).unwrap();
        assert_eq!(dfa.feedback[0].as_ref().unwrap().dims(), [2, 5]);
        assert_eq!(dfa.feedback[1].as_ref().unwrap().dims(), [2, 4]);
        assert!(dfa.feedback[2].is_none());
    }

    #[test]
    fn sign_symmetry_is_backprop_through_signs_at_glorot_scale() {
        let dev = Device::Cpu;
        let (x, y) = toy(&dev);
        let labels = Tensor::from_slice(&y, 64, &dev).unwrap();
        let ss = Mlp::new(&[6, 5, 4, 2], Feedback::SignSymmetry, 1, &dev).unwrap();
        assert!(ss.feedback.iter().all(Option::is_none), "nothing is stored");
        let s = sign_feedback(ss.weights[1].as_tensor()).unwrap();
        // Layer 1 is [4, 5]: every entry is +-sqrt(2 / 9), with W's sign.
        let (w1, s1) = (values(ss.weights[1].as_tensor()), values(&s));
        for (w, s) in w1.iter().zip(&s1) {
            assert_eq!(*s, w.signum() * (2.0f32 / 9.0).sqrt());
        }
        let grads = |m: &Mlp, kind| {
            let (_, g) = m.gradients_as(&x, &labels, kind).unwrap();
            (0..3)
                .map(|l| values(g.get(m.weights[l].as_tensor()).unwrap()))
                .collect::<Vec<_>>()
        };
        let (g_ss, g_bp) = (
            grads(&ss, Feedback::SignSymmetry),
            grads(&ss, Feedback::Backprop),
        );
        assert_eq!(
            g_ss[2], g_bp[2],
            "the top layer hears the output error itself"
        );
        assert_ne!(g_ss[0], g_bp[0]);
        // Forward weights that already are signs at Glorot's scale: sign symmetry is backprop.
        for w in &ss.weights[1..] {
            w.set(&sign_feedback(w.as_tensor()).unwrap()).unwrap();
        }
        let (g_ss, g_bp) = (
            grads(&ss, Feedback::SignSymmetry),
            grads(&ss, Feedback::Backprop),
        );
        for l in 0..3 {
            for (a, b) in g_ss[l].iter().zip(&g_bp[l]) {
                assert!((a - b).abs() < 1e-6, "layer {l}: {a} vs {b}");
            }
        }
    }
}
