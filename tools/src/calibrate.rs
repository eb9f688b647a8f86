//! `plastic calibrate`: measures a convolutional model's channel statistics on its training
//! images and saves them with the model, as the reference a learning device aligns its
//! channels to (see `plastic_runtime::channel_stats`).
//!
//! Without them a device takes its first frames as the reference, which is right only when it
//! starts where the model was trained; with them it aligns from its first frame, whatever the
//! camera shows. The weights, the spec and the metrics are left as they are: a frozen model
//! computes exactly what it computed before.

use std::path::PathBuf;

use anyhow::Context;
use plastic_models::Checkpoint;
use plastic_runtime::Model;
use plastic_runtime::adaptive::ON_DEVICE;
use plastic_runtime::channel_stats::ChannelAlignment;
use plastic_runtime::preprocess::normalize;
use plastic_trainer::data::DatasetKind;
use serde_json::json;

use crate::dataset;
use crate::io::{print_stdout, read_checkpoint, write_atomically};

/// Training images measured by default: the moments of a channel settle within a small
/// fraction of their spread long before that.
const DEFAULT_IMAGES: usize = 10_000;

/// Arguments of `plastic calibrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (f32 or int8): the model as the device will run it.
    model: PathBuf,
    /// Where to write the calibrated checkpoint (may be the model's own path).
    #[arg(long)]
    out: PathBuf,
    /// Training images to measure on; default: the dataset the checkpoint records it was
    /// trained on.
    #[arg(long, value_enum, ignore_case = true)]
    dataset: Option<DatasetKind>,
    /// Folder holding the dataset's folder; defaults to $PLASTIC_DATA or ../shared/data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Measure the first N training images.
    #[arg(long, default_value_t = DEFAULT_IMAGES)]
    images: usize,
    /// Print what was written as one JSON object.
    #[arg(long)]
    json: bool,
}

/// `train` (a checkpoint's provenance) with `reference` (what [`ChannelAlignment::to_json`]
/// writes) as the channels' reference under `on_device`, keeping whatever else is there.
pub fn with_channel_reference(
    mut train: serde_json::Value,
    reference: serde_json::Value,
) -> serde_json::Value {
    if !train.is_object() {
        train = json!({});
    }
    if !train[ON_DEVICE].is_object() {
        train[ON_DEVICE] = json!({});
    }
    train[ON_DEVICE]["channels"] = reference;
    train
}

/// Runs `plastic calibrate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    let model = Model::from_checkpoint(&ckpt)
        .with_context(|| format!("{} is not a valid plastic checkpoint", args.model.display()))?;
    if args.images == 0 {
        anyhow::bail!("--images 0 measures nothing; pass at least 1");
    }
    let choice = dataset::choose(&ckpt, args.dataset)?;
    if let Some(note) = &choice.note {
        eprintln!("{note}");
    }
    let kind = choice.kind;
    let train = dataset::train_set(&model, kind, args.data_dir.as_deref(), args.images)?;
    let preprocess = &model.spec().input.preprocess;
    // Each image is preprocessed as it is measured, so only one is held at a time.
    let mut refused = None;
    let inputs = (0..train.len()).map_while(|i| {
        let mut input = vec![0.0f32; train.sample_len()];
        match normalize(train.image(i), preprocess, &mut input) {
            Ok(()) => Some(input),
            Err(e) => {
                refused = Some(e);
                None
            }
        }
    });
    let measured = ChannelAlignment::measure(&model, inputs);
    if let Some(e) = refused {
        return Err(e.into());
    }
    let alignment = measured?.with_context(|| {
        format!(
            "{} has no convolution: there are no channel statistics to measure",
            args.model.display()
        )
    })?;
    let calibrated = Checkpoint {
        train: with_channel_reference(ckpt.train.clone(), alignment.to_json()),
        ..ckpt
    };
    let bytes = calibrated.to_bytes()?;
    write_atomically(&args.out, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes): the channel statistics of {} {} training images",
        args.out.display(),
        bytes.len(),
        train.len(),
        kind.name()
    );
    if args.json {
        let summary = json!({
            "out": args.out.display().to_string(),
            "from": args.model.display().to_string(),
            "bytes": bytes.len(),
            "images": train.len(),
            "dataset": kind.name(),
        });
        print_stdout(&format!("{summary}\n"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_joins_what_the_device_state_already_holds() {
        let train = json!({ "kind": "softhebb", ON_DEVICE: { "guard": { "rolled_back": 1 } } });
        let out = with_channel_reference(train, json!({ "reference": [] }));
        assert_eq!(out["kind"], "softhebb");
        assert_eq!(out[ON_DEVICE]["guard"]["rolled_back"], 1);
        assert_eq!(out[ON_DEVICE]["channels"]["reference"], json!([]));
        let fresh = with_channel_reference(serde_json::Value::Null, json!({ "reference": [] }));
        assert_eq!(fresh[ON_DEVICE]["channels"]["reference"], json!([]));
    }
}
