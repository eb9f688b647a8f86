//! `plastic inspect`: what a checkpoint holds.

use std::fmt::Write;
use std::path::PathBuf;

use plastic_models::{Integrity, Weights};
use serde_json::json;

use crate::io::{print_stdout, read_checkpoint_with_integrity};

/// Arguments of `plastic inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint.
    model: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs `plastic inspect`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (ckpt, integrity) = read_checkpoint_with_integrity(&args.model)?;
    // A file that loaded matches each checksum it records.
    let status = |checked: &Option<String>| match checked {
        Some(value) => format!("ok ({value})"),
        None => "none (written before checksums)".to_string(),
    };
    let Integrity { tensors, metadata } = &integrity;
    let (checksum, checksum_text) = (json!(tensors), status(tensors));
    let (metadata_checksum, metadata_text) = (json!(metadata), status(metadata));
    let bytes = std::fs::metadata(&args.model)?.len();
    let layers: Vec<_> = ckpt
        .spec
        .layers
        .iter()
        .zip(&ckpt.layers)
        .map(|(spec, t)| {
            let (precision, values) = match &t.weight {
                Weights::F32(w) => ("f32", w.len()),
                Weights::Int8 { q, .. } => ("int8", q.len()),
            };
            json!({
                "kind": spec.kind,
                "shape": spec.weight_shape(),
                "conv": spec.conv,
                "bias": spec.bias,
                "activation": spec.activation,
                "precision": precision,
                "weights": values,
                "feedback": t.feedback.is_some(),
            })
        })
        .collect();
    let report = json!({
        "file": args.model.display().to_string(),
        "bytes": bytes,
        "format": plastic_models::keys::FORMAT,
        "checksum": checksum,
        "metadata_checksum": metadata_checksum,
        "name": ckpt.spec.name,
        "input": ckpt.spec.input,
        "classes": ckpt.spec.classes,
        "layers": layers,
        "train": ckpt.train,
        "metrics": ckpt.metrics,
    });
    if args.json {
        return print_stdout(&format!("{report}\n"));
    }
    let mut text = format!(
        "{} ({bytes} bytes, {})\n",
        args.model.display(),
        plastic_models::keys::FORMAT
    );
    let _ = writeln!(text, "checksum: {checksum_text}");
    let _ = writeln!(text, "metadata checksum: {metadata_text}");
    let _ = writeln!(text, "model   {}", ckpt.spec.name);
    let _ = writeln!(
        text,
        "input   {}x{}x{}, {}",
        ckpt.spec.input.width,
        ckpt.spec.input.height,
        ckpt.spec.input.channels,
        serde_json::to_string(&ckpt.spec.input.preprocess)?
    );
    for (i, l) in layers.iter().enumerate() {
        let _ = writeln!(
            text,
            "layer {i} {} {} {} activation {} bias {}",
            l["kind"], l["shape"], l["precision"], l["activation"], l["bias"]
        );
    }
    let _ = writeln!(text, "train   {}", ckpt.train);
    let _ = writeln!(text, "metrics {}", ckpt.metrics);
    print_stdout(&text)
}
