//! Turns a framed digit and thickens or thins its strokes, then frames it again the way MNIST
//! was made: what [`crate::digit_align::DigitAlignment`] does to undo a camera's tilt or a
//! pen's width before the model sees the digit.
//!
//! Why on the framed 28x28 digit and not on the camera frame: the framing has already found
//! the digit, removed the light and scaled it, so the stroke width and the slant are measured
//! and corrected on one scale whatever the camera's resolution, in a fixed, small buffer.

use alloc::vec;
use alloc::vec::Vec;

use crate::digit_align::digit_stats;
use crate::preprocess::{place_by_centre_of_mass, resize_area_mapped};

/// Side of the square the digit is turned into: wide enough that a 20x20 box turned by any
/// angle, with its strokes widened, stays inside.
const CANVAS: usize = 40;
/// The most stroke width a warp adds or removes, in pixels of the 28x28 field: beyond it the
/// strokes of a digit merge or vanish, which no later step undoes.
pub const MAX_WIDTH_CHANGE: f32 = 3.0;
/// Pixels of the canvas kept around the ink's box when it is framed again.
const MARGIN: usize = 2;
/// Tries after the first at the stroke width asked for (see [`DigitWarper::apply`]).
const REFINEMENTS: usize = 2;

/// A change of a framed digit's geometry.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Warp {
    /// Radians added to the angle of the digit's strokes from the vertical (see
    /// [`crate::digit_align::DigitStats::angle`]): positive turns the top of a vertical
    /// stroke to the left on the screen (x right, y down).
    pub angle: f32,
    /// Pixels added to the width of every stroke (negative thins them), clamped to
    /// [`MAX_WIDTH_CHANGE`] either way.
    pub width: f32,
}

impl Warp {
    /// Whether the warp changes nothing.
    pub fn is_identity(&self) -> bool {
        self.angle == 0.0 && self.width == 0.0
    }
}

/// The buffers of [`DigitWarper::apply`], allocated once.
#[derive(Debug, Clone)]
pub struct DigitWarper {
    turned: Vec<f32>,
    canvas: Vec<f32>,
    scratch: Vec<f32>,
    bytes: Vec<u8>,
}

impl Default for DigitWarper {
    fn default() -> Self {
        Self::new()
    }
}

impl DigitWarper {
    /// Allocates the buffers (about 21 KB).
    pub fn new() -> Self {
        Self {
            turned: vec![0.0; CANVAS * CANVAS],
            canvas: vec![0.0; CANVAS * CANVAS],
            scratch: vec![0.0; CANVAS * CANVAS],
            bytes: vec![0; CANVAS * CANVAS],
        }
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.canvas.len() * 12 + self.bytes.len()
    }

    /// `digit` (28x28, light ink on black) turned about its centre of mass by `warp.angle`,
    /// its strokes widened by `warp.width`, then framed again: the ink's box (pixels above half
    /// the strongest) scaled into 20x20 with its aspect kept and its centre of mass at the
    /// field's centre, its strongest ink as strong as the digit's. Allocates nothing. An empty
    /// digit gives an empty field.
    ///
    /// Framing again scales a widened digit down (its box grew) and a thinned one up, which
    /// takes back part of the change; so the width is measured after each try
    /// ([`digit_stats`]) and the morphology redone, scaled by what the try achieved, up to
    /// twice.
    pub fn apply(&mut self, digit: &[u8; 784], warp: Warp, out: &mut [u8; 784]) {
        out.fill(0);
        let (mut mass, mut mx, mut my, mut peak) = (0.0f32, 0.0f32, 0.0f32, 0u8);
        for (i, &v) in digit.iter().enumerate() {
            let m = f32::from(v);
            mass += m;
            mx += m * (i % 28) as f32;
            my += m * (i / 28) as f32;
            peak = peak.max(v);
        }
        if mass <= 0.0 {
            return;
        }
        let (cx, cy) = (mx / mass, my / mass);
        self.turn(digit, (cx, cy), warp.angle);
        let wanted = if warp.width.is_finite() {
            warp.width.clamp(-MAX_WIDTH_CHANGE, MAX_WIDTH_CHANGE)
        } else {
            0.0
        };
        self.widen_and_frame(wanted, f32::from(peak), out);
        if wanted == 0.0 {
            return;
        }
        let Some(before) = digit_stats(digit) else {
            return;
        };
        let mut asked = wanted;
        for _ in 0..REFINEMENTS {
            let Some(after) = digit_stats(out) else {
                return;
            };
            let achieved = after.width - before.width;
            if achieved * wanted <= 0.0 || (achieved - wanted).abs() <= 0.05 {
                return;
            }
            asked = (asked * wanted / achieved).clamp(-MAX_WIDTH_CHANGE, MAX_WIDTH_CHANGE);
            self.widen_and_frame(asked, f32::from(peak), out);
        }
    }

    /// From the turned digit: strokes widened by `width` (negative thins), framed into `out`.
    fn widen_and_frame(&mut self, width: f32, peak: f32, out: &mut [u8; 784]) {
        self.canvas.copy_from_slice(&self.turned);
        // A 4-neighbour dilation (or erosion) widens (or narrows) a stroke by one pixel on
        // each side: two pixels of width per pass; a fraction of a pass is a blend.
        let mut passes = width.abs() / 2.0;
        while passes > 0.0 {
            let blend = passes.min(1.0);
            self.morph(width > 0.0, blend);
            passes -= 1.0;
        }
        out.fill(0);
        self.reframe(peak, out);
    }

    /// The turned digit: `digit` turned by `angle` about `centre` (its centre of mass), which
    /// lands on the canvas's centre; bilinear sampling, zero outside the digit's field.
    fn turn(&mut self, digit: &[u8; 784], (cx, cy): (f32, f32), angle: f32) {
        let angle = if angle.is_finite() { angle } else { 0.0 };
        let (sin, cos) = (libm::sinf(angle), libm::cosf(angle));
        let mid = (CANVAS as f32 - 1.0) / 2.0;
        let at = |x: isize, y: isize| -> f32 {
            if (0..28).contains(&x) && (0..28).contains(&y) {
                f32::from(digit[y as usize * 28 + x as usize])
            } else {
                0.0
            }
        };
        for v in 0..CANVAS {
            for u in 0..CANVAS {
                let (dx, dy) = (u as f32 - mid, v as f32 - mid);
                // The inverse of the turn (x, y) -> (x cos + y sin, -x sin + y cos).
                let sx = cx + dx * cos - dy * sin;
                let sy = cy + dx * sin + dy * cos;
                let (x0, y0) = (libm::floorf(sx), libm::floorf(sy));
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                self.turned[v * CANVAS + u] = (1.0 - fy)
                    * ((1.0 - fx) * at(x0, y0) + fx * at(x0 + 1, y0))
                    + fy * ((1.0 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
            }
        }
    }

    /// One 4-neighbour dilation (`widen`) or erosion of the canvas, blended in by `blend`.
    fn morph(&mut self, widen: bool, blend: f32) {
        let pick = |a: f32, b: f32| if widen { a.max(b) } else { a.min(b) };
        for y in 0..CANVAS {
            for x in 0..CANVAS {
                let i = y * CANVAS + x;
                let mut m = self.canvas[i];
                // Outside the canvas is empty paper.
                let neighbour = |xx: isize, yy: isize| -> f32 {
                    if (0..CANVAS as isize).contains(&xx) && (0..CANVAS as isize).contains(&yy) {
                        self.canvas[yy as usize * CANVAS + xx as usize]
                    } else {
                        0.0
                    }
                };
                let (xi, yi) = (x as isize, y as isize);
                for (nx, ny) in [(xi - 1, yi), (xi + 1, yi), (xi, yi - 1), (xi, yi + 1)] {
                    m = pick(m, neighbour(nx, ny));
                }
                self.scratch[i] = self.canvas[i] + blend * (m - self.canvas[i]);
            }
        }
        core::mem::swap(&mut self.canvas, &mut self.scratch);
    }

    /// Frames the canvas into `out` as MNIST was made, its strongest ink scaled to `peak`.
    fn reframe(&mut self, peak: f32, out: &mut [u8; 784]) {
        let hi = self.canvas.iter().fold(0.0f32, |a, &b| a.max(b));
        if hi <= 0.0 {
            return;
        }
        let stretch = peak / hi;
        let threshold = hi / 2.0;
        let (mut x0, mut y0, mut x1, mut y1) = (CANVAS, CANVAS, 0, 0);
        for (i, (&v, b)) in self.canvas.iter().zip(self.bytes.iter_mut()).enumerate() {
            *b = libm::roundf(v * stretch).clamp(0.0, 255.0) as u8;
            if v > threshold {
                let (x, y) = (i % CANVAS, i / CANVAS);
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
        // The box sets the scale (its longer side becomes 20 pixels, as MNIST's framing
        // does), but the window resized is the box and a margin: the faint ink just outside
        // the box (the fringe a fractional widening adds) is kept, not cropped.
        let side = (x1 - x0 + 1).max(y1 - y0 + 1) as f32;
        let (wx0, wy0) = (x0.saturating_sub(MARGIN), y0.saturating_sub(MARGIN));
        let (wx1, wy1) = ((x1 + MARGIN).min(CANVAS - 1), (y1 + MARGIN).min(CANVAS - 1));
        let (bw, bh) = (wx1 - wx0 + 1, wy1 - wy0 + 1);
        let fit = |n: usize| (libm::roundf(n as f32 * 20.0 / side) as usize).clamp(1, 28);
        let (dw, dh) = (fit(bw), fit(bh));
        let small = &mut self.scratch[..dw * dh];
        resize_area_mapped(
            &self.bytes,
            CANVAS,
            (wx0, wy0, bw, bh),
            small,
            dw,
            dh,
            |_, _, v| f32::from(v),
        );
        place_by_centre_of_mass(small, dw, dh, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stroke `width` pixels wide and 20 tall, turned by `angle` from the vertical, drawn
    /// analytically (each pixel's ink is 255 where its centre is within half the width).
    fn bar(width: f32, angle: f32) -> [u8; 784] {
        let mut d = [0u8; 784];
        let (s, c) = (libm::sinf(angle), libm::cosf(angle));
        for y in 0..28 {
            for x in 0..28 {
                let (dx, dy) = (x as f32 - 13.5, y as f32 - 13.5);
                // Distance across the stroke, and along it.
                let across = dx * c - dy * s;
                let along = dx * s + dy * c;
                if across.abs() <= width / 2.0 && along.abs() <= 10.0 {
                    d[y * 28 + x] = 255;
                }
            }
        }
        d
    }

    #[test]
    fn the_identity_keeps_a_framed_stroke_framed() {
        let mut w = DigitWarper::new();
        let mut out = [0u8; 784];
        let input = bar(3.0, 0.0);
        w.apply(&input, Warp::default(), &mut out);
        let (a, b) = (digit_stats(&input).unwrap(), digit_stats(&out).unwrap());
        assert!((a.width - b.width).abs() < 0.2, "{a:?} {b:?}");
        assert!(b.angle.abs() < 0.02, "{b:?}");
        // Still 20 pixels tall, centred.
        let rows = (0..28)
            .filter(|y| (0..28).any(|x| out[y * 28 + x] > 127))
            .count();
        assert_eq!(rows, 20);
    }

    #[test]
    fn a_turn_moves_the_measured_angle_by_the_same_amount() {
        let mut w = DigitWarper::new();
        let mut out = [0u8; 784];
        for (from, by) in [(0.0f32, 0.3f32), (0.3, -0.5), (-0.2, 0.4)] {
            w.apply(
                &bar(3.0, from),
                Warp {
                    angle: by,
                    width: 0.0,
                },
                &mut out,
            );
            let s = digit_stats(&out).unwrap();
            assert!((s.angle - (from + by)).abs() < 0.05, "{from} + {by}: {s:?}");
        }
    }

    /// A "0" drawn as a rectangular ring 20 tall and 14 wide, strokes `width` whole pixels:
    /// no stroke ends, so the measured width is the drawn one.
    fn ring(width: usize) -> [u8; 784] {
        let mut d = [0u8; 784];
        for y in 4..24 {
            for x in 7..21 {
                let inner =
                    (4 + width..24 - width).contains(&y) && (7 + width..21 - width).contains(&x);
                if !inner {
                    d[y * 28 + x] = 255;
                }
            }
        }
        d
    }

    #[test]
    fn widening_and_thinning_move_the_measured_width_by_what_was_asked() {
        let mut w = DigitWarper::new();
        let mut out = [0u8; 784];
        for (from, by) in [(2usize, 1.0f32), (2, 2.0), (4, -1.0), (4, -2.0)] {
            let base = digit_stats(&ring(from)).unwrap().width;
            w.apply(
                &ring(from),
                Warp {
                    angle: 0.0,
                    width: by,
                },
                &mut out,
            );
            let now = digit_stats(&out).unwrap().width;
            assert!(
                (now - base - by).abs() < 0.25,
                "{from} {by:+}: {base} -> {now}"
            );
        }
    }

    #[test]
    fn any_digit_and_any_warp_give_a_framed_field_without_panicking() {
        // Garbage fields (noise, a single pixel, a full field, stripes) and warps up to and
        // beyond the limits: no panic, and the field that comes out has finite statistics.
        let mut rng = crate::rng::SplitMix64::new(7);
        let mut w = DigitWarper::new();
        let mut out = [0u8; 784];
        for case in 0..200 {
            let mut d = [0u8; 784];
            match case % 4 {
                0 => d
                    .iter_mut()
                    .for_each(|v| *v = (rng.next_u64() & 0xff) as u8),
                1 => d[rng.below(784)] = 255,
                2 => d.fill(255),
                _ => d
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = if i % 3 == 0 { 200 } else { 0 }),
            }
            let warp = Warp {
                angle: rng.uniform(-4.0, 4.0),
                width: rng.uniform(-8.0, 8.0),
            };
            w.apply(&d, warp, &mut out);
            if let Some(s) = crate::digit_align::digit_stats(&out) {
                assert!(s.width.is_finite() && s.angle.is_finite() && s.elongation.is_finite());
            }
        }
    }

    #[test]
    fn empty_and_non_finite_warps_are_harmless() {
        let mut w = DigitWarper::new();
        let mut out = [7u8; 784];
        w.apply(&[0u8; 784], Warp::default(), &mut out);
        assert!(out.iter().all(|&v| v == 0));
        w.apply(
            &bar(2.0, 0.1),
            Warp {
                angle: f32::NAN,
                width: f32::INFINITY,
            },
            &mut out,
        );
        assert!(out.iter().any(|&v| v > 0));
    }
}
