//! The Krotov experiment end to end: unsupervised layer, cached activations, readout, and the
//! `plastic/1` checkpoint with spec, provenance and metrics.

use std::time::Instant;

use candle_core::{Device, Tensor};
use plastic_models::{
    Activation, Checkpoint, InputSpec, LayerKind, LayerSpec, LayerTensors, ModelSpec, Preprocess,
    Weights,
};
use serde_json::json;

use crate::data::{DatasetKind, Split};
use crate::mlp::MlpEpoch;
use crate::model_kind::ModelKind;
use crate::preset::Preset;
use crate::progress::EpochProgress;
use crate::{Result, features, krotov, readout};

/// What a training run is asked to do beyond its preset.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Seed of weight init and shuffling.
    pub seed: u64,
    /// Device name for the provenance (`cpu`, `cuda`).
    pub device_name: String,
    /// Show progress bars on stderr.
    pub progress: bool,
}

/// Trains the preset's Krotov model on `split` and returns its checkpoint.
pub fn train_krotov(
    preset: &Preset,
    kind: DatasetKind,
    split: &Split,
    device: &Device,
    options: &RunOptions,
) -> Result<Checkpoint> {
    let started = Instant::now();
    let (width, height, channels) = kind.geometry();
    let n = width * height * channels;
    let preprocess = preset.krotov_preprocess()?;
    let x_train = features::inputs(&split.train, &preprocess)?;
    let x_test = features::inputs(&split.test, &preprocess)?;
    let cfg = preset.krotov_config()?;

    let mut bar = EpochProgress::new("unsupervised", cfg.epochs, options.progress);
    let mut epoch_seconds = Vec::new();
    let w = krotov::train(&x_train, n, &cfg, options.seed, device, |e| {
        epoch_seconds.push(e.seconds);
        bar.epoch_done(format!(
            "lr {:.4}  rows at |W|_p = 1: {:.0} %  {:.2} s/epoch",
            e.eps,
            e.converged * 100.0,
            e.seconds
        ));
    })?;
    bar.finish();
    let unsupervised_seconds = started.elapsed().as_secs_f32();

    let hidden_activation = Activation::RectifiedPower {
        n: preset.readout()?.n as f32,
    };
    let cache_start = Instant::now();
    let h_train = readout::hidden_activations(&x_train, n, &w, &hidden_activation, device)?;
    let h_test = readout::hidden_activations(&x_test, n, &w, &hidden_activation, device)?;
    let cache_seconds = cache_start.elapsed().as_secs_f32();

    let head = preset.head()?;
    let rcfg = preset.readout_config()?;
    let classes = kind.classes();
    let mut bar = EpochProgress::new("readout", rcfg.epochs, options.progress);
    let mut curve = Vec::new();
    let mut readout_epoch_seconds = Vec::new();
    let trained = readout::train(
        &h_train,
        &features::labels(&split.train),
        &h_test,
        &features::labels(&split.test),
        classes.len(),
        head,
        &rcfg,
        options.seed.wrapping_add(1),
        |e| {
            curve.push(e.test_accuracy);
            readout_epoch_seconds.push(e.seconds);
            bar.epoch_done(supervised_message(e.lr, e.loss, e.test_accuracy));
        },
    )?;
    bar.finish();
    let test_accuracy = curve.last().copied().unwrap_or(0.0);

    let spec = model_spec(
        preset,
        kind,
        preprocess,
        vec![
            LayerSpec {
                kind: LayerKind::Krotov {
                    p: cfg.params.p,
                    k: cfg.params.k,
                    delta: cfg.params.delta,
                },
                inputs: n,
                outputs: cfg.hidden,
                bias: false,
                activation: hidden_activation,
                conv: None,
            },
            LayerSpec {
                kind: LayerKind::Dense,
                inputs: cfg.hidden,
                outputs: classes.len(),
                bias: head.has_bias(),
                activation: head.activation(),
                conv: None,
            },
        ],
    );
    Ok(Checkpoint {
        spec,
        layers: vec![
            LayerTensors {
                weight: Weights::F32(w),
                bias: None,
                feedback: None,
            },
            LayerTensors {
                weight: Weights::F32(trained.weight),
                bias: trained.bias,
                feedback: None,
            },
        ],
        train: provenance(
            preset,
            kind,
            split,
            options,
            started,
            json!({
                "unsupervised_seconds": unsupervised_seconds,
                "unsupervised_epoch_seconds_mean": mean(&epoch_seconds),
                "activation_cache_seconds": cache_seconds,
                "readout_epoch_seconds_mean": mean(&readout_epoch_seconds),
            }),
        ),
        metrics: json!({
            "test_accuracy": test_accuracy,
            "test_accuracy_per_readout_epoch": curve,
        }),
    })
}

/// The spec of a model the preset trains on `kind`: its name, the dataset's geometry and
/// class names, and the given preprocessing and layers.
fn model_spec(
    preset: &Preset,
    kind: DatasetKind,
    preprocess: Preprocess,
    layers: Vec<LayerSpec>,
) -> ModelSpec {
    let (width, height, channels) = kind.geometry();
    ModelSpec {
        name: preset.model.clone(),
        input: InputSpec {
            width,
            height,
            channels,
            preprocess,
        },
        layers,
        classes: kind.classes().iter().map(|c| c.to_string()).collect(),
    }
}

/// The provenance every checkpoint records (dataset, sizes, seed, preset, device, code version,
/// wall time), with the model's own timings in `extra` merged in.
fn provenance(
    preset: &Preset,
    kind: DatasetKind,
    split: &Split,
    options: &RunOptions,
    started: Instant,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut train = json!({
        "dataset": kind.name(),
        "train_samples": split.train.len(),
        "test_samples": split.test.len(),
        "seed": options.seed,
        "preset": preset,
        "device": options.device_name,
        "threads": rayon::current_num_threads(),
        "code_version": env!("CARGO_PKG_VERSION"),
        "wall_seconds": started.elapsed().as_secs_f32(),
    });
    if let (Some(map), serde_json::Value::Object(extra)) = (train.as_object_mut(), extra) {
        map.extend(extra);
    }
    train
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len().max(1) as f32
}

/// The progress line of a supervised epoch.
fn supervised_message(lr: f64, loss: f32, test_accuracy: f32) -> String {
    format!(
        "lr {lr:.1e}  loss {loss:.4}  test {:.2} %",
        test_accuracy * 100.0
    )
}

/// The outputs of every layer of an f32 checkpoint, computed with candle for `x`
/// (`[samples, n]`, preprocessed): the trainer's forward pass, against which the runtime's is
/// tested.
pub fn forward(ckpt: &Checkpoint, x: &[f32], device: &Device) -> Result<Tensor> {
    let n = ckpt.spec.input_len();
    let mut h = Tensor::from_slice(x, (x.len() / n, n), device)?;
    for (spec, layer) in ckpt.spec.layers.iter().zip(&ckpt.layers) {
        let Weights::F32(w) = &layer.weight else {
            return Err(crate::Error::Config(
                "the trainer's forward pass takes f32 checkpoints".into(),
            ));
        };
        let w = Tensor::from_slice(w, spec.weight_shape(), device)?;
        let bias = match &layer.bias {
            Some(b) => Some(Tensor::from_slice(b, spec.rows(), device)?),
            None => None,
        };
        let y = match &spec.conv {
            None => {
                let y = h.matmul(&w.t()?)?;
                match &bias {
                    Some(b) => y.broadcast_add(b)?,
                    None => y,
                }
            }
            Some(c) => {
                let image = h.reshape((h.dim(0)?, c.in_channels, c.height, c.width))?;
                let mut y = image.conv2d(&w, c.padding, 1, 1, 1)?;
                if let Some(b) = &bias {
                    y = y.broadcast_add(&b.reshape((1, c.out_channels, 1, 1))?)?;
                }
                y.max_pool2d(c.pool)?.flatten_from(1)?
            }
        };
        h = readout::activate(&y, &spec.activation)?;
    }
    Ok(h)
}

/// Per-channel mean and standard deviation of a dataset's pixels on the 0..1 scale: the
/// `MeanStd` normalisation MLPs are trained with, measured on the training set itself.
pub fn channel_stats(data: &crate::data::Dataset) -> Preprocess {
    let plane = data.width * data.height;
    let mut mean = Vec::new();
    let mut std = Vec::new();
    for c in 0..data.channels {
        let (mut sum, mut sq, mut count) = (0f64, 0f64, 0f64);
        for i in 0..data.len() {
            for &p in &data.image(i)[c * plane..(c + 1) * plane] {
                let v = f64::from(p) / 255.0;
                sum += v;
                sq += v * v;
                count += 1.0;
            }
        }
        let m = sum / count.max(1.0);
        mean.push(m as f32);
        std.push(((sq / count.max(1.0) - m * m).max(1e-12)).sqrt() as f32);
    }
    Preprocess::MeanStd { mean, std }
}

/// The models the trainer makes, as `plastic-train` and `plastic compare` name them, in the
/// comparison's order.
pub const MODELS: [&str; 9] = crate::model_kind::MODEL_NAMES;

/// True when a test accuracy is no better than guessing among `classes` (under 1.5 times
/// chance): a run that learned nothing, as when a readout saturates from its first epoch and
/// predicts one class for every image. Such a run must not pass for a result.
pub fn learned_nothing(test_accuracy: f64, classes: usize) -> bool {
    test_accuracy < 1.5 / classes.max(1) as f64
}

/// Trains `model` with `preset` on `split` and returns its checkpoint.
///
/// The preset must be one written for `model`: the trainers read the learning rule from the
/// preset (`mlp-fa` against `mlp-bp`, `cnn-fa` against `cnn`), so a preset of another model
/// would silently train that other model under this one's name.
pub fn train_model(
    model: ModelKind,
    preset: &Preset,
    kind: DatasetKind,
    split: &Split,
    device: &Device,
    options: &RunOptions,
) -> Result<Checkpoint> {
    if preset.model != model.name() {
        return Err(crate::Error::Config(format!(
            "the preset is for model `{}`, not `{model}`: train `{}` with it, or pick one of \
             the presets written for `{model}`: {}",
            preset.model,
            preset.model,
            Preset::names()
                .into_iter()
                .filter(|n| Preset::load(n).is_ok_and(|p| p.model == model.name()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    // Again after overrides (`--epochs 0`, compare's `--batch 0`).
    preset.check()?;
    match model {
        ModelKind::Krotov | ModelKind::KrotovLinear => {
            train_krotov(preset, kind, split, device, options)
        }
        ModelKind::MlpBp | ModelKind::MlpFa | ModelKind::MlpDfa | ModelKind::MlpSs => {
            train_mlp(preset, kind, split, device, options)
        }
        ModelKind::HebbNet => train_hebbnet(preset, kind, split, device, options),
        ModelKind::Cnn | ModelKind::CnnFa => train_cnn(preset, kind, split, device, options),
    }
}

/// The inputs of a supervised model: centred and scaled per channel, as tensors on the device.
struct CentredData {
    preprocess: Preprocess,
    x_train: Tensor,
    x_test: Tensor,
    y_train: Vec<u32>,
    y_test: Vec<u32>,
}

impl CentredData {
    fn new(split: &Split, kind: DatasetKind, device: &Device) -> Result<Self> {
        let (width, height, channels) = kind.geometry();
        let n = width * height * channels;
        let preprocess = channel_stats(&split.train);
        let x_train = features::inputs(&split.train, &preprocess)?;
        let x_test = features::inputs(&split.test, &preprocess)?;
        Ok(Self {
            x_train: Tensor::from_vec(x_train, (split.train.len(), n), device)?,
            x_test: Tensor::from_vec(x_test, (split.test.len(), n), device)?,
            y_train: features::labels(&split.train),
            y_test: features::labels(&split.test),
            preprocess,
        })
    }
}

/// The progress bar and per-epoch record of a supervised run (MLP, HebbNet), and the
/// checkpoint it ends in.
struct EpochLog {
    started: Instant,
    bar: EpochProgress,
    curve: Vec<f32>,
    epoch_seconds: Vec<f32>,
}

impl EpochLog {
    fn new(preset: &Preset, epochs: usize, options: &RunOptions, started: Instant) -> Self {
        Self {
            started,
            bar: EpochProgress::new(&preset.model, epochs, options.progress),
            curve: Vec::new(),
            epoch_seconds: Vec::new(),
        }
    }

    fn record(&mut self, e: MlpEpoch) {
        self.curve.push(e.test_accuracy);
        self.epoch_seconds.push(e.seconds);
        self.bar
            .epoch_done(supervised_message(e.lr, e.loss, e.test_accuracy));
    }

    /// The checkpoint of the trained `layers` (specs and tensors), with the provenance (plus
    /// `extra`) and the test accuracy per epoch.
    fn checkpoint(
        self,
        preset: &Preset,
        kind: DatasetKind,
        split: &Split,
        options: &RunOptions,
        (preprocess, layers, tensors): (Preprocess, Vec<LayerSpec>, Vec<LayerTensors>),
        extra: serde_json::Value,
    ) -> Checkpoint {
        self.bar.finish();
        let mut timings = json!({ "epoch_seconds_mean": mean(&self.epoch_seconds) });
        if let (Some(map), serde_json::Value::Object(extra)) = (timings.as_object_mut(), extra) {
            map.extend(extra);
        }
        Checkpoint {
            spec: model_spec(preset, kind, preprocess, layers),
            layers: tensors,
            train: provenance(preset, kind, split, options, self.started, timings),
            metrics: json!({
                "test_accuracy": self.curve.last().copied().unwrap_or(0.0),
                "test_accuracy_per_epoch": self.curve,
            }),
        }
    }
}

/// Trains the preset's MLP (`mlp-bp`, `mlp-fa`, `mlp-dfa`, `mlp-ss`) on `split` and returns its
/// checkpoint.
pub fn train_mlp(
    preset: &Preset,
    kind: DatasetKind,
    split: &Split,
    device: &Device,
    options: &RunOptions,
) -> Result<Checkpoint> {
    let started = Instant::now();
    let feedback = ModelKind::from_name(&preset.model)
        .and_then(ModelKind::feedback)
        .ok_or_else(|| crate::Error::Config(format!("`{}` is no MLP", preset.model)))?;
    let section = preset.mlp()?;
    let data = CentredData::new(split, kind, device)?;
    let mut sizes = vec![data.x_train.dim(1)?];
    sizes.extend(&section.hidden);
    sizes.push(kind.classes().len());
    let cfg = crate::mlp::MlpConfig {
        sizes,
        feedback,
        epochs: section.epochs,
        batch: section.batch,
        lr0: section.lr0,
        lr_end: section.lr_end,
    };
    let mut log = EpochLog::new(preset, cfg.epochs, options, started);
    let mlp = crate::mlp::train(
        &cfg,
        &data.x_train,
        &data.y_train,
        &data.x_test,
        &data.y_test,
        options.seed,
        |e| log.record(e),
    )?;
    let (layers, tensors) = mlp.export()?;
    Ok(log.checkpoint(
        preset,
        kind,
        split,
        options,
        (data.preprocess, layers, tensors),
        json!({}),
    ))
}

/// Trains the preset's HebbNet on `split` and returns its checkpoint: the Hebbian layers as
/// dense ReLU layers without bias, then the linear stack (the runtime runs both as they are).
pub fn train_hebbnet(
    preset: &Preset,
    kind: DatasetKind,
    split: &Split,
    device: &Device,
    options: &RunOptions,
) -> Result<Checkpoint> {
    let started = Instant::now();
    let (width, height, channels) = kind.geometry();
    let cfg = preset.hebbnet_config(width * height * channels, kind.classes().len())?;
    // Centred inputs: with all-positive pixels every ReLU of a unit-length row would be on.
    let data = CentredData::new(split, kind, device)?;
    let mut log = EpochLog::new(preset, cfg.epochs, options, started);
    let net = crate::hebbnet::train(
        &cfg,
        &data.x_train,
        &data.y_train,
        &data.x_test,
        &data.y_test,
        options.seed,
        |e| log.record(e),
    )?;
    let hebbian = &net.hebbian.weights;
    let mut layers = Vec::new();
    let mut tensors = Vec::new();
    for (l, w) in hebbian.iter().enumerate() {
        let (out, inp) = w.dims2()?;
        layers.push(LayerSpec {
            kind: LayerKind::Dense,
            inputs: inp,
            outputs: out,
            bias: false,
            activation: if l + 1 == hebbian.len() {
                cfg.activation.clone()
            } else {
                Activation::Relu
            },
            conv: None,
        });
        tensors.push(LayerTensors {
            weight: Weights::F32(w.flatten_all()?.to_vec1()?),
            bias: None,
            feedback: None,
        });
    }
    let (head_layers, head_tensors) = net.head.export()?;
    layers.extend(head_layers);
    tensors.extend(head_tensors);
    Ok(log.checkpoint(
        preset,
        kind,
        split,
        options,
        (data.preprocess, layers, tensors),
        json!({
            "hebbian_rule": format!("{:?}", cfg.rule),
            "hebbian_layers": hebbian.len(),
        }),
    ))
}

/// Trains the preset's CNN on `split` and returns its checkpoint: convolutions and head by
/// backprop (`cnn`); or that for `epochs`, then the convolutions frozen and a fresh head
/// trained by feedback alignment for as many epochs (`cnn-fa`), the test accuracy per epoch
/// being the head's.
pub fn train_cnn(
    preset: &Preset,
    kind: DatasetKind,
    split: &Split,
    device: &Device,
    options: &RunOptions,
) -> Result<Checkpoint> {
    use crate::cnn::{Augmentation, ConvConfig, ConvStack, FrozenConvs, TrainedConvs};
    use crate::mlp::{Feedback, Mlp, MlpConfig, fit};

    let started = Instant::now();
    let section = preset.cnn()?;
    let (width, height, channels) = kind.geometry();
    let data = CentredData::new(split, kind, device)?;
    let convs = ConvStack::new(
        &ConvConfig {
            input: (channels, height, width),
            channels: section.channels.clone(),
            kernel: section.kernel,
            padding: section.padding,
            pool: section.pool,
        },
        options.seed,
        device,
    )?;
    let mut sizes = vec![convs.feature_len()];
    sizes.extend(&section.hidden);
    sizes.push(kind.classes().len());
    let cfg = MlpConfig {
        sizes: sizes.clone(),
        feedback: Feedback::Backprop,
        epochs: section.epochs,
        batch: section.batch,
        lr0: section.lr0,
        lr_end: section.lr_end,
    };
    let data_pair = [&data.x_train, &data.x_test];
    let labels = [data.y_train.as_slice(), data.y_test.as_slice()];
    let head_seed = options.seed.wrapping_add(1);
    let shuffle_seed = options.seed.wrapping_add(7);
    let bp_head = Mlp::new(&sizes, Feedback::Backprop, head_seed, device)?;
    let frozen = ModelKind::from_name(&preset.model) == Some(ModelKind::CnnFa);
    let mut log = EpochLog::new(preset, cfg.epochs, options, started);
    let mut bp_curve = Vec::new();
    let augmentation = Augmentation {
        shift: section.shift,
        flip: section.flip,
    };
    let mut stage = TrainedConvs::new(&convs, augmentation, options.seed.wrapping_add(11));
    if frozen {
        let mut bar = EpochProgress::new("convolutions (bp)", cfg.epochs, options.progress);
        fit(
            &bp_head,
            &cfg,
            &mut stage,
            data_pair,
            labels,
            shuffle_seed,
            |e| {
                bp_curve.push(e.test_accuracy);
                bar.epoch_done(supervised_message(e.lr, e.loss, e.test_accuracy));
            },
        )?;
        bar.finish();
    } else {
        fit(
            &bp_head,
            &cfg,
            &mut stage,
            data_pair,
            labels,
            shuffle_seed,
            |e| log.record(e),
        )?;
    }
    let head = if frozen {
        let fa_head = Mlp::new(&sizes, Feedback::Alignment, head_seed, device)?;
        let fa_cfg = MlpConfig {
            feedback: Feedback::Alignment,
            ..cfg
        };
        let mut stage = FrozenConvs::new(&convs, &data.x_train)?;
        fit(
            &fa_head,
            &fa_cfg,
            &mut stage,
            data_pair,
            labels,
            shuffle_seed,
            |e| log.record(e),
        )?;
        stage.fold_into(&fa_head)?;
        fa_head
    } else {
        bp_head
    };
    let (mut layers, mut tensors) = convs.export()?;
    let (head_layers, head_tensors) = head.export()?;
    layers.extend(head_layers);
    tensors.extend(head_tensors);
    Ok(log.checkpoint(
        preset,
        kind,
        split,
        options,
        (data.preprocess, layers, tensors),
        if frozen {
            json!({ "backprop_test_accuracy_per_epoch": bp_curve })
        } else {
            json!({})
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

    fn empty_split() -> Split {
        let empty = Dataset {
            images: Vec::new(),
            labels: Vec::new(),
            width: 28,
            height: 28,
            channels: 1,
        };
        Split {
            train: empty.clone(),
            test: empty,
        }
    }

    #[test]
    fn chance_level_is_learning_nothing() {
        // One class for every CIFAR-10 image: 10 %; the worst model we ship: 33 %.
        assert!(learned_nothing(0.10, 10));
        assert!(learned_nothing(0.1288, 10));
        assert!(!learned_nothing(0.3367, 10));
    }

    #[test]
    fn a_preset_written_for_another_model_is_refused_by_name() {
        let preset = Preset::load("cnn-fa-mnist").unwrap();
        let options = RunOptions {
            seed: 0,
            device_name: "cpu".into(),
            progress: false,
        };
        let err = train_model(
            ModelKind::Cnn,
            &preset,
            DatasetKind::Mnist,
            &empty_split(),
            &Device::Cpu,
            &options,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("for model `cnn-fa`, not `cnn`"), "{err}");
        let offered = err.split("written for `cnn`: ").nth(1).unwrap();
        assert!(offered.contains("cnn-mnist"), "{err}");
        assert!(
            !offered.contains("cnn-fa"),
            "presets of cnn-fa offered for cnn: {err}"
        );
    }
}
