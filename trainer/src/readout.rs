//! Supervised readouts on top of a frozen plastic layer.
//!
//! The layer is frozen, so its activations are computed once ([`hidden_activations`]) and every
//! readout epoch reads them from memory; the reference code recomputed the layer every epoch.
//!
//! - [`Head::PowerTanh`], Krotov & Hopfield's readout: `c = tanh(beta S h)`, loss
//!   `sum_j |c_j - t_j|^m` with `t = +-1` one-hot, on `c` itself (one reference port applied it
//!   to `log_softmax(c)` by mistake), trained with Adam.
//! - [`Head::Linear`]: `S h + b` trained with cross-entropy and Adam.

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use plastic_models::Activation;

use crate::labelled::Labelled;
use crate::{Error, Result};

/// Which readout to train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Head {
    /// `tanh(beta S h)` with the loss `sum |c - t|^m` (paper: m = 6).
    PowerTanh {
        /// Inverse temperature of the tanh.
        beta: f32,
        /// Power of the loss.
        m: f32,
    },
    /// Logits `S h + b`, cross-entropy.
    Linear,
}

impl Head {
    /// The activation the checkpoint records for the readout layer.
    pub fn activation(self) -> Activation {
        match self {
            Head::PowerTanh { beta, .. } => Activation::Tanh { beta },
            Head::Linear => Activation::Identity,
        }
    }

    /// Whether the readout has a bias.
    pub fn has_bias(self) -> bool {
        matches!(self, Head::Linear)
    }
}

/// Optimiser settings of a readout.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadoutConfig {
    /// Passes over the cached activations.
    pub epochs: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Adam learning rate of the first epoch.
    pub lr0: f64,
    /// Learning rate of the last epoch; it decays geometrically in between.
    pub lr_end: f64,
}

/// What one readout epoch did.
#[derive(Debug, Clone, Copy)]
pub struct ReadoutEpoch {
    /// 0-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Mean training loss per sample.
    pub loss: f32,
    /// Test accuracy after the epoch (fraction).
    pub test_accuracy: f32,
    /// Seconds the epoch took.
    pub seconds: f32,
}

/// A trained readout.
#[derive(Debug, Clone)]
pub struct Readout {
    /// `[classes, hidden]`, row-major.
    pub weight: Vec<f32>,
    /// `[classes]` for [`Head::Linear`].
    pub bias: Option<Vec<f32>>,
    /// The last epoch's report.
    pub last: Option<ReadoutEpoch>,
}

/// Learning rate of `epoch` of `epochs`, geometric from `lr0` to `lr_end`.
pub fn learning_rate(cfg: &ReadoutConfig, epoch: usize) -> f64 {
    geometric_rate(cfg.lr0, cfg.lr_end, epoch, cfg.epochs)
}

/// `lr0` at the first of `epochs` epochs, `lr_end` at the last, geometric in between: the
/// schedule of every Adam-trained part of the trainer.
pub fn geometric_rate(lr0: f64, lr_end: f64, epoch: usize, epochs: usize) -> f64 {
    if epochs <= 1 {
        return lr0;
    }
    lr0 * (lr_end / lr0).powf(epoch as f64 / (epochs - 1) as f64)
}

/// Fraction of rows of `scores` (`[samples, classes]`) whose arg-max is the label.
pub fn fraction_correct(scores: &Tensor, labels: &[u32]) -> Result<f32> {
    let pred = scores.argmax(1)?.to_vec1::<u32>()?;
    let correct = pred.iter().zip(labels).filter(|(p, l)| p == l).count();
    Ok(correct as f32 / labels.len().max(1) as f32)
}

/// `activation(x W^T)` for the rows of `x` (`[samples, n]`, on `device`), computed in chunks
/// so the intermediate products stay small. `W` is `[hidden, n]`.
pub fn hidden_activations(
    x: &[f32],
    n: usize,
    w: &[f32],
    activation: &Activation,
    device: &Device,
) -> Result<Tensor> {
    let hidden = w.len() / n;
    let w = Tensor::from_slice(w, (hidden, n), device)?;
    let samples = x.len() / n;
    let mut parts = Vec::new();
    for start in (0..samples).step_by(10_000) {
        let end = (start + 10_000).min(samples);
        let xs = Tensor::from_slice(&x[start * n..end * n], (end - start, n), device)?;
        parts.push(activate(&xs.matmul(&w.t()?)?, activation)?);
    }
    Ok(Tensor::cat(&parts, 0)?)
}

/// Applies a checkpoint activation to a `[samples, width]` tensor, as the runtime does.
pub fn activate(y: &Tensor, activation: &Activation) -> Result<Tensor> {
    Ok(match *activation {
        Activation::Identity => y.clone(),
        Activation::Relu => y.relu()?,
        Activation::RectifiedPower { n } => {
            let r = y.relu()?;
            let max = r.max_keepdim(D::Minus1)?;
            // Rows with no positive entry stay zero: divide by 1 there.
            let safe = (max.eq(0.0)?.to_dtype(DType::F32)? + &max)?;
            r.broadcast_div(&safe)?.powf(f64::from(n))?
        }
        Activation::Tanh { beta } => (y * f64::from(beta))?.tanh()?,
        Activation::Triangle { power } => crate::softhebb_net::triangle(y, power)?,
    })
}

/// Trains a readout on cached activations (`data.x_train`: `[samples, hidden]`) and reports
/// the test accuracy on `data.x_test` after every epoch.
pub fn train(
    data: Labelled<'_>,
    classes: usize,
    head: Head,
    cfg: &ReadoutConfig,
    seed: u64,
    mut on_epoch: impl FnMut(ReadoutEpoch),
) -> Result<Readout> {
    let Labelled {
        x_train: h_train,
        y_train,
        x_test: h_test,
        y_test,
    } = data;
    let device = h_train.device().clone();
    let (samples, hidden) = h_train.dims2()?;
    if samples != y_train.len() || cfg.batch == 0 {
        return Err(Error::Config(format!(
            "{samples} activations for {} labels, batch {}",
            y_train.len(),
            cfg.batch
        )));
    }
    let mut rng = crate::rng::seeded(seed);
    // Small normal init: with activations in 0..1 the first tanh stays out of saturation.
    let std = 1.0 / (hidden as f32).sqrt();
    let s = Var::from_tensor(&Tensor::from_vec(
        rng.normal_vec(classes * hidden, std),
        (classes, hidden),
        &device,
    )?)?;
    let b = Var::zeros(classes, DType::F32, &device)?;
    let mut vars = vec![s.clone()];
    if head.has_bias() {
        vars.push(b.clone());
    }
    let mut opt = AdamW::new(
        vars,
        ParamsAdamW {
            lr: cfg.lr0,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let y_train_t = Tensor::from_slice(y_train, samples, &device)?;
    let mut order: Vec<u32> = (0..samples as u32).collect();
    let mut last = None;
    for epoch in 0..cfg.epochs {
        let start = std::time::Instant::now();
        let lr = learning_rate(cfg, epoch);
        opt.set_learning_rate(lr);
        rng.shuffle(&mut order);
        let mut total = Tensor::zeros((), DType::F32, &device)?;
        crate::mlp::for_each_minibatch(&order, cfg.batch, &device, |idx| {
            let h = h_train.index_select(idx, 0)?;
            let y = y_train_t.index_select(idx, 0)?;
            let out = h.matmul(&s.as_tensor().t()?)?;
            let loss = match head {
                Head::PowerTanh { beta, m } => {
                    let c = (out * f64::from(beta))?.tanh()?;
                    let t = one_hot(&y, classes, 1.0, -1.0)?;
                    ((c - t)?.abs()?.powf(f64::from(m))?.sum(1)?.mean_all())?
                }
                Head::Linear => {
                    let logits = out.broadcast_add(b.as_tensor())?;
                    candle_nn::loss::cross_entropy(&logits, &y)?
                }
            };
            opt.backward_step(&loss)?;
            total = (&total + (loss.detach() * idx.dim(0)? as f64)?)?;
            Ok(())
        })?;
        let loss = total.to_scalar::<f32>()? / samples as f32;
        if !loss.is_finite() {
            return Err(Error::Diverged(format!(
                "readout loss is {loss} at epoch {epoch}"
            )));
        }
        let bias = head.has_bias().then(|| b.as_tensor());
        let test_accuracy = accuracy(h_test, y_test, s.as_tensor(), bias)?;
        let report = ReadoutEpoch {
            epoch,
            lr,
            loss,
            test_accuracy,
            seconds: start.elapsed().as_secs_f32(),
        };
        on_epoch(report);
        last = Some(report);
    }
    Ok(Readout {
        weight: s.as_tensor().flatten_all()?.to_vec1()?,
        bias: if head.has_bias() {
            Some(b.as_tensor().to_vec1()?)
        } else {
            None
        },
        last,
    })
}

/// Fraction of rows of `h` whose arg-max of `h S^T (+ b)` equals the label. The tanh is
/// monotonic, so the power/tanh head is scored on `S h` directly.
pub fn accuracy(h: &Tensor, labels: &[u32], s: &Tensor, b: Option<&Tensor>) -> Result<f32> {
    let mut out = h.matmul(&s.t()?)?;
    if let Some(b) = b {
        out = out.broadcast_add(b)?;
    }
    fraction_correct(&out, labels)
}

/// `[labels, classes]` rows of `off` with `on` at each label, built on the labels' device.
/// (candle-nn's `one_hot` builds it on the host, reading the labels back: a GPU would wait
/// for every minibatch.)
pub fn one_hot(labels: &Tensor, classes: usize, on: f64, off: f64) -> Result<Tensor> {
    let units = Tensor::arange(0u32, classes as u32, labels.device())?.unsqueeze(0)?;
    let hot = units
        .broadcast_eq(&labels.to_dtype(DType::U32)?.unsqueeze(1)?)?
        .to_dtype(DType::F32)?;
    Ok(((hot * (on - off))? + off)?)
}

/// The delta rule on a minibatch (the device's readout rule, see
/// [`plastic_runtime::learn::delta`]): `S + eta (t - y)^T h`, `y` and `t` of shape
/// `[B, classes]`, `h` of shape `[B, hidden]`.
pub fn delta_rule_step(s: &Tensor, h: &Tensor, y: &Tensor, t: &Tensor, eta: f32) -> Result<Tensor> {
    Ok((s + ((t - y)?.t()?.matmul(h)? * f64::from(eta))?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_on_the_device_equals_candle_nn() {
        let labels = Tensor::new(&[2u32, 0, 1, 2], &Device::Cpu).unwrap();
        for (on, off) in [(1.0, 0.0), (1.0, -1.0)] {
            let ours = one_hot(&labels, 3, on, off).unwrap();
            let theirs =
                candle_nn::encoding::one_hot(labels.clone(), 3, on as f32, off as f32).unwrap();
            assert_eq!(
                ours.to_vec2::<f32>().unwrap(),
                theirs.to_vec2::<f32>().unwrap()
            );
        }
    }

    #[test]
    fn candle_delta_rule_equals_the_runtime_rule() {
        let mut rng = crate::rng::seeded(3);
        let (s0, h, y) = (
            rng.uniform_vec(12, 1.0),
            rng.uniform_vec(4, 1.0),
            rng.uniform_vec(3, 1.0),
        );
        let t = [1.0, -1.0, -1.0];
        let dev = Device::Cpu;
        let candle = delta_rule_step(
            &Tensor::from_slice(&s0, (3, 4), &dev).unwrap(),
            &Tensor::from_slice(&h, (1, 4), &dev).unwrap(),
            &Tensor::from_slice(&y, (1, 3), &dev).unwrap(),
            &Tensor::from_slice(&t, (1, 3), &dev).unwrap(),
            0.1,
        )
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
        let mut s = s0.clone();
        plastic_runtime::learn::delta::delta_update(&mut s, None, &h, &y, &t, 0.1).unwrap();
        for (a, b) in candle.iter().zip(&s) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn rectified_power_matches_hand_computation() {
        let y = Tensor::new(&[[1.0f32, -1.0, 2.0], [-1.0, -2.0, 0.0]], &Device::Cpu).unwrap();
        let h = activate(&y, &Activation::RectifiedPower { n: 2.0 })
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(h, vec![vec![0.25, 0.0, 1.0], vec![0.0, 0.0, 0.0]]);
    }

    #[test]
    fn power_tanh_head_learns_a_separable_toy_problem() {
        // Two classes, each a one-hot activation pattern plus noise.
        let mut rng = crate::rng::seeded(5);
        let (n, hidden) = (400, 8);
        let mut h = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let class = (i % 2) as u32;
            for j in 0..hidden {
                let base = if j % 2 == class as usize { 1.0 } else { 0.0 };
                h.push(base * 0.8 + rng.next_f32() * 0.2);
            }
            y.push(class);
        }
        let h = Tensor::from_vec(h, (n, hidden), &Device::Cpu).unwrap();
        let cfg = ReadoutConfig {
            epochs: 20,
            batch: 20,
            lr0: 1e-2,
            lr_end: 1e-3,
        };
        let head = Head::PowerTanh { beta: 1.0, m: 6.0 };
        let data = Labelled {
            x_train: &h,
            y_train: &y,
            x_test: &h,
            y_test: &y,
        };
        let r = train(data, 2, head, &cfg, 1, |_| {}).unwrap();
        assert_eq!(r.last.unwrap().test_accuracy, 1.0);
        let r = train(data, 2, Head::Linear, &cfg, 1, |_| {}).unwrap();
        assert_eq!(r.last.unwrap().test_accuracy, 1.0);
        assert_eq!(r.bias.unwrap().len(), 2);
    }

    #[test]
    fn geometric_schedule_hits_both_ends() {
        let cfg = ReadoutConfig {
            epochs: 3,
            batch: 1,
            lr0: 1e-2,
            lr_end: 1e-4,
        };
        assert_eq!(learning_rate(&cfg, 0), 1e-2);
        assert!((learning_rate(&cfg, 1) - 1e-3).abs() < 1e-12);
        assert!((learning_rate(&cfg, 2) - 1e-4).abs() < 1e-12);
    }
}
