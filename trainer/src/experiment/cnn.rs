//! The CNNs: convolutions and head by backprop (`cnn`), or the convolutions frozen under a
//! head trained by feedback alignment (`cnn-fa`).

use std::time::Instant;

use plastic_models::Checkpoint;
use serde_json::json;

use super::{CentredData, EpochLog, TrainingRun, supervised_message};
use crate::cnn::{Augmentation, ConvConfig, ConvStack, FrozenConvs, TrainedConvs};
use crate::mlp::{Feedback, Mlp, MlpConfig, fit};
use crate::progress::EpochProgress;
use crate::{ModelKind, Result};

/// Trains the preset's CNN on `split` and returns its checkpoint: convolutions and head by
/// backprop (`cnn`); or that for `epochs`, then the convolutions frozen and a fresh head
/// trained by feedback alignment for as many epochs (`cnn-fa`), the test accuracy per epoch
/// being the head's.
pub fn train_cnn(run: &TrainingRun<'_>) -> Result<Checkpoint> {
    let TrainingRun {
        preset,
        kind,
        split,
        device,
        options,
    } = *run;
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
    let head_seed = options.seed.wrapping_add(1);
    let shuffle_seed = options.seed.wrapping_add(7);
    let bp_head = Mlp::new(&sizes, Feedback::Backprop, head_seed, device)?;
    let frozen = ModelKind::from_name(&preset.model) == Some(ModelKind::CnnFa);
    let mut log = EpochLog::new(run, cfg.epochs, started);
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
            data.labelled(),
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
            data.labelled(),
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
            data.labelled(),
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
        run,
        (data.preprocess, layers, tensors),
        if frozen {
            json!({ "backprop_test_accuracy_per_epoch": bp_curve })
        } else {
            json!({})
        },
    ))
}
