//! `plastic export`: a checkpoint in another runtime's format. ONNX (opset 17) is the one
//! format: a graph that takes the pixels `plastic eval` feeds the runtime and computes the
//! runtime's class scores (docs/FORMAT.md, "ONNX"), for ONNX Runtime, TensorRT and the like.

use std::path::PathBuf;

use anyhow::Context;
use plastic_runtime::Model;

use crate::io::{read_checkpoint, write_atomically};

pub mod graph;
pub mod onnx_proto;

/// Formats `plastic export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An ONNX model (IR version 8, opset 17).
    Onnx,
}

/// Arguments of `plastic export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (f32 or int8).
    model: PathBuf,
    /// The output format.
    #[arg(long, value_enum, ignore_case = true, default_value = "onnx")]
    format: Format,
    /// Where to write the exported model.
    #[arg(long)]
    out: PathBuf,
    /// How int8 layers are written: `exact` (the runtime's int8 arithmetic, its answers) or
    /// `dequantize` (f32 layers with the dequantized weights).
    #[arg(long, value_enum, ignore_case = true, default_value = "exact")]
    int8: graph::Int8Mode,
}

/// Runs `plastic export`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    // The same validation the runtime applies, so a file the runtime refuses is not exported.
    Model::from_checkpoint(&ckpt)
        .with_context(|| format!("{} is not a valid plastic checkpoint", args.model.display()))?;
    let bytes = match args.format {
        Format::Onnx => graph::export(&ckpt, args.int8)
            .with_context(|| format!("exporting {}", args.model.display()))?,
    };
    write_atomically(&args.out, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes, ONNX opset {}; input `{}`: [batch, {}] pixels 0..255, output `{}`: [batch, {}] scores)",
        args.out.display(),
        bytes.len(),
        onnx_proto::OPSET,
        graph::INPUT,
        ckpt.spec.input.len(),
        graph::OUTPUT,
        ckpt.spec.output_len(),
    );
    Ok(())
}
