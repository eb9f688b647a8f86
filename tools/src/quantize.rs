//! `plastic quantize`: int8 weights, one f32 scale per output row (see
//! `plastic_runtime::quant`).

use std::path::PathBuf;

use plastic_models::{Checkpoint, LayerTensors, Weights};
use plastic_runtime::quant::quantize_rows;

use crate::io::{read_checkpoint, write_atomically};

/// Arguments of `plastic quantize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The f32 checkpoint.
    model: PathBuf,
    /// Where to write the int8 checkpoint.
    #[arg(long)]
    out: PathBuf,
}

/// Quantizes every f32 layer of `ckpt`; int8 layers stay as they are. Feedback matrices are
/// training state, not needed for inference, and are dropped.
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
        metrics: ckpt.metrics.clone(),
    }
}

/// Runs `plastic quantize`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    let bytes = quantize(&ckpt).to_bytes()?;
    write_atomically(&args.out, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes, from {})",
        args.out.display(),
        bytes.len(),
        args.model.display()
    );
    Ok(())
}
