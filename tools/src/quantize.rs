//! `plastic quantize`: int8 weights, one f32 scale per output row (see
//! `plastic_runtime::quant`).
//!
//! The int8 file's `metrics` are its own or none: the f32 file's accuracy describes other
//! weights, and a reader of the int8 file (`plastic inspect`, a device's display) would take it
//! for the int8 model's. `--measure` runs the int8 model on its training dataset's test set and
//! records what it scores.

use std::path::PathBuf;

use plastic_models::{Checkpoint, LayerTensors, Weights};
use plastic_runtime::Model;
use plastic_runtime::quant::quantize_rows;
use plastic_trainer::data::DatasetKind;
use serde_json::json;

use crate::dataset::{self, Score};
use crate::io::{print_stdout, read_checkpoint, write_atomically};

/// Arguments of `plastic quantize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The f32 checkpoint.
    model: PathBuf,
    /// Where to write the int8 checkpoint.
    #[arg(long)]
    out: PathBuf,
    /// Measure the int8 model's test accuracy (on the dataset it was trained on) and record it
    /// as the file's metrics; without it the int8 file has no metrics.
    #[arg(long)]
    measure: bool,
    /// With --measure: this test set instead of the recorded dataset's.
    #[arg(long, value_enum, ignore_case = true, requires = "measure")]
    dataset: Option<DatasetKind>,
    /// With --measure: folder holding the dataset's folder; defaults to $PLASTIC_DATA or
    /// ../shared/data.
    #[arg(long, requires = "measure")]
    data_dir: Option<PathBuf>,
    /// Print what was written (path, bytes, the int8 file's metrics) as one JSON object.
    #[arg(long)]
    json: bool,
}

/// The `metrics` of an int8 checkpoint that scored `score` on `kind`'s test set.
pub fn int8_metrics(kind: DatasetKind, score: Score) -> serde_json::Value {
    json!({
        "test_accuracy": score.accuracy(),
        "correct": score.correct,
        "test_samples": score.samples,
        "dataset": kind.name(),
        "precision": "int8",
    })
}

/// Quantizes every f32 layer of `ckpt`; int8 layers stay as they are. Feedback matrices are
/// training state, not needed for inference, and are dropped. The metrics are left empty
/// (`null`): they belong to the weights they were measured on (see [`int8_metrics`]).
pub fn quantize(ckpt: &Checkpoint) -> Checkpoint {
    let layers = ckpt
        .layers
        .iter()
        .zip(&ckpt.spec.layers)
        .map(|(layer, spec)| {
            let weight = match &layer.weight {
                Weights::F32(w) => {
                    let mut q = vec![0i8; w.len()];
                    let [rows, cols] = spec.weight_matrix();
                    let mut scale = vec![0.0f32; rows];
                    quantize_rows(w, cols, &mut q, &mut scale);
                    Weights::Int8 { q, scale }
                }
                int8 => int8.clone(),
            };
            LayerTensors {
                weight,
                bias: layer.bias.clone(),
                feedback: None,
            }
        })
        .collect();
    let mut train = ckpt.train.clone();
    if let Some(map) = train.as_object_mut() {
        map.insert(
            "quantized".into(),
            serde_json::json!("int8 weights, f32 scale per output row"),
        );
    }
    Checkpoint {
        spec: ckpt.spec.clone(),
        layers,
        train,
        metrics: serde_json::Value::Null,
    }
}

/// Runs `plastic quantize`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    let mut int8 = quantize(&ckpt);
    if args.measure {
        let choice = dataset::choose(&ckpt, args.dataset)?;
        if let Some(note) = &choice.note {
            eprintln!("{note}");
        }
        let model = Model::from_checkpoint(&int8)?;
        let test = dataset::test_set(&model, choice.kind, args.data_dir.as_deref(), None)?;
        let score = dataset::score(&model, &test)?;
        eprintln!(
            "int8 test accuracy {:.2} % of {} {} test images",
            score.accuracy() * 100.0,
            score.samples,
            choice.kind.name()
        );
        int8.metrics = int8_metrics(choice.kind, score);
    } else if !ckpt.metrics.is_null() {
        eprintln!(
            "note: the int8 file has no metrics (the f32 file's are not its own); \
             pass --measure to record its test accuracy"
        );
    }
    let bytes = int8.to_bytes()?;
    write_atomically(&args.out, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes, from {})",
        args.out.display(),
        bytes.len(),
        args.model.display()
    );
    if args.json {
        let summary = json!({
            "out": args.out.display().to_string(),
            "from": args.model.display().to_string(),
            "bytes": bytes.len(),
            "metrics": int8.metrics,
        });
        print_stdout(&format!("{summary}\n"))?;
    }
    Ok(())
}
