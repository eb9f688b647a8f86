//! The Krotov models (`krotov`, `krotov-linear`): the unsupervised layer, its activations
//! cached once, the readout on them.

use std::time::Instant;

use plastic_models::{Activation, Checkpoint, LayerKind, LayerSpec, LayerTensors, Weights};
use serde_json::json;

use super::{TrainingRun, mean, model_spec, provenance, supervised_message};
use crate::labelled::Labelled;
use crate::progress::EpochProgress;
use crate::{Result, features, krotov, readout};

/// Trains the preset's Krotov model on `split` and returns its checkpoint.
pub fn train_krotov(run: &TrainingRun<'_>) -> Result<Checkpoint> {
    let TrainingRun {
        preset,
        kind,
        split,
        device,
        options,
    } = *run;
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
    let (y_train, y_test) = (
        features::labels(&split.train),
        features::labels(&split.test),
    );
    let cached = Labelled {
        x_train: &h_train,
        y_train: &y_train,
        x_test: &h_test,
        y_test: &y_test,
    };
    let trained = readout::train(
        cached,
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
