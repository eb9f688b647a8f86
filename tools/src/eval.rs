//! `plastic eval`: test accuracy of a checkpoint as the device computes it — by the runtime,
//! from raw dataset bytes through the spec's preprocessing, in the checkpoint's precision.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use plastic_runtime::Model;
use plastic_trainer::data::{self, DatasetKind};
use plastic_trainer::features::runtime_correct_count;
use serde_json::json;

use crate::io::{print_stdout, read_bytes};

/// Arguments of `plastic eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (f32 or int8).
    model: PathBuf,
    /// mnist, fashion-mnist or cifar10.
    #[arg(long, default_value = "mnist")]
    dataset: String,
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
    let model = Model::from_bytes(&read_bytes(&args.model)?)
        .with_context(|| format!("{} is not a valid plastic checkpoint", args.model.display()))?;
    let kind = DatasetKind::parse(&args.dataset)?;
    let (w, h, c) = kind.geometry();
    if w * h * c != model.spec().input_len() {
        anyhow::bail!(
            "{} takes {} inputs but {} images have {}",
            args.model.display(),
            model.spec().input_len(),
            kind.name(),
            w * h * c
        );
    }
    let mut test = data::load(kind, &data::dataset_folder(kind, args.data_dir.as_deref())?)?.test;
    if let Some(limit) = args.limit {
        test = test.take(limit);
    }
    let start = Instant::now();
    let correct = runtime_correct_count(&model, &test)?;
    let accuracy = correct as f64 / test.len().max(1) as f64;
    let precision = match model.precision() {
        plastic_runtime::Precision::F32 => "f32",
        plastic_runtime::Precision::Int8 => "int8",
    };
    let text = if args.json {
        format!(
            "{}\n",
            json!({
                "accuracy": accuracy,
                "samples": test.len(),
                "correct": correct,
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
            test.len(),
            kind.name()
        )
    };
    print_stdout(&text)
}
