//! Which of a frame's ink is the digit: what [`crate::preprocess::frame_like_mnist`] frames.
//!
//! Two parts, both on the ink the paper's plane of light leaves (positive where there is ink):
//!
//! - [`PaperLines`]: marks that run across the whole frame, a ruled or squared page's lines, are
//!   the paper's, not the digit's. Each row's ink that nine tenths of the row reaches, and then
//!   each column's, is taken off every pixel of it. A digit's stroke covers far less of a row, so
//!   it keeps its ink; a line keeps none and is neither framed nor scaled into the digit. A band
//!   of such rows thicker than a line is a stroke that fills the frame, or a shadow, and keeps
//!   its ink.
//! - [`digit_box`]: the digit's box by hysteresis (Canny 1986): the pixels above half the
//!   strongest ink are certainly the digit; the pixels above a quarter of it that come within
//!   three pixels of them, directly or through one another, are the rest of its strokes. Why
//!   not one threshold: a thin or faint pen's strokes are darker where they cross than along
//!   them, so half the strongest ink kept a fragment of the digit (a `4` framed as a `1`); a
//!   quarter, over the whole frame, took a shadow's edge or a page's lines as ink. Why three
//!   pixels: a thin pen's stroke breaks where its ink runs out, and a `9` was framed as its
//!   loop.

use alloc::vec::Vec;

use crate::ink_parts::{INK, InkParts};

use crate::preprocess::histogram_quantile;

/// The share of a row (or column) its ink must reach to be the paper's: a ruled line spans the
/// frame, a digit's stroke, even in a digit that fills the frame, does not.
pub const LINE_SHARE: f32 = 0.9;

/// The thickest a line is, as a share of the frame across it: a digit's stroke that spans the
/// frame (a `1` that fills it) is thicker, about a tenth of the digit.
pub const MAX_LINE_THICKNESS: f32 = 1.0 / 12.0;

/// Where the digit's box is cut, as a share of the way from the paper's noise floor to the
/// strongest ink: certain ink (the seeds) and the ink connected to it.
pub const STRONG_INK: f32 = 0.5;
/// See [`STRONG_INK`]: half of it, Canny's ratio. Lower (0.15) framed more of a thin pen's
/// strokes but took in the residue of a ruled page's lines under a shadow (docs/RESULTS.md,
/// "Framing: a digit smaller than 1 % of the frame, and a thin pen's broken strokes").
pub const WEAK_INK: f32 = 0.25;

/// How far weak ink may be from the digit and still join it (pixels, either axis): 3 jumps a
/// break of two pixels in a stroke, where a thin pen's ink runs out between two darker parts
/// (a `9` was framed as its loop, a `4` as its stem).
pub const JOIN_REACH: usize = 3;

/// Most passes of the region's growth: each pass follows a stroke any length along the scan's
/// directions, so a digit's strokes are joined in two or three; the bound keeps a maze-like
/// frame from costing more than a few scans.
const MAX_GROWTH_PASSES: usize = 8;

/// Ink of the paper's own lines, per row and per column of a frame; empty until measured, and
/// its buffers reused from frame to frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaperLines {
    rows: Vec<f32>,
    columns: Vec<f32>,
}

impl PaperLines {
    /// Measures the lines of a `width x height` frame whose ink at `(x, y)` is `ink(x, y)`:
    /// each row's level that [`LINE_SHARE`] of its pixels reach, then each column's after the
    /// rows' are taken off (ink below zero counts as zero; levels in whole steps of ink).
    /// Allocates only when the frame is larger than any before.
    pub fn measure(&mut self, width: usize, height: usize, ink: impl Fn(usize, usize) -> f32) {
        let mut histogram = [0u32; 256];
        let mut level = |values: &mut dyn Iterator<Item = f32>, count: usize| -> f32 {
            histogram.fill(0);
            for v in values {
                histogram[v.clamp(0.0, 255.0) as usize] += 1;
            }
            histogram_quantile(&histogram, count as u32, 1.0 - LINE_SHARE) as f32
        };
        self.rows.clear();
        for y in 0..height {
            let row = level(&mut (0..width).map(|x| ink(x, y)), width);
            self.rows.push(row);
        }
        keep_thin_bands(&mut self.rows);
        let rows = &self.rows;
        self.columns.clear();
        for x in 0..width {
            let column = level(&mut (0..height).map(|y| ink(x, y) - rows[y]), height);
            self.columns.push(column);
        }
        keep_thin_bands(&mut self.columns);
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        (self.rows.capacity() + self.columns.capacity()) * 4
    }

    /// Grows the buffers to a `width x height` frame, so that measuring it allocates nothing.
    pub fn reserve(&mut self, width: usize, height: usize) {
        self.rows.reserve(height.saturating_sub(self.rows.len()));
        self.columns
            .reserve(width.saturating_sub(self.columns.len()));
    }

    /// The lines' ink at `(x, y)`, to take off the frame's.
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.rows[y] + self.columns[x]
    }
}

/// Zeroes every run of consecutive rows (or columns) with ink of their own that is thicker
/// than a line ([`MAX_LINE_THICKNESS`] of them, at least 3): a stroke that fills the frame, or
/// a shadow, not a line.
fn keep_thin_bands(levels: &mut [f32]) {
    let thickest = ((levels.len() as f32 * MAX_LINE_THICKNESS) as usize).max(3);
    let mut start = 0;
    while start < levels.len() {
        if levels[start] <= 0.0 {
            start += 1;
            continue;
        }
        let end = levels[start..]
            .iter()
            .position(|&v| v <= 0.0)
            .map_or(levels.len(), |n| start + n);
        if end - start > thickest {
            levels[start..end].fill(0.0);
        }
        start = end;
    }
}

/// The box `(x0, y0, x1, y1)` (inclusive) of the digit on a `width x height` frame whose ink at
/// `(x, y)` is `ink(x, y)`: the pixels above `strong` and those above `weak` connected to them,
/// directly or through one another, each within [`JOIN_REACH`] pixels of the next; of that ink,
/// the parts that are the digit's and not the scene's ([`InkParts`]). `None` when no pixel is
/// above `strong`. `region` is a buffer, one byte a pixel, resized only when the frame is
/// larger than any before; it is left with [`crate::ink_parts::KEPT`] on the digit's ink and
/// [`crate::ink_parts::DROPPED`] on the ink of the parts that are not.
pub fn digit_box(
    region: &mut Vec<u8>,
    parts: &mut InkParts,
    width: usize,
    height: usize,
    strong: f32,
    weak: f32,
    ink: impl Fn(usize, usize) -> f32,
) -> Option<(usize, usize, usize, usize)> {
    // 0: not ink, 1: weak ink not (yet) joined, INK: the digit's or the scene's. The seeds'
    // box and the weak ink's box bound every later scan: on a frame of paper, a few hundred
    // pixels of a digit.
    region.clear();
    let (mut seeds, mut weak_ink) = (None, None);
    for y in 0..height {
        for x in 0..width {
            let v = ink(x, y);
            let class = if v > strong {
                seeds = extend(seeds, x, y);
                INK
            } else if v > weak {
                weak_ink = extend(weak_ink, x, y);
                1
            } else {
                0
            };
            region.push(class);
        }
    }
    let seeds = seeds?;
    let region = &mut region[..];
    let grown = weak_ink.map_or(seeds, |weak_ink| {
        grow(region, width, height, weak_ink);
        union(Some(seeds), weak_ink)
    });
    parts.select(region, width, height, grown)
}

/// Joins the weak ink (class 1) within `bounds` to the [`INK`] within [`JOIN_REACH`] of it,
/// directly or through more weak ink, by forward and backward scans until none is left.
fn grow(region: &mut [u8], width: usize, height: usize, bounds: (usize, usize, usize, usize)) {
    let (wx0, wy0, wx1, wy1) = bounds;
    let joins = |region: &mut [u8], x: usize, y: usize| {
        let i = y * width + x;
        if region[i] != 1 {
            return false;
        }
        let (x0, x1) = (
            x.saturating_sub(JOIN_REACH),
            (x + JOIN_REACH).min(width - 1),
        );
        let (y0, y1) = (
            y.saturating_sub(JOIN_REACH),
            (y + JOIN_REACH).min(height - 1),
        );
        let touches = (y0..=y1).any(|yy| (x0..=x1).any(|xx| region[yy * width + xx] == INK));
        if touches {
            region[i] = INK;
        }
        touches
    };
    for _ in 0..MAX_GROWTH_PASSES {
        let mut grew = false;
        for y in wy0..=wy1 {
            for x in wx0..=wx1 {
                grew |= joins(region, x, y);
            }
        }
        for y in (wy0..=wy1).rev() {
            for x in (wx0..=wx1).rev() {
                grew |= joins(region, x, y);
            }
        }
        if !grew {
            break;
        }
    }
}

/// `bounds` (inclusive `x0, y0, x1, y1`, `None` for none yet) grown to hold `(x, y)`.
fn extend(
    bounds: Option<(usize, usize, usize, usize)>,
    x: usize,
    y: usize,
) -> Option<(usize, usize, usize, usize)> {
    Some(union(bounds, (x, y, x, y)))
}

/// The box (inclusive `x0, y0, x1, y1`) holding both `a` (`None` for none) and `b`.
pub(crate) fn union(
    a: Option<(usize, usize, usize, usize)>,
    b: (usize, usize, usize, usize),
) -> (usize, usize, usize, usize) {
    let (x0, y0, x1, y1) = b;
    a.map_or(b, |(ax0, ay0, ax1, ay1)| {
        (ax0.min(x0), ay0.min(y0), ax1.max(x1), ay1.max(y1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`digit_box`] with fresh buffers, weak ink at 25.
    fn digit_box_of(
        width: usize,
        height: usize,
        strong: f32,
        ink: impl Fn(usize, usize) -> f32,
    ) -> Option<(usize, usize, usize, usize)> {
        let mut region = Vec::new();
        digit_box(
            &mut region,
            &mut InkParts::default(),
            width,
            height,
            strong,
            25.0,
            ink,
        )
    }

    #[test]
    fn a_line_across_the_frame_is_the_papers_and_a_stroke_is_not() {
        // 20x10: row 3 ruled across at 60, a vertical stroke at x = 5 of 100 over rows 2..8.
        let ink = |x: usize, y: usize| {
            let line = if y == 3 { 60.0 } else { 0.0 };
            let stroke = if x == 5 && (2..8).contains(&y) {
                100.0
            } else {
                0.0
            };
            line + stroke
        };
        let mut lines = PaperLines::default();
        lines.measure(20, 10, ink);
        assert_eq!(lines.at(10, 3), 60.0, "the ruled row");
        assert_eq!(lines.at(5, 3), 60.0, "the ruled row under the stroke");
        assert_eq!(
            lines.at(5, 5),
            0.0,
            "a stroke covers one column of its rows"
        );
        assert_eq!(lines.at(12, 7), 0.0);
        // A stroke across 80 % of a row (a digit's bar) keeps its ink.
        let bar = |x: usize, y: usize| if y == 4 && x < 16 { 90.0 } else { 0.0 };
        lines.measure(20, 10, bar);
        assert_eq!(lines.at(3, 4), 0.0);
        // A stroke down the whole frame but thicker than a line (a `1` that fills it) keeps
        // its ink; three thin columns are lines.
        let one = |x: usize, _: usize| if (4..12).contains(&x) { 90.0 } else { 0.0 };
        lines.measure(40, 10, one);
        assert_eq!(lines.at(6, 5), 0.0);
        let grid = |x: usize, _: usize| if x % 10 < 3 { 90.0 } else { 0.0 };
        lines.measure(40, 10, grid);
        assert_eq!(lines.at(21, 5), 90.0);
    }

    #[test]
    fn a_faint_stroke_joined_to_strong_ink_is_in_the_box_and_a_loose_one_is_not() {
        // Strong ink at (2, 2); a faint stroke from it along row 2 to x = 9; a faint speck
        // at (15, 8) touching nothing.
        let ink = |x: usize, y: usize| match (x, y) {
            (2, 2) => 100.0,
            (3..=9, 2) => 30.0,
            (15, 8) => 30.0,
            _ => 0.0,
        };
        assert_eq!(digit_box_of(20, 10, 50.0, ink), Some((2, 2, 9, 2)));
        // A faint stroke that turns back toward the seed is followed too (the backward scan).
        let hook = |x: usize, y: usize| match (x, y) {
            (9, 9) => 100.0,
            (9, 0..=8) | (1..=8, 0) | (1, 1..=5) => 30.0,
            _ => 0.0,
        };
        assert_eq!(digit_box_of(12, 10, 50.0, hook), Some((1, 0, 9, 9)));
        assert_eq!(digit_box_of(12, 10, 500.0, hook), None);
    }

    #[test]
    fn a_stroke_broken_by_two_pixels_is_joined_and_one_broken_by_three_is_not() {
        // Strong ink at (2, 2), a faint stroke along row 2 from x = 3 to 6, a break at x = 7
        // and 8, then faint ink again from x = 9 to 12; a second faint run after a break of
        // three pixels (x = 13 to 15) starts at x = 16.
        let ink = |x: usize, y: usize| match (x, y) {
            (2, 2) => 100.0,
            (3..=6 | 9..=12 | 16..=19, 2) => 30.0,
            _ => 0.0,
        };
        assert_eq!(digit_box_of(24, 5, 50.0, ink), Some((2, 2, 12, 2)));
    }
}
