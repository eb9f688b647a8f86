//! `plastic eval`: test accuracy of a checkpoint as the device computes it — by the runtime,
//! from raw dataset bytes through the spec's preprocessing, in the checkpoint's precision —
//! on the dataset the checkpoint was trained on unless `--dataset` says otherwise.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use plastic_runtime::Model;
use plastic_trainer::data::DatasetKind;
use serde_json::json;

use crate::dataset;
use crate::io::{print_stdout, read_checkpoint};

/// Arguments of `plastic eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (f32 or int8).
    model: PathBuf,
    /// Test set; default: the dataset the checkpoint records it was trained on (a warning on
    /// stderr when this differs).
    #[arg(long, value_enum, ignore_case = true)]
    dataset: Option<DatasetKind>,
    /// Folder holding the dataset's folder; defaults to $PLASTIC_DATA or ../shared/data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Evaluate the first N test samples only.
    #[arg(long)]
    limit: Option<usize>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs `plastic eval`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    let model = Model::from_checkpoint(&ckpt)
        .with_context(|| format!("{} is not a valid plastic checkpoint", args.model.display()))?;
    let choice = dataset::choose(&ckpt, args.dataset)
        .with_context(|| format!("evaluating {}", args.model.display()))?;
    if let Some(note) = &choice.note {
        eprintln!("{note}");
    }
    let kind = choice.kind;
    let test = dataset::test_set(&model, kind, args.data_dir.as_deref(), args.limit)
        .with_context(|| format!("evaluating {}", args.model.display()))?;
    let start = Instant::now();
    let score = dataset::score(&model, &test)?;
    let accuracy = score.accuracy();
    let precision = match model.precision() {
        plastic_runtime::Precision::F32 => "f32",
        plastic_runtime::Precision::Int8 => "int8",
    };
    let text = if args.json {
        format!(
            "{}\n",
            json!({
                "accuracy": accuracy,
                "samples": score.samples,
                "correct": score.correct,
                "precision": precision,
                "dataset": kind.name(),
                "model": args.model.display().to_string(),
                "seconds": start.elapsed().as_secs_f64(),
            })
        )
    } else {
        format!(
            "{}: {:.2} % of {} {} test images ({precision}, runtime)\n",
            args.model.display(),
            accuracy * 100.0,
            score.samples,
            kind.name()
        )
    };
    print_stdout(&text)
}
