//! The models trained in one supervised loop over centred inputs: the MLPs (backprop, FA,
//! DFA, sign symmetry) and HebbNet (Hebbian layers learning under the loop's readout).

use std::time::Instant;

use plastic_models::{Activation, Checkpoint, LayerKind, LayerSpec, LayerTensors, Weights};
use serde_json::json;

use super::{CentredData, EpochLog, TrainingRun};
use crate::{ModelKind, Result};

/// Trains the preset's MLP (`mlp-bp`, `mlp-fa`, `mlp-dfa`, `mlp-ss`) on `split` and returns its
/// checkpoint.
pub fn train_mlp(run: &TrainingRun<'_>) -> Result<Checkpoint> {
    let TrainingRun {
        preset,
        kind,
        split,
        device,
        options,
    } = *run;
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
    let mut log = EpochLog::new(run, cfg.epochs, started);
    let mlp = crate::mlp::train(&cfg, data.labelled(), options.seed, |e| log.record(e))?;
    let (layers, tensors) = mlp.export()?;
    Ok(log.checkpoint(run, (data.preprocess, layers, tensors), json!({})))
}

/// Trains the preset's HebbNet on `split` and returns its checkpoint: the Hebbian layers as
/// dense ReLU layers without bias, then the linear stack (the runtime runs both as they are).
pub fn train_hebbnet(run: &TrainingRun<'_>) -> Result<Checkpoint> {
    let TrainingRun {
        preset,
        kind,
        split,
        device,
        options,
    } = *run;
    let started = Instant::now();
    let (width, height, channels) = kind.geometry();
    let cfg = preset.hebbnet_config(width * height * channels, kind.classes().len())?;
    // Centred inputs: with all-positive pixels every ReLU of a unit-length row would be on.
    let data = CentredData::new(split, kind, device)?;
    let mut log = EpochLog::new(run, cfg.epochs, started);
    let net = crate::hebbnet::train(&cfg, data.labelled(), options.seed, |e| log.record(e))?;
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
        run,
        (data.preprocess, layers, tensors),
        json!({
            "hebbian_rule": format!("{:?}", cfg.rule),
            "hebbian_layers": hebbian.len(),
        }),
    ))
}
