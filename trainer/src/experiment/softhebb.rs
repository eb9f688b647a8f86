//! SoftHebb: one unsupervised epoch in which every convolution block learns by its local rule,
//! then a linear readout trained on the last block's cached features.

use std::time::Instant;

use candle_core::{DType, Tensor};
use plastic_models::{
    Activation, Checkpoint, Conv2d, LayerKind, LayerSpec, LayerTensors, PaddingMode, Preprocess,
    Weights,
};
use serde_json::json;

use super::{EpochLog, TrainingRun};
use crate::mlp::{Feedback, Mlp, MlpConfig, fit};
use crate::softhebb_net::{Block, DropoutFeatures, SoftHebbNet};
use crate::{Error, Result};

/// Rows per forward pass when caching features (a block's patches of 20 CIFAR-10 images are
/// about 18 MB: large enough for the matrix products, small enough for any cache).
const FEATURE_ROWS: usize = 20;

/// Trains the preset's SoftHebb network on `split` and returns its checkpoint: the first
/// block's batch norm as the input's standardisation, each block a convolution (later batch
/// norms folded in: reflected padding makes the fold exact) with the triangle before the
/// pooling, then the linear readout.
pub fn train_softhebb(run: &TrainingRun<'_>) -> Result<Checkpoint> {
    let TrainingRun {
        preset,
        kind,
        split,
        device,
        options,
    } = *run;
    let started = Instant::now();
    let section = preset.softhebb()?;
    let (width, height, channels) = kind.geometry();
    if width != height {
        return Err(Error::Config(format!(
            "SoftHebb's blocks take square images; {} has {width}x{height}",
            kind.name()
        )));
    }
    // Pixels on 0..1: the first block's batch norm standardises them.
    let pixels = |data: &crate::data::Dataset| -> Result<Tensor> {
        let values = crate::features::inputs(data, &Preprocess::Scale01)?;
        Ok(Tensor::from_vec(
            values,
            (data.len(), data.sample_len()),
            device,
        )?)
    };
    let (x_train, x_test) = (pixels(&split.train)?, pixels(&split.test)?);
    let y_train = crate::features::labels(&split.train);
    let y_test = crate::features::labels(&split.test);

    let mut net = SoftHebbNet::new(
        channels,
        width,
        &preset.softhebb_blocks()?,
        options.seed,
        device,
    )?;
    let samples = split.train.len();
    if options.progress {
        eprintln!("softhebb: one unsupervised pass over {samples} images");
    }
    let mut order: Vec<u32> = (0..samples as u32).collect();
    crate::rng::seeded(options.seed.wrapping_add(3)).shuffle(&mut order);
    crate::mlp::for_each_minibatch(&order, section.hebbian_batch, device, |idx| {
        net.learn(&x_train.index_select(idx, 0)?)
    })?;
    if !net.is_finite()? {
        return Err(Error::Diverged(
            "SoftHebb filters are not finite after the unsupervised pass".into(),
        ));
    }
    let unsupervised_seconds = started.elapsed().as_secs_f32();
    if options.progress {
        eprintln!(
            "softhebb: unsupervised pass in {unsupervised_seconds:.0} s; caching the features \
             of {} images",
            samples + split.test.len()
        );
    }

    let cache_start = Instant::now();
    let f_train = net.features_in_chunks(&x_train, FEATURE_ROWS)?;
    let f_test = net.features_in_chunks(&x_test, FEATURE_ROWS)?;
    let cache_seconds = cache_start.elapsed().as_secs_f32();

    let classes = kind.classes().len();
    let cfg = MlpConfig {
        sizes: vec![net.feature_len(), classes],
        // One linear layer: its gradient is the delta rule, local to the layer, so backprop
        // and feedback alignment are the same rule here.
        feedback: Feedback::Backprop,
        epochs: section.epochs,
        batch: section.batch,
        lr0: section.lr0,
        lr_end: section.lr_end,
    };
    let head = Mlp::new(
        &cfg.sizes,
        cfg.feedback,
        options.seed.wrapping_add(1),
        device,
    )?;
    let mut log = EpochLog::new(run, cfg.epochs, started);
    let mut dropout = DropoutFeatures {
        rate: section.dropout as f32,
        rng: plastic_runtime::rng::SplitMix64::new(options.seed.wrapping_add(2)),
    };
    fit(
        &head,
        &cfg,
        &mut dropout,
        crate::labelled::Labelled {
            x_train: &f_train,
            y_train: &y_train,
            x_test: &f_test,
            y_test: &y_test,
        },
        options.seed.wrapping_add(7),
        |e| log.record(e),
    )?;

    let mut layers = Vec::new();
    let mut tensors = Vec::new();
    let mut side = width;
    for (i, block) in net.blocks.iter().enumerate() {
        let (spec, t) = export_block(block, side, i > 0)?;
        side = block.cfg.pool.output_side(side);
        layers.push(spec);
        tensors.push(t);
    }
    // The first block's batch norm is the input's per-channel standardisation: written as the
    // model's preprocessing, the int8 runtime quantizes centred patches. Folded into the
    // filters instead, every patch of raw pixels (all positive) is quantized whole and the bias
    // cancels most of the product, which cost 0.7 points on CIFAR-10.
    let (mean, scale) = net.blocks[0].folding()?;
    let preprocess = Preprocess::MeanStd {
        mean: mean.to_vec1()?,
        std: scale.recip()?.to_vec1()?,
    };
    let (head_layers, head_tensors) = head.export()?;
    layers.extend(head_layers);
    tensors.extend(head_tensors);
    Ok(log.checkpoint(
        run,
        (preprocess, layers, tensors),
        json!({
            "softhebb_blocks": net.blocks.len(),
            "unsupervised_seconds": unsupervised_seconds,
            "feature_cache_seconds": cache_seconds,
        }),
    ))
}

/// A block as a checkpoint layer over a `side x side` input: with `fold`, its running batch
/// norm folded into the filters and bias ([`Block::folded_filters`]); without, the filters as
/// they are and a zero bias (the input comes standardised).
fn export_block(block: &Block, side: usize, fold: bool) -> Result<(LayerSpec, LayerTensors)> {
    let cfg = &block.cfg;
    let (filters, bias) = if fold {
        block.folded_filters()?
    } else {
        let zeros = Tensor::zeros(cfg.out_channels, DType::F32, block.weights.device())?;
        (block.weights.clone(), zeros)
    };
    let conv = cfg.pool.declared_in(Conv2d {
        in_channels: block.in_channels,
        height: side,
        width: side,
        out_channels: cfg.out_channels,
        kernel: cfg.kernel,
        padding: cfg.kernel / 2,
        padding_mode: PaddingMode::Reflect,
        ..Default::default()
    });
    let spec = LayerSpec {
        kind: LayerKind::SoftHebb {
            inv_tau: cfg.inv_tau,
        },
        inputs: conv.input_len(),
        outputs: conv.output_len(),
        bias: true,
        activation: Activation::Triangle { power: cfg.power },
        conv: Some(conv),
    };
    let tensors = LayerTensors {
        weight: Weights::F32(filters.flatten_all()?.to_vec1()?),
        bias: Some(bias.to_vec1()?),
        feedback: None,
    };
    Ok((spec, tensors))
}
