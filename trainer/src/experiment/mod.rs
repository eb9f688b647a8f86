//! A model trained end to end from a preset into a `plastic/1` checkpoint with spec,
//! provenance and metrics: [`train_model`] picks the family's trainer (`krotov.rs`: the
//! unsupervised layer, cached activations, readout; `supervised.rs`: MLPs and HebbNet;
//! `cnn.rs`: the CNNs), each reading one [`TrainingRun`].

use std::time::Instant;

use candle_core::{Device, Tensor};
use plastic_models::{
    Activation, Checkpoint, InputSpec, LayerSpec, LayerTensors, ModelSpec, PaddingMode, Preprocess,
    Weights,
};
use serde_json::json;

use crate::data::{DatasetKind, Split};
use crate::labelled::Labelled;
use crate::mlp::MlpEpoch;
use crate::model_kind::ModelKind;
use crate::preset::Preset;
use crate::progress::EpochProgress;
use crate::{Result, features, readout};

mod cnn;
mod krotov;
mod softhebb;
mod supervised;

pub use cnn::train_cnn;
pub use krotov::train_krotov;
pub use softhebb::train_softhebb;
pub use supervised::{train_hebbnet, train_mlp};

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

/// Everything one training run reads: the preset, the dataset and its split, where it runs,
/// and the options beyond the preset.
#[derive(Debug, Clone, Copy)]
pub struct TrainingRun<'a> {
    /// The preset, written for the model trained.
    pub preset: &'a Preset,
    /// Which dataset `split` is (its geometry and class names go into the spec).
    pub kind: DatasetKind,
    /// The training and test images.
    pub split: &'a Split,
    /// Where training runs.
    pub device: &'a Device,
    /// Seed, provenance's device name, progress bars.
    pub options: &'a RunOptions,
}

/// The spec of a model the preset trains on `kind`: its name, the dataset's geometry and
/// class names, and the given preprocessing and layers.
pub(super) fn model_spec(
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
pub(super) fn provenance(
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

pub(super) fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len().max(1) as f32
}

/// The progress line of a supervised epoch.
pub(super) fn supervised_message(lr: f64, loss: f32, test_accuracy: f32) -> String {
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
        h = match &spec.conv {
            None => {
                let y = h.matmul(&w.t()?)?;
                let y = match &bias {
                    Some(b) => y.broadcast_add(b)?,
                    None => y,
                };
                readout::activate(&y, &spec.activation)?
            }
            Some(c) => {
                let batch = h.dim(0)?;
                let image = h.reshape((batch, c.in_channels, c.height, c.width))?;
                let mut y = match c.padding_mode {
                    PaddingMode::Zeros => image.conv2d(&w, c.padding, 1, 1, 1)?,
                    PaddingMode::Reflect => {
                        let (ch, cw) = c.conv_size();
                        crate::softhebb_net::patches_padded(&image, c.kernel, c.padding)?
                            .matmul(&w.flatten_from(1)?.t()?)?
                            .reshape((batch, ch, cw, c.out_channels))?
                            .permute((0, 3, 1, 2))?
                    }
                };
                if let Some(b) = &bias {
                    y = y.broadcast_add(&b.reshape((1, c.out_channels, 1, 1))?)?;
                }
                let pool = crate::softhebb_net::Pool::of(c);
                if let Activation::Triangle { .. } = spec.activation {
                    // Per position, over the channels, before the pooling (see `Conv2d`).
                    let per_position = y.permute((0, 2, 3, 1))?;
                    let activated = readout::activate(&per_position, &spec.activation)?
                        .permute((0, 3, 1, 2))?;
                    pool.apply(&activated.contiguous()?)?.flatten_from(1)?
                } else {
                    let pooled = pool.apply(&y.contiguous()?)?.flatten_from(1)?;
                    readout::activate(&pooled, &spec.activation)?
                }
            }
        };
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
pub const MODELS: [&str; 10] = crate::model_kind::MODEL_NAMES;

/// True when a test accuracy is no better than guessing among `classes` (under 1.5 times
/// chance): a run that learned nothing, as when a readout saturates from its first epoch and
/// predicts one class for every image. Such a run must not pass for a result.
pub fn learned_nothing(test_accuracy: f64, classes: usize) -> bool {
    test_accuracy < 1.5 / classes.max(1) as f64
}

/// Trains `model` as `run` says and returns its checkpoint.
///
/// The preset must be one written for `model`: the trainers read the learning rule from the
/// preset (`mlp-fa` against `mlp-bp`, `cnn-fa` against `cnn`), so a preset of another model
/// would silently train that other model under this one's name.
pub fn train_model(model: ModelKind, run: &TrainingRun<'_>) -> Result<Checkpoint> {
    let preset = run.preset;
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
        ModelKind::Krotov | ModelKind::KrotovLinear => train_krotov(run),
        ModelKind::MlpBp | ModelKind::MlpFa | ModelKind::MlpDfa | ModelKind::MlpSs => {
            train_mlp(run)
        }
        ModelKind::HebbNet => train_hebbnet(run),
        ModelKind::Cnn | ModelKind::CnnFa => train_cnn(run),
        ModelKind::SoftHebb => train_softhebb(run),
    }
}

/// The inputs of a supervised model: centred and scaled per channel, as tensors on the device.
pub(super) struct CentredData {
    pub(super) preprocess: Preprocess,
    pub(super) x_train: Tensor,
    pub(super) x_test: Tensor,
    pub(super) y_train: Vec<u32>,
    pub(super) y_test: Vec<u32>,
}

impl CentredData {
    pub(super) fn new(split: &Split, kind: DatasetKind, device: &Device) -> Result<Self> {
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

    /// The training and test sets as a trainer reads them.
    pub(super) fn labelled(&self) -> Labelled<'_> {
        Labelled {
            x_train: &self.x_train,
            y_train: &self.y_train,
            x_test: &self.x_test,
            y_test: &self.y_test,
        }
    }
}

/// The progress bar and per-epoch record of a supervised run (MLP, HebbNet), and the
/// checkpoint it ends in.
pub(super) struct EpochLog {
    started: Instant,
    bar: EpochProgress,
    curve: Vec<f32>,
    epoch_seconds: Vec<f32>,
}

impl EpochLog {
    pub(super) fn new(run: &TrainingRun<'_>, epochs: usize, started: Instant) -> Self {
        Self {
            started,
            bar: EpochProgress::new(&run.preset.model, epochs, run.options.progress),
            curve: Vec::new(),
            epoch_seconds: Vec::new(),
        }
    }

    pub(super) fn record(&mut self, e: MlpEpoch) {
        self.curve.push(e.test_accuracy);
        self.epoch_seconds.push(e.seconds);
        self.bar
            .epoch_done(supervised_message(e.lr, e.loss, e.test_accuracy));
    }

    /// The checkpoint of the trained `layers` (specs and tensors), with the provenance (plus
    /// `extra`) and the test accuracy per epoch.
    pub(super) fn checkpoint(
        self,
        run: &TrainingRun<'_>,
        (preprocess, layers, tensors): (Preprocess, Vec<LayerSpec>, Vec<LayerTensors>),
        extra: serde_json::Value,
    ) -> Checkpoint {
        let TrainingRun {
            preset,
            kind,
            split,
            options,
            ..
        } = *run;
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
        let split = empty_split();
        let run = TrainingRun {
            preset: &preset,
            kind: DatasetKind::Mnist,
            split: &split,
            device: &Device::Cpu,
            options: &options,
        };
        let err = train_model(ModelKind::Cnn, &run).unwrap_err().to_string();
        assert!(err.contains("for model `cnn-fa`, not `cnn`"), "{err}");
        let offered = err.split("written for `cnn`: ").nth(1).unwrap();
        assert!(offered.contains("cnn-mnist"), "{err}");
        assert!(
            !offered.contains("cnn-fa"),
            "presets of cnn-fa offered for cnn: {err}"
        );
    }
}
