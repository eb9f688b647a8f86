//! Which parts of a frame's ink are the digit, and which are other things in the frame: the
//! desk beyond the sheet's edge, a thumb holding the sheet, the digit's neighbours in a number
//! cut by the frame, a form's printed box around the digit.
//!
//! The ink [`crate::ink_region::digit_box`] grows is split into parts: pixels within
//! [`JOIN_REACH`] of one another, directly or through more of them, the same reach that joined
//! the ink. The digit's part is one that is no speck beside the largest ([`LEAST_PART_SHARE`])
//! and encloses no other part: of those that keep off the frame's edges, the nearest its
//! centre, and when every one touches an edge, the nearest of them all. A user aims the camera
//! at the digit, so whatever else the frame holds comes in from its edges or surrounds the
//! digit. When the digit's part keeps off the edges, the parts that touch them are the
//! scene's, not the digit's, and are dropped; a digit that fills the frame touches its edges,
//! and then every part is kept, as before this selection. A part that encloses another of
//! comparable size is a box drawn around the digit and is dropped too.
//!
//! Why not the largest part: a desk's edge, or a form's box, holds more ink than the digit.
//! Why not drop only what touches the edges: a box around the digit does not. Where it fails:
//! a digit that fills the frame and has a piece apart from its strokes, off the edges and
//! more than a sixteenth of it, is framed as that piece; a whole number in view keeps all its
//! digits; a box within [`JOIN_REACH`] of the digit's ink is one part with it.

use alloc::vec::Vec;

use crate::ink_region::{JOIN_REACH, union};

/// Pixel classes of the region buffer. [`crate::ink_region::digit_box`] leaves `INK` on every
/// pixel of the grown ink; the selection turns each into `KEPT` or `DROPPED`.
pub const INK: u8 = 2;
/// A pixel of a part that is the digit's.
pub const KEPT: u8 = 3;
/// A pixel of a part that is not the digit's: its ink is left out of the framing.
pub const DROPPED: u8 = 4;

/// Most parts followed; a frame with more (a texture read as ink) keeps all its ink, as before
/// the selection, rather than choose among fragments.
pub const MAX_PARTS: usize = 256;

/// A part smaller than this share of the largest one (in pixels) is a speck, never taken for
/// the digit itself: it is kept or dropped with the rest.
pub const LEAST_PART_SHARE: u32 = 16;

/// How large an enclosed part must be, against its encloser, for the encloser to be a box
/// around it: a quarter of its pixels and a quarter of its longer side. A digit's loop around
/// a speck of noise is not a box.
const ENCLOSED_SHARE: usize = 4;

/// One part of the ink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    /// A pixel of it, where a second flood starts.
    start: u32,
    /// Its box, inclusive `(x0, y0, x1, y1)`.
    bounds: (usize, usize, usize, usize),
    pixels: u32,
    /// Squared distance of its nearest pixel from the frame's centre, in half pixels.
    near: u64,
    on_edge: bool,
    /// Whether it encloses another part ([`Part::encloses`]): set once all parts are known.
    encloses_one: bool,
}

impl Part {
    fn longer_side(&self) -> usize {
        let (x0, y0, x1, y1) = self.bounds;
        (x1 - x0).max(y1 - y0) + 1
    }

    /// Whether `inner` lies strictly inside this part's box and is large enough against it
    /// for this part to be a box drawn around it.
    fn encloses(&self, inner: &Part) -> bool {
        let (ax0, ay0, ax1, ay1) = self.bounds;
        let (bx0, by0, bx1, by1) = inner.bounds;
        ax0 < bx0
            && ay0 < by0
            && ax1 > bx1
            && ay1 > by1
            && inner.pixels as usize * ENCLOSED_SHARE >= self.pixels as usize
            && inner.longer_side() * ENCLOSED_SHARE >= self.longer_side()
    }
}

/// The parts of the ink and the stack that follows them; they grow to the largest frame seen.
#[derive(Debug, Clone, Default)]
pub struct InkParts {
    stack: Vec<u32>,
    parts: Vec<Part>,
}

impl InkParts {
    /// Grows the buffers to a frame of `pixels`, so that selecting allocates nothing.
    pub fn reserve(&mut self, pixels: usize) {
        self.stack.reserve(pixels.saturating_sub(self.stack.len()));
        self.parts
            .reserve(MAX_PARTS.saturating_sub(self.parts.len()));
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.stack.capacity() * 4 + self.parts.capacity() * core::mem::size_of::<Part>()
    }

    /// Turns every `INK` pixel of `region` (`width x height`, within `bounds`) into `KEPT` or
    /// `DROPPED` (module doc), and returns the box of the kept ink; `None` when there is none.
    pub fn select(
        &mut self,
        region: &mut [u8],
        width: usize,
        height: usize,
        bounds: (usize, usize, usize, usize),
    ) -> Option<(usize, usize, usize, usize)> {
        self.parts.clear();
        let (bx0, by0, bx1, by1) = bounds;
        let mut too_many = false;
        for y in by0..=by1 {
            for x in bx0..=bx1 {
                let i = y * width + x;
                if region[i] != INK {
                    continue;
                }
                let part = self.follow(region, width, height, i, KEPT);
                if self.parts.len() == MAX_PARTS {
                    too_many = true;
                } else {
                    self.parts.push(part);
                }
            }
        }
        if too_many {
            return Some(bounds); // every pixel is already KEPT
        }
        for n in 0..self.parts.len() {
            let part = self.parts[n];
            self.parts[n].encloses_one = self.parts.iter().any(|other| part.encloses(other));
        }
        let Some(digit) = self.digit() else {
            // Every part that is no speck encloses another: none is told from the rest, and
            // all of them are kept.
            return self
                .parts
                .iter()
                .map(|p| p.bounds)
                .reduce(|a, b| union(Some(a), b));
        };
        let digit = self.parts[digit];
        let mut kept = None;
        for n in 0..self.parts.len() {
            let part = self.parts[n];
            if keeps(&digit, &part) {
                kept = Some(union(kept, part.bounds));
            } else {
                self.follow(region, width, height, part.start as usize, DROPPED);
            }
        }
        kept
    }

    /// The index of the digit's part: among the parts that are no speck and enclose no other
    /// part, the nearest the centre of those off the frame's edges, or of all of them when
    /// every one touches an edge; `None` when there is no part.
    fn digit(&self) -> Option<usize> {
        let largest = self.parts.iter().map(|p| p.pixels).max()?;
        let candidates = || {
            (0..self.parts.len())
                .filter(move |&n| self.parts[n].pixels * LEAST_PART_SHARE >= largest)
                .filter(|&n| !self.parts[n].encloses_one)
        };
        let nearest = |on_edge: bool| {
            candidates()
                .filter(|&n| on_edge || !self.parts[n].on_edge)
                .min_by_key(|&n| self.parts[n].near)
        };
        nearest(false).or_else(|| nearest(true))
    }

    /// Floods the part holding pixel `start` (every pixel of class `INK`, or of `KEPT` when
    /// `mark` is `DROPPED`, within [`JOIN_REACH`] of the next), marking it `mark`, and
    /// measures it.
    fn follow(
        &mut self,
        region: &mut [u8],
        width: usize,
        height: usize,
        start: usize,
        mark: u8,
    ) -> Part {
        let from = if mark == DROPPED { KEPT } else { INK };
        let (cx, cy) = (width as i64 - 1, height as i64 - 1);
        let mut part = Part {
            start: start as u32,
            bounds: (start % width, start / width, start % width, start / width),
            pixels: 0,
            near: u64::MAX,
            on_edge: false,
            encloses_one: false,
        };
        region[start] = mark;
        self.stack.clear();
        self.stack.push(start as u32);
        while let Some(i) = self.stack.pop() {
            let (x, y) = (i as usize % width, i as usize / width);
            let (dx, dy) = (2 * x as i64 - cx, 2 * y as i64 - cy);
            part.near = part.near.min((dx * dx + dy * dy) as u64);
            part.pixels += 1;
            part.on_edge |= x == 0 || y == 0 || x + 1 == width || y + 1 == height;
            part.bounds = union(Some(part.bounds), (x, y, x, y));
            for yy in y.saturating_sub(JOIN_REACH)..=(y + JOIN_REACH).min(height - 1) {
                for xx in x.saturating_sub(JOIN_REACH)..=(x + JOIN_REACH).min(width - 1) {
                    let j = yy * width + xx;
                    if region[j] == from {
                        region[j] = mark;
                        self.stack.push(j as u32);
                    }
                }
            }
        }
        part
    }
}

/// Whether `part` is kept beside the digit's part `digit`: not a box around another part, and
/// not off at the frame's edge while the digit keeps away from them.
fn keeps(digit: &Part, part: &Part) -> bool {
    part == digit || (!part.encloses_one && (digit.on_edge || !part.on_edge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ink_region::digit_box;

    /// An inclusive box `(x0, y0, x1, y1)`.
    type Bounds = (usize, usize, usize, usize);

    /// The box [`digit_box`] finds on a `width x height` frame with ink 100 where `ink` says,
    /// and the region it leaves.
    fn frame_box(
        width: usize,
        height: usize,
        ink: impl Fn(usize, usize) -> bool,
    ) -> (Option<Bounds>, Vec<u8>) {
        let mut region = Vec::new();
        let found = digit_box(
            &mut region,
            &mut InkParts::default(),
            width,
            height,
            50.0,
            25.0,
            |x, y| if ink(x, y) { 100.0 } else { 0.0 },
        );
        (found, region)
    }

    /// A stroke down columns 19 to 21 from row 12 to 27 and a bar along rows 12 to 14 from
    /// column 16 to 24: a `T` near the centre of a 40x40 frame, 66 pixels of ink.
    fn tee(x: usize, y: usize) -> bool {
        ((19..=21).contains(&x) && (12..=27).contains(&y))
            || ((12..=14).contains(&y) && (16..=24).contains(&x))
    }

    #[test]
    fn a_desk_along_the_frame_edges_is_dropped_and_the_digit_kept() {
        // A desk: the left 6 columns and the bottom 5 rows, six times the digit's ink.
        let (found, region) = frame_box(40, 40, |x, y| x < 6 || y >= 35 || tee(x, y));
        assert_eq!(found, Some((16, 12, 24, 27)));
        assert_eq!(region[20 * 40 + 2], DROPPED, "the desk");
        assert_eq!(region[20 * 40 + 20], KEPT, "the digit");
        // Without the desk, the same box: the selection changes nothing on a clean frame.
        assert_eq!(frame_box(40, 40, tee).0, Some((16, 12, 24, 27)));
    }

    #[test]
    fn a_box_drawn_around_the_digit_is_dropped() {
        // A square outline from (8, 5) to (32, 34), two pixels thick, around the `T`.
        let outline = |x: usize, y: usize| {
            let (inside_x, inside_y) = ((8..=32).contains(&x), (5..=34).contains(&y));
            let on_x = x == 8 || x == 9 || x == 31 || x == 32;
            let on_y = y == 5 || y == 6 || y == 33 || y == 34;
            (on_x && inside_y) || (on_y && inside_x)
        };
        let (found, region) = frame_box(40, 40, |x, y| outline(x, y) || tee(x, y));
        assert_eq!(found, Some((16, 12, 24, 27)));
        assert_eq!(region[5 * 40 + 20], DROPPED);
    }

    #[test]
    fn a_loop_around_a_speck_is_no_box() {
        // A ring of radius 8 to 10 (a `0`) around a speck of one pixel at the centre.
        let ring = |x: usize, y: usize| {
            let (dx, dy) = (x as i32 - 20, y as i32 - 20);
            (64..=100).contains(&(dx * dx + dy * dy))
        };
        let (found, _) = frame_box(40, 40, |x, y| ring(x, y) || (x, y) == (20, 20));
        assert_eq!(found, Some((10, 10, 30, 30)));
    }

    #[test]
    fn a_digit_that_fills_the_frame_keeps_every_part() {
        // A stroke down the whole frame through its centre, and a speck of the digit apart
        // from it, off the edges: both are the digit's.
        let (found, region) = frame_box(40, 40, |x, y| {
            x == 19 || (y == 30 && (29..=30).contains(&x))
        });
        assert_eq!(found, Some((19, 0, 30, 39)));
        assert!(!region.contains(&DROPPED));
        // A piece of it more than a sixteenth of its size, off the edges, is taken for the
        // digit and the stroke for the scene: the limit of the rule (a user aims at the
        // digit, so a digit that fills the frame is rarer than things at its edges).
        let (found, _) = frame_box(40, 40, |x, y| {
            x == 19 || (y == 30 && (26..=30).contains(&x))
        });
        assert_eq!(found, Some((26, 30, 30, 30)));
    }

    #[test]
    fn the_digits_neighbours_cut_by_the_frame_are_dropped_and_a_detached_stroke_kept() {
        // Neighbours: ink on columns 0..3 and 36..40. The `T` with its bar detached by 4
        // pixels (a `5`'s bar is often apart from its body).
        let detached = |x: usize, y: usize| {
            (x == 20 && (16..=27).contains(&y)) || (y == 11 && (16..=24).contains(&x))
        };
        let neighbours = |x: usize, y: usize| !(3..36).contains(&x) && (10..30).contains(&y);
        let (found, _) = frame_box(40, 40, |x, y| neighbours(x, y) || detached(x, y));
        assert_eq!(found, Some((16, 11, 24, 27)));
    }

    #[test]
    fn too_many_parts_keep_all_the_ink() {
        // A dot every 5 pixels of a 90x90 frame: 324 parts, more than are followed.
        let (found, region) = frame_box(90, 90, |x, y| x % 5 == 2 && y % 5 == 2);
        const { assert!(MAX_PARTS < 18 * 18) };
        assert_eq!(found, Some((2, 2, 87, 87)));
        assert!(!region.contains(&DROPPED));
    }
}
