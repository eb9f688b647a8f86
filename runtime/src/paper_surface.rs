//! The paper's light where a plane does not fit it: the hard edge of a hand's or a phone's
//! shadow across the sheet, a card held up in a darker room.
//!
//! The framing models the paper's light as a plane ([`crate::preprocess`]), which a lamp to
//! one side is. Light that changes abruptly is not, and what departs from the plane is then
//! read as ink: a shadow's half of the sheet, or the whole card where the room around it was
//! taken for the paper. Such "ink" is wider than a pen's stroke ([`has_wide_ink`]) or more than
//! a digit has, or the plane's noise floor is past a quarter of its strongest ink; there the
//! frame is also read against a surface of its own ([`PaperSurface::read`]): the frame's
//! grey-level closing (each pixel the darkest of the lightest within a window, under dark
//! ink; the opening under light ink). A closing leaves everything wider than its window as it
//! is, edges and all, and fills what is narrower: the strokes. The ink is then how far a pixel
//! falls short of that surface, the same measure as the plane's within a shadow, on the card
//! and on the lit paper. The framing takes that reading where it is plainly the better one
//! (`preprocess::surface_is_better`).
//!
//! Why not always: a stroke wider than the window would be taken for paper, and a plane fits
//! the paper of almost every frame better than any local surface (it averages the noise of the
//! whole frame, where a closing takes the local extreme of it).
//!
//! Where it fails: a card held up in a room that is under a quarter of the frame stays light
//! ink to the plane, and only a surface that disagreed about the ink's side would undo that,
//! which a light digit on dark paper cannot afford; a thin mark that is not the digit (a
//! coffee ring, a line under the digit) is ink to the surface as to the plane.

use alloc::vec::Vec;

/// The window of the paper's surface, and the width that no stroke reaches, as a share of the
/// frame's shorter side: a quarter. MNIST's strokes are about a tenth of a digit's height (2 to
/// 3 pixels of its 20-pixel box, a bold one 5), so a stroke a quarter of the frame wide is a
/// bold digit filling the frame. The framing calls ink light where it is half that wide
/// ([`has_wide_ink`] over half the window), at the weak ink's level, where a stroke's blurred
/// edges widen it.
pub const WIDE_INK_SHARE: usize = 4;

/// The smallest window of the surface (pixels): on a frame under 40 pixels (a 28x28 field) a
/// quarter of the side is a stroke's crossing, so such frames keep their plane.
pub const LEAST_WINDOW: usize = 11;

/// The window for a `width x height` frame: an odd number of pixels, at least
/// [`LEAST_WINDOW`]; `None` for a frame too small to tell light from a stroke.
pub fn window_for(width: usize, height: usize) -> Option<usize> {
    let window = (width.min(height) / WIDE_INK_SHARE) | 1;
    (window >= LEAST_WINDOW).then_some(window)
}

/// Whether the ink `ink` (`width x height`, row-major) holds light rather than strokes: at
/// least `window` pixels that are each the corner of a `window x window` square whose every
/// pixel is above `level`, a region at least a window wide and twice as long. Strokes
/// narrower than the window, crossing or not, have no such square; a blot a window across has
/// a few. `run` is two rows of scratch.
pub fn has_wide_ink(
    ink: &[f32],
    width: usize,
    height: usize,
    level: f32,
    window: usize,
    run: &mut Vec<u16>,
) -> bool {
    // The side of the largest all-ink square ending at each pixel (the classic dynamic
    // programme), over two rows.
    run.clear();
    run.resize(2 * width, 0);
    let side = window.clamp(1, u16::MAX as usize) as u16;
    let mut corners = 0;
    for (y, row) in ink.chunks_exact(width).take(height).enumerate() {
        let (first, second) = run.split_at_mut(width);
        let (above, here) = if y % 2 == 0 {
            (&*second, first)
        } else {
            (&*first, second)
        };
        for (x, &v) in row.iter().enumerate() {
            here[x] = if v <= level {
                0
            } else if x == 0 || y == 0 {
                1
            } else {
                above[x]
                    .min(here[x - 1])
                    .min(above[x - 1])
                    .saturating_add(1)
            };
            if here[x] >= side {
                corners += 1;
                if corners >= window {
                    return true;
                }
            }
        }
    }
    false
}

/// Buffers of the paper's surface: the frame closed and opened, and a line of scratch.
#[derive(Debug, Default, Clone)]
pub struct PaperSurface {
    closed: Vec<u8>,
    opened: Vec<u8>,
    line: Vec<u8>,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    run: Vec<u16>,
}

impl PaperSurface {
    /// Grows the buffers to a `width x height` frame.
    pub fn reserve(&mut self, width: usize, height: usize) {
        let pixels = width * height;
        let line = width.max(height) * 2;
        for plane in [&mut self.closed, &mut self.opened] {
            plane.reserve(pixels.saturating_sub(plane.len()));
        }
        for scratch in [&mut self.line, &mut self.prefix, &mut self.suffix] {
            scratch.reserve(line.saturating_sub(scratch.len()));
        }
        self.run.reserve((2 * width).saturating_sub(self.run.len()));
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.closed.capacity()
            + self.opened.capacity()
            + self.line.capacity()
            + self.prefix.capacity()
            + self.suffix.capacity()
            + self.run.capacity() * 2
    }

    /// [`has_wide_ink`] through these buffers.
    pub fn has_wide_ink(
        &mut self,
        ink: &[f32],
        width: usize,
        height: usize,
        level: f32,
        window: usize,
    ) -> bool {
        has_wide_ink(ink, width, height, level, window, &mut self.run)
    }

    /// Reads `gray` (`width x height`) against the paper's surface: the frame closed over
    /// `window` (the surface under dark ink) and, where the plane found light ink, opened
    /// (under light ink), each pixel's departure from the one and from the other. The
    /// closing lifts the paper to its local lightest, so the paper's own departures are not
    /// centred on 0: the floor is their median and three robust spreads above it.
    ///
    /// Which side the ink is on: dark where the plane found it dark (`plane_dark`), since a
    /// desk's edge, narrower than the window, is thick dark ink to the closing beside thinner
    /// light ink to the opening (the paper between it and the digit). Where the plane found
    /// it light, light only where the opening's ink is both thinner (a pen's strokes) and
    /// heavier (more of it, further above its floor) than the closing's: a note held up in a
    /// darker room is light ink to the plane, and to the opening its paper between the
    /// strokes is more ink than the strokes, but no thinner.
    pub fn read(
        &mut self,
        gray: &[u8],
        width: usize,
        height: usize,
        window: usize,
        plane_dark: bool,
    ) -> SurfaceInk {
        let Self {
            closed,
            opened,
            line,
            prefix,
            suffix,
            ..
        } = self;
        let mut scratch = Scratch {
            line,
            prefix,
            suffix,
        };
        // The closing: the maximum, then the minimum; the opening (needed only where the ink
        // may be light): the other way round.
        let closing: [LevelOp; 2] = [max, min];
        let opening: [LevelOp; 2] = [min, max];
        let surfaces = [(&mut *closed, closing), (&mut *opened, opening)];
        for (plane, ops) in surfaces.into_iter().take(if plane_dark { 1 } else { 2 }) {
            plane.clear();
            plane.extend_from_slice(gray);
            for op in ops {
                filter_2d(plane, width, height, window, op, &mut scratch);
            }
        }
        let dark = Departures::of(gray, closed, dark_departure, width);
        let light = (!plane_dark).then(|| Departures::of(gray, opened, light_departure, width));
        let (dark_ink, chosen) = match light {
            Some(light) if light.thickness < dark.thickness && light.weight > dark.weight => {
                (false, light)
            }
            _ => (true, dark),
        };
        SurfaceInk {
            dark_ink,
            floor: chosen.floor,
            contrast: chosen.strongest - chosen.floor,
            weak_share: chosen.weak_share,
        }
    }

    /// The ink of `gray` as [`PaperSurface::read`] read it (`reading`), into `ink`.
    pub fn ink(&self, gray: &[u8], reading: &SurfaceInk, ink: &mut Vec<f32>) {
        let (surface, departure): (&[u8], LevelOp) = if reading.dark_ink {
            (&self.closed, dark_departure)
        } else {
            (&self.opened, light_departure)
        };
        ink.clear();
        ink.extend(
            gray.iter()
                .zip(surface)
                .map(|(&v, &s)| f32::from(departure(v, s))),
        );
    }
}

/// A frame read against its paper's surface ([`PaperSurface::read`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurfaceInk {
    /// Whether the ink is darker than the paper.
    pub dark_ink: bool,
    /// The level below which a departure is the paper's noise.
    pub floor: f32,
    /// How far the strongest ink is above that floor.
    pub contrast: f32,
    /// The share of the frame's pixels above a quarter of the way from the floor to the
    /// strongest ink ([`crate::ink_region::WEAK_INK`]).
    pub weak_share: f32,
}

fn dark_departure(v: u8, surface: u8) -> u8 {
    surface.saturating_sub(v)
}

fn light_departure(v: u8, surface: u8) -> u8 {
    v.saturating_sub(surface)
}

/// A function of two levels: the larger, the smaller, or a departure of a pixel from its
/// surface.
type LevelOp = fn(u8, u8) -> u8;

fn max(a: u8, b: u8) -> u8 {
    a.max(b)
}

fn min(a: u8, b: u8) -> u8 {
    a.min(b)
}

/// The departures of a frame from one surface: their noise floor and strongest, the weight
/// of what lies above the floor, the share of the frame that is weak ink, and how thick that
/// ink is.
struct Departures {
    floor: f32,
    strongest: f32,
    weight: f32,
    weak_share: f32,
    thickness: f32,
}

impl Departures {
    /// Of `gray` (`width` wide) from `surface`, each pixel's `departure`.
    fn of(gray: &[u8], surface: &[u8], departure: LevelOp, width: usize) -> Self {
        let mut histogram = [0u32; 256];
        for (&v, &s) in gray.iter().zip(surface) {
            histogram[usize::from(departure(v, s))] += 1;
        }
        let total = gray.len() as u32;
        let median = crate::preprocess::histogram_quantile(&histogram, total, 0.5);
        let mad = crate::preprocess::median_absolute_deviation(&histogram, total);
        let floor = median as f32 + (3.0 * 1.4826 * mad).max(4.0);
        let strongest = histogram.iter().rposition(|&count| count > 0).unwrap_or(0) as f32;
        let weak = floor + (strongest - floor) * crate::ink_region::WEAK_INK;
        // The weak ink's pixels, and its edges with the rest (pairs of neighbours across a
        // row or a column that it splits): twice the one over the other is its mean width.
        let is_ink = |i: usize| f32::from(departure(gray[i], surface[i])) > weak;
        let (mut area, mut edges) = (0u32, 0u32);
        for i in 0..gray.len() {
            let here = is_ink(i);
            area += u32::from(here);
            if i % width + 1 < width && here != is_ink(i + 1) {
                edges += 1;
            }
            if i + width < gray.len() && here != is_ink(i + width) {
                edges += 1;
            }
        }
        let weight = histogram
            .iter()
            .enumerate()
            .map(|(level, &count)| count as f32 * (level as f32 - floor).max(0.0))
            .sum();
        Self {
            floor,
            strongest,
            weight,
            weak_share: area as f32 / total.max(1) as f32,
            // No ink at all is no thin ink.
            thickness: if area == 0 {
                f32::INFINITY
            } else {
                2.0 * area as f32 / edges.max(1) as f32
            },
        }
    }
}

/// Lines of scratch for [`filter_1d`].
struct Scratch<'a> {
    line: &'a mut Vec<u8>,
    prefix: &'a mut Vec<u8>,
    suffix: &'a mut Vec<u8>,
}

/// `op` (max or min) over a `window x window` square centred on each pixel of `plane` (the
/// frame's edge pixels repeated beyond it), in place: rows, then columns.
fn filter_2d(
    plane: &mut [u8],
    width: usize,
    height: usize,
    window: usize,
    op: LevelOp,
    scratch: &mut Scratch,
) {
    for row in plane.chunks_exact_mut(width) {
        scratch.line.clear();
        scratch.line.extend_from_slice(row);
        filter_1d(scratch, window, op);
        row.copy_from_slice(&scratch.line[..width]);
    }
    for x in 0..width {
        scratch.line.clear();
        scratch
            .line
            .extend((0..height).map(|y| plane[y * width + x]));
        filter_1d(scratch, window, op);
        for (y, &v) in scratch.line[..height].iter().enumerate() {
            plane[y * width + x] = v;
        }
    }
}

/// `op` over a centred `window` along `scratch.line`, in place, the line's end samples
/// repeated past its ends (the paper goes on beyond the frame: a desk along its edge is as
/// wide as the window, not a strip narrower than it): van Herk and Gil and Werman's running
/// extremum, three applications of `op` a sample whatever the window (the line padded by half
/// a window at each end, cut into blocks of
/// a window, each block's running extremum from its start and from its end; a window's
/// extremum is the one from its first sample to its block's end with the one from its last
/// sample's block start).
fn filter_1d(scratch: &mut Scratch, window: usize, op: LevelOp) {
    let n = scratch.line.len();
    if n == 0 || window <= 1 {
        return;
    }
    let half = window / 2;
    let padded = (n + 2 * half).div_ceil(window) * window;
    let Scratch {
        line,
        prefix,
        suffix,
    } = scratch;
    prefix.clear();
    prefix.resize(half, line[0]);
    prefix.extend_from_slice(line);
    prefix.resize(padded, line[n - 1]);
    suffix.clear();
    suffix.extend_from_slice(prefix);
    for block in prefix.chunks_mut(window) {
        for i in 1..block.len() {
            block[i] = op(block[i], block[i - 1]);
        }
    }
    for block in suffix.chunks_mut(window) {
        for i in (0..block.len() - 1).rev() {
            block[i] = op(block[i], block[i + 1]);
        }
    }
    for (i, v) in line.iter_mut().enumerate() {
        // The window of sample i covers padded samples i ..= i + window - 1.
        *v = op(suffix[i], prefix[i + window - 1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// The window's extremum sample by sample, the end samples repeated.
    fn brute(line: &[u8], window: usize, op: LevelOp) -> Vec<u8> {
        let half = window as i64 / 2;
        let at = |i: i64| line[i.clamp(0, line.len() as i64 - 1) as usize];
        (0..line.len() as i64)
            .map(|i| (i - half..=i + half).map(at).reduce(op).unwrap())
            .collect()
    }

    fn scratch_run(line: &[u8], window: usize, op: LevelOp) -> Vec<u8> {
        let (mut l, mut p, mut s) = (line.to_vec(), Vec::new(), Vec::new());
        let mut scratch = Scratch {
            line: &mut l,
            prefix: &mut p,
            suffix: &mut s,
        };
        filter_1d(&mut scratch, window, op);
        l
    }

    #[test]
    fn the_running_extremum_equals_the_windows_own() {
        let mut state = 7u32;
        for n in [1usize, 2, 5, 11, 12, 40, 97] {
            let line: Vec<u8> = (0..n)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (state >> 16) as u8
                })
                .collect();
            for window in [1usize, 3, 5, 11, 25, 101] {
                for op in [max as LevelOp, min] {
                    assert_eq!(
                        scratch_run(&line, window, op),
                        brute(&line, window, op),
                        "n {n}, window {window}"
                    );
                }
            }
        }
    }

    /// The ink of `gray` against its surface over a window of 17.
    fn read_ink(gray: &[u8], w: usize, h: usize, dark: bool) -> (SurfaceInk, Vec<f32>) {
        let mut surface = PaperSurface::default();
        let reading = surface.read(gray, w, h, 17, dark);
        let mut ink = Vec::new();
        surface.ink(gray, &reading, &mut ink);
        (reading, ink)
    }

    /// Paper at 200 whose right half lies in a shadow at 110, a dark stroke 4 pixels wide
    /// on each half, its ends more than half the window (17) from the frame's edges.
    fn shadowed_sheet() -> (Vec<u8>, usize, usize) {
        let (w, h) = (64usize, 48usize);
        let mut gray = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let lit = if x < 32 { 200u8 } else { 110 };
                let stroke = (10..14).contains(&x) || (46..50).contains(&x);
                let on = stroke && (12..36).contains(&y);
                gray[y * w + x] = if on { lit / 8 } else { lit };
            }
        }
        (gray, w, h)
    }

    #[test]
    fn a_shadows_edge_is_paper_and_the_strokes_on_both_sides_ink() {
        let (gray, w, h) = shadowed_sheet();
        let (reading, ink) = read_ink(&gray, w, h, false);
        assert!(reading.dark_ink);
        assert_eq!(reading.floor, 4.0, "flat paper has no noise");
        let strokes = 2 * 4 * 24;
        assert_eq!(reading.weak_share, strokes as f32 / (w * h) as f32);
        for y in 0..h {
            for x in 0..w {
                let expected = match (x, (12..36).contains(&y)) {
                    (10..14, true) => 200 - 25,
                    (46..50, true) => 110 - 13,
                    _ => 0,
                };
                assert_eq!(ink[y * w + x], expected as f32, "({x}, {y})");
            }
        }
    }

    #[test]
    fn light_ink_on_dark_paper_is_found_by_the_opening() {
        let (mut gray, w, h) = shadowed_sheet();
        for v in gray.iter_mut() {
            *v = 255 - *v;
        }
        let (reading, ink) = read_ink(&gray, w, h, false);
        assert!(!reading.dark_ink);
        assert_eq!(ink[20 * w + 11], 175.0);
        assert_eq!(ink[20 * w + 47], 97.0);
        assert_eq!(ink[20 * w + 30], 0.0);
    }

    #[test]
    fn wide_ink_is_a_region_not_a_crossing_of_strokes_nor_a_blot() {
        let (w, h, window) = (64usize, 64usize, 9usize);
        let mut ink = vec![0.0f32; w * h];
        // Two strokes 7 pixels wide crossing, and a blot of 10x10 where the pen rested.
        for y in 0..h {
            for x in 0..w {
                let stroke = (20..27).contains(&x) || (30..37).contains(&y);
                let blot = (5..15).contains(&x) && (5..15).contains(&y);
                if stroke || blot {
                    ink[y * w + x] = 100.0;
                }
            }
        }
        let mut run = Vec::new();
        assert!(!has_wide_ink(&ink, w, h, 50.0, window, &mut run));
        // A shadow over the lower right corner, 20 pixels a side.
        for y in 44..h {
            for x in 44..w {
                ink[y * w + x] = 60.0;
            }
        }
        assert!(has_wide_ink(&ink, w, h, 50.0, window, &mut run));
        assert!(!has_wide_ink(&ink, w, h, 70.0, window, &mut run));
    }

    #[test]
    fn small_frames_keep_their_plane() {
        assert_eq!(window_for(28, 28), None);
        assert_eq!(window_for(96, 96), Some(25));
        assert_eq!(window_for(160, 120), Some(31));
    }
}
