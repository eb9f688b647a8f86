//! `plastic viz`: pictures of what a model learned.

use std::path::PathBuf;

use anyhow::{Context, bail};
use image::{Rgb, RgbImage};
use plastic_models::{Checkpoint, Weights};

use crate::io::read_checkpoint;

/// `plastic viz` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The receptive fields of the first layer as a grid of images, as in Krotov & Hopfield's
    /// figure: red positive, blue negative, each field scaled by its largest magnitude.
    Fields(FieldsArgs),
}

/// Arguments of `plastic viz fields`.
#[derive(Debug, clap::Args)]
pub struct FieldsArgs {
    /// The checkpoint.
    model: PathBuf,
    /// Where to write the PNG.
    #[arg(long)]
    out: PathBuf,
    /// Fields per row of the grid.
    #[arg(long, default_value_t = 10)]
    columns: usize,
    /// How many fields to draw (the first units of the layer).
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// Pixels per weight.
    #[arg(long, default_value_t = 3)]
    zoom: u32,
}

/// Runs a `plastic viz` subcommand.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Fields(a) => {
            let ckpt = read_checkpoint(&a.model)?;
            let img = fields(&ckpt, a.count, a.columns.max(1), a.zoom.max(1))?;
            img.save(&a.out)
                .with_context(|| format!("could not write {}", a.out.display()))?;
            eprintln!("wrote {}", a.out.display());
            Ok(())
        }
    }
}

/// Diverging colour of `v` in -1..=1: white at 0, red for positive, blue for negative.
fn diverging(v: f32) -> Rgb<u8> {
    let t = v.clamp(-1.0, 1.0);
    let fade = (255.0 * (1.0 - t.abs())) as u8;
    if t >= 0.0 {
        Rgb([255, fade, fade])
    } else {
        Rgb([fade, fade, 255])
    }
}

/// Draws the first `count` rows of layer 0 as `width x height` fields in a grid.
pub fn fields(
    ckpt: &Checkpoint,
    count: usize,
    columns: usize,
    zoom: u32,
) -> anyhow::Result<RgbImage> {
    let input = &ckpt.spec.input;
    let layer = &ckpt.spec.layers[0];
    let (w, h, c) = (input.width, input.height, input.channels);
    if c != 1 && c != 3 {
        bail!("fields are drawn for gray or RGB inputs, not {c} channels");
    }
    let row_of = |mu: usize| -> Vec<f32> {
        let n = layer.inputs;
        match &ckpt.layers[0].weight {
            Weights::F32(wt) => wt[mu * n..(mu + 1) * n].to_vec(),
            Weights::Int8 { q, scale } => q[mu * n..(mu + 1) * n]
                .iter()
                .map(|&v| f32::from(v) * scale[mu])
                .collect(),
        }
    };
    let count = count.min(layer.outputs).max(1);
    let rows = count.div_ceil(columns);
    let cell = |d: usize| d as u32 * zoom + 2;
    let mut img = RgbImage::from_pixel(
        cell(w) * columns as u32,
        cell(h) * rows as u32,
        Rgb([40, 40, 40]),
    );
    for mu in 0..count {
        let field = row_of(mu);
        let max = field.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
        let (ox, oy) = (
            (mu % columns) as u32 * cell(w) + 1,
            (mu / columns) as u32 * cell(h) + 1,
        );
        for y in 0..h {
            for x in 0..w {
                // RGB fields are shown by their mean over channels (planar layout).
                let v = (0..c).map(|ch| field[ch * w * h + y * w + x]).sum::<f32>() / c as f32;
                let colour = diverging(v / max);
                for dy in 0..zoom {
                    for dx in 0..zoom {
                        img.put_pixel(ox + x as u32 * zoom + dx, oy + y as u32 * zoom + dy, colour);
                    }
                }
            }
        }
    }
    Ok(img)
}
