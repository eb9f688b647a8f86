//! `plastic viz`: pictures of what a model learned.

use std::path::PathBuf;

use anyhow::{Context, bail};
use image::{Rgb, RgbImage};
use plastic_models::{Checkpoint, Weights};

use crate::chart::{Axes, accuracy_chart};
use crate::io::{read_checkpoint, write_atomically};

/// `plastic viz` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The receptive fields of the first layer as a grid of images, as in Krotov & Hopfield's
    /// figure: red positive, blue negative, each field scaled by its largest magnitude.
    Fields(FieldsArgs),
    /// Accuracy over frames of `plastic-sim` runs, one line per run, the camera's shift
    /// shaded: from `--json` summaries (named by their adaptation mode) or `--frames-log`
    /// files (named by their file name; a learning device's log adds the shipped model's line
    /// on the same frames, what a frozen device would have scored).
    Frames(FramesArgs),
}

/// Arguments of `plastic viz frames`.
#[derive(Debug, clap::Args)]
pub struct FramesArgs {
    /// `plastic-sim --json` summaries or `--frames-log` files (one file per device).
    #[arg(required = true)]
    summaries: Vec<PathBuf>,
    /// Where to write the SVG.
    #[arg(long)]
    out: PathBuf,
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
        Command::Frames(a) => {
            let mut runs = Vec::new();
            for path in &a.summaries {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("could not read {}", path.display()))?;
                if let Ok(summary) = serde_json::from_str(&text) {
                    runs.push(summary);
                    continue;
                }
                let name = path
                    .file_stem()
                    .map_or("run".into(), |n| n.to_string_lossy());
                runs.extend(summaries_from_frames_log(&text, &name).with_context(|| {
                    format!(
                        "{} is neither a plastic-sim --json summary nor a --frames-log file",
                        path.display()
                    )
                })?);
            }
            let svg = frames_chart(&runs)?;
            write_atomically(&a.out, svg.as_bytes())?;
            eprintln!("wrote {}", a.out.display());
            Ok(())
        }
    }
}

/// Frames per point when a chart is drawn from a frames log.
const LOG_BLOCK_FRAMES: u64 = 100;

/// One block of a frames log's labelled frames, counted.
#[derive(Debug, Clone, Copy, Default)]
struct LogBlock {
    /// Frames with a label.
    labelled: u64,
    /// Of those, the ones the device answered right.
    device_right: u64,
    /// The ones the shipped model (the anchor) answered right.
    shipped_right: u64,
    /// The ones the log has the shipped model's answer for.
    shipped_answered: u64,
}

/// A `--frames-log` file (one JSON object per frame) as the parts of a summary that
/// [`frames_chart`] reads: accuracy per block of [`LOG_BLOCK_FRAMES`] frames, the shifted
/// frames' span, and `name` as the run's name. When the log holds the shipped model's answers
/// (a learning device runs it beside itself as its anchor), a second summary follows: that
/// model's accuracy on the same frames, what a frozen device would have scored, so one run
/// shows what the learning won or cost.
pub fn summaries_from_frames_log(text: &str, name: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut blocks: Vec<LogBlock> = Vec::new();
    let (mut first_shifted, mut last_shifted) = (None, None);
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let record: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("line {} is not JSON", n + 1))?;
        let frame = record["frame"]
            .as_u64()
            .with_context(|| format!("line {} has no frame index", n + 1))?;
        let block = usize::try_from(frame / LOG_BLOCK_FRAMES)?;
        if block >= 1 << 24 {
            bail!("line {}: frame index {frame} is implausibly large", n + 1);
        }
        if blocks.len() <= block {
            blocks.resize(block + 1, LogBlock::default());
        }
        if let Some(right) = record["correct"].as_bool() {
            let b = &mut blocks[block];
            b.labelled += 1;
            b.device_right += u64::from(right);
            let shipped = record["anchor"]["prediction"].as_u64();
            if let (Some(shipped), Some(label)) = (shipped, record["label"].as_u64()) {
                b.shipped_right += u64::from(shipped == label);
                b.shipped_answered += 1;
            }
        }
        if record["shifted"] == true {
            first_shifted.get_or_insert(frame);
            last_shifted = Some(frame);
        }
    }
    if blocks.is_empty() {
        bail!("no frames in the log");
    }
    let shift = first_shifted.zip(last_shifted).map(|(a, b)| [a, b + 1]);
    let summary = |name: String, right: fn(&LogBlock) -> u64| {
        let accuracy: Vec<Option<f64>> = blocks
            .iter()
            .map(|b| (b.labelled > 0).then(|| right(b) as f64 / b.labelled as f64))
            .collect();
        serde_json::json!({
            "adapt": name,
            "shift": shift,
            "accuracy_per_block": {"frames": LOG_BLOCK_FRAMES, "accuracy": accuracy},
        })
    };
    let mut runs = vec![summary(name.to_string(), |b| b.device_right)];
    // The shipped model's line only where it answered every labelled frame of the log.
    if blocks.iter().all(|b| b.shipped_answered == b.labelled)
        && blocks.iter().any(|b| b.shipped_answered > 0)
    {
        runs.push(summary(format!("{name}: shipped model (frozen)"), |b| {
            b.shipped_right
        }));
    }
    Ok(runs)
}

/// The chart of `plastic viz frames` for the given summaries.
pub fn frames_chart(runs: &[serde_json::Value]) -> anyhow::Result<String> {
    let mut curves = Vec::new();
    let mut block = None;
    for run in runs {
        let per_block = &run["accuracy_per_block"];
        let (Some(frames), Some(points)) = (
            per_block["frames"].as_u64(),
            per_block["accuracy"].as_array(),
        ) else {
            bail!("a summary has no `accuracy_per_block`: rerun plastic-sim with --json");
        };
        if *block.get_or_insert(frames) != frames {
            bail!("the summaries use different block sizes ({frames} and {block:?} frames)");
        }
        let name = run["adapt"].as_str().unwrap_or("run");
        curves.push((name, points.iter().map(|v| v.as_f64()).collect::<Vec<_>>()));
    }
    let block = block.unwrap_or(1).max(1) as f64;
    let band = runs[0]["shift"].as_array().and_then(|r| {
        let (start, end) = (r.first()?.as_f64()?, r.get(1)?.as_f64()?);
        Some((start / block, end / block))
    });
    let x_label = format!("frame (accuracy per block of {block} frames)");
    Ok(accuracy_chart(
        &curves,
        &Axes {
            x_label: &x_label,
            band,
            band_label: "camera shifted",
        },
    ))
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
    // A convolution's fields are its filters: `kernel x kernel`, RGB ones in colour.
    let (w, h, colour_filters) = match &layer.conv {
        Some(conv) => (conv.kernel, conv.kernel, c == 3),
        None => (w, h, false),
    };
    let row_of = |mu: usize| -> Vec<f32> {
        let n = layer.weight_matrix()[1];
        match &ckpt.layers[0].weight {
            Weights::F32(wt) => wt[mu * n..(mu + 1) * n].to_vec(),
            Weights::Int8 { q, scale } => q[mu * n..(mu + 1) * n]
                .iter()
                .map(|&v| f32::from(v) * scale[mu])
                .collect(),
        }
    };
    let count = count.min(layer.rows()).max(1);
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
                let at = |ch: usize| field[ch * w * h + y * w + x];
                let colour = if colour_filters {
                    // Mid-gray for zero, each channel's sign and size as its own colour.
                    let level = |ch: usize| (127.5 + 127.5 * at(ch) / max).clamp(0.0, 255.0) as u8;
                    Rgb([level(0), level(1), level(2)])
                } else {
                    // RGB images' fields are shown by their mean over channels (planar layout).
                    diverging((0..c).map(at).sum::<f32>() / c as f32 / max)
                };
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_chart_draws_each_run_and_shades_the_shift() {
        let run = |adapt: &str, acc: [f64; 4]| {
            json!({"adapt": adapt, "shift": [200, 400],
                   "accuracy_per_block": {"frames": 100, "accuracy": acc}})
        };
        let svg = frames_chart(&[
            run("off", [0.9, 0.9, 0.6, 0.6]),
            run("labels:0.05", [0.9, 0.9, 0.7, 0.8]),
        ])
        .unwrap();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">off</text>") && svg.contains(">labels:0.05</text>"));
        assert!(svg.contains(">camera shifted</text>"), "{svg}");
        let err = frames_chart(&[json!({"frames": 3})]).unwrap_err();
        assert!(err.to_string().contains("accuracy_per_block"), "{err}");
    }

    #[test]
    fn a_frames_log_becomes_accuracy_per_block_and_its_shift() {
        // 250 frames: the first 100 all right, the next 100 half right and shifted from 150,
        // the last 50 unlabelled.
        let mut log = String::new();
        for i in 0..250u64 {
            let correct = match i {
                0..100 => json!(true),
                100..200 => json!(i % 2 == 0),
                _ => json!(null),
            };
            let line = json!({"frame": i, "correct": correct, "shifted": (150..200).contains(&i)});
            log.push_str(&format!("{line}\n"));
        }
        let runs = summaries_from_frames_log(&log, "mine").unwrap();
        assert_eq!(runs.len(), 1, "no shipped model's answers: one line");
        let s = runs[0].clone();
        assert_eq!(s["adapt"], "mine");
        assert_eq!(s["shift"], json!([150, 200]));
        assert_eq!(s["accuracy_per_block"]["accuracy"], json!([1.0, 0.5, null]));
        assert_eq!(frames_chart(&[s]).unwrap().matches("<polyline").count(), 1);
        assert!(summaries_from_frames_log("", "x").is_err());
        assert!(summaries_from_frames_log("{\"frame\": \"a\"}", "x").is_err());
        assert!(summaries_from_frames_log("garbage", "x").is_err());
        assert!(summaries_from_frames_log("{\"frame\": 18446744073709551615}", "x").is_err());
    }

    #[test]
    fn a_learning_devices_log_also_draws_the_shipped_model_on_the_same_frames() {
        // 200 labelled frames of class 1: the device right on all, the shipped model on the
        // first 100 and on every fourth of the next 100.
        let mut log = String::new();
        for i in 0..200u64 {
            let shipped = if i < 100 || i % 4 == 0 { 1 } else { 7 };
            let line = json!({"frame": i, "label": 1, "prediction": 1, "correct": true,
                "shifted": i >= 100, "anchor": {"prediction": shipped, "confidence": 0.9}});
            log.push_str(&format!("{line}\n"));
        }
        let runs = summaries_from_frames_log(&log, "labels").unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0]["accuracy_per_block"]["accuracy"], json!([1.0, 1.0]));
        assert_eq!(runs[1]["adapt"], "labels: shipped model (frozen)");
        assert_eq!(
            runs[1]["accuracy_per_block"]["accuracy"],
            json!([1.0, 0.25])
        );
        assert_eq!(runs[1]["shift"], json!([100, 200]));
        assert_eq!(frames_chart(&runs).unwrap().matches("<polyline").count(), 2);
    }
}
