//! Whether a framed 28x28 picture has a digit's shape, so that what is learned without labels
//! is learned from digits only.
//!
//! Why: a camera does not always look at a digit. Between two cards it sees the empty sheet,
//! the desk, the room. The framing still frames something (or nothing: an empty field, which
//! the shipped model reads as a confident `1`), and the model still answers. What the device
//! learns without labels then learns from scenes: on a stream with frames of a video and of
//! photographs between the digits, the camera-orientation finder turned the device away
//! three times for 6 to 20 frames each, and it read 1.2 points fewer of 2000 frames than a
//! frozen device (docs/RESULTS.md, "Frames without a digit"); the Krotov demo, learning from
//! the scenes, 1.4 points fewer. The model's own sureness does not tell scenes apart (its
//! margin over the runner-up overlaps a digit's), but
//! the framing does: it scales a digit's ink to a 20-pixel box, so a digit framed as MNIST
//! was is one stroke-drawn part that spans the box, and a scene framed the same way is dots,
//! a few specks, a solid block, or nothing.
//!
//! The test reads the strong ink (above half the range, MNIST's "on" pixels) of the framed
//! picture. It has a digit's shape when all four hold:
//! - at least [`LEAST_INK`] pixels of it, or, in a box narrower than [`NARROWEST_BLOCK`] (a
//!   stroke drawn upright, a thin `1`), a pixel for each of its rows up to that;
//! - spanning at least [`LEAST_EXTENT`] pixels up or across;
//! - filling at most [`MOST_FILL`] of its box, unless the box is narrower than
//!   [`NARROWEST_BLOCK`] (an upright `1` is one stroke that fills its narrow box);
//! - at least [`LEAST_MAIN_PART`] of it in its largest 8-connected part.
//!
//! Chosen on the framed pictures of 15 recorded digit streams (MNIST, the UCI writers, printed
//! faces, a seven-segment display; thin, far, dim, banded; over brick and gravel), of which
//! 96.6 to 99.96 % pass (the digits that fail are mostly framed badly: cut by a strip of tape
//! or a band), and of a stream with frames of a video and photographs between the digits.
//! Of the frames without a digit there, the plain empty sheet never passes, crops of the
//! photographs and the video about two in five. On streams made afterwards, two thirds of
//! CIFAR-10's images and Fashion-MNIST's items pass (a framed animal or shoe is one blob with a
//! stroke's proportions): the test keeps out the empty sheet and much of a room, not every
//! object (docs/RESULTS.md, "Frames without a digit").

/// Strong ink: above this level of 0..255, MNIST's "on" pixels.
pub const STRONG_INK: u8 = 127;
/// The fewest strong-ink pixels of a digit. Framed digits have 44 or more in 99.5 % of the
/// frames measured (a `1` is the least), framed scenes 39 at the median. A stroke in a box
/// narrower than [`NARROWEST_BLOCK`] needs only one pixel for each of its rows: an upright
/// `1` of a thin pen, MNIST's thinnest, has 19 to 29 over its 20 rows.
pub const LEAST_INK: usize = 30;
/// The strong ink's least extent, up or across, in pixels. The framing scales a digit's box
/// to 20 pixels; framed digits measured span 19 or 20, framed specks of a scene from 2.
pub const LEAST_EXTENT: usize = 16;
/// The most of its box strong ink may fill: a digit's strokes fill 20 to 60 % of it (a `1`
/// drawn upright the most), a framed wall or window of a scene all of it.
pub const MOST_FILL: f32 = 0.75;
/// A box narrower than this (up or across) is a stroke, however much of it the ink fills: a
/// `1` drawn upright, a seven-segment `1`. Without it 1.7 % of a seven-segment display's
/// framed digits failed; with it 0.04 %. At 6 rather than 8, 14 upright `1`s of MNIST's test
/// set (a bold pen's, 6 or 7 pixels wide) failed as blocks; at 8 they pass, and 0.1 to 1.0 %
/// more of the frames without a digit measured do.
pub const NARROWEST_BLOCK: usize = 8;
/// The least share of the strong ink in its largest 8-connected part: a digit is one or two
/// strokes (99.5 % of framed digits measured keep 53 % or more in one part), a framed texture
/// or a scattering of lights is many small parts.
pub const LEAST_MAIN_PART: f32 = 0.5;

const SIDE: usize = 28;

/// Whether the framed 28x28 `picture` has a digit's shape (see the module's docs). An empty
/// field has not. Allocates nothing (1.6 KB of stack).
pub fn looks_like_a_digit(picture: &[u8; SIDE * SIDE]) -> bool {
    let strong = |i: usize| picture[i] > STRONG_INK;
    let (mut count, mut top, mut bottom, mut left, mut right) = (0usize, SIDE, 0, SIDE, 0);
    for y in 0..SIDE {
        for x in 0..SIDE {
            if strong(y * SIDE + x) {
                count += 1;
                top = top.min(y);
                bottom = bottom.max(y);
                left = left.min(x);
                right = right.max(x);
            }
        }
    }
    if count == 0 {
        return false;
    }
    let (height, width) = (bottom - top + 1, right - left + 1);
    let (longer, shorter) = (height.max(width), height.min(width));
    let stroke = shorter < NARROWEST_BLOCK;
    let least_ink = if stroke {
        longer.min(LEAST_INK)
    } else {
        LEAST_INK
    };
    let solid = count as f32 > MOST_FILL * (height * width) as f32;
    if count < least_ink || longer < LEAST_EXTENT || (solid && !stroke) {
        return false;
    }
    largest_part(picture) as f32 >= LEAST_MAIN_PART * count as f32
}

/// The size of the largest 8-connected part of the strong ink.
fn largest_part(picture: &[u8; SIDE * SIDE]) -> usize {
    let mut seen = [false; SIDE * SIDE];
    let mut stack = [0u16; SIDE * SIDE];
    let mut largest = 0;
    for start in 0..SIDE * SIDE {
        if seen[start] || picture[start] <= STRONG_INK {
            continue;
        }
        // Each pixel is pushed once (marked when pushed), so the stack never overflows.
        seen[start] = true;
        stack[0] = start as u16;
        let (mut depth, mut size) = (1usize, 0usize);
        while depth > 0 {
            depth -= 1;
            let i = usize::from(stack[depth]);
            size += 1;
            let (y, x) = (i / SIDE, i % SIDE);
            for ny in y.saturating_sub(1)..=(y + 1).min(SIDE - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(SIDE - 1) {
                    let j = ny * SIDE + nx;
                    if !seen[j] && picture[j] > STRONG_INK {
                        seen[j] = true;
                        stack[depth] = j as u16;
                        depth += 1;
                    }
                }
            }
        }
        largest = largest.max(size);
    }
    largest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture with strong ink on the given (row, column) pixels.
    fn picture(ink: impl IntoIterator<Item = (usize, usize)>) -> [u8; 784] {
        let mut p = [0u8; 784];
        for (y, x) in ink {
            p[y * SIDE + x] = 255;
        }
        p
    }

    /// A stroke two pixels wide from (y0, x0) to (y1, x1), drawn by hand as pixels.
    fn stroke(y0: usize, x0: usize, y1: usize, x1: usize) -> impl Iterator<Item = (usize, usize)> {
        let steps = y1.abs_diff(y0).max(x1.abs_diff(x0));
        (0..=steps).flat_map(move |t| {
            let y = (y0 * (steps - t) + y1 * t) / steps;
            let x = (x0 * (steps - t) + x1 * t) / steps;
            [(y, x), (y, x + 1)]
        })
    }

    #[test]
    fn a_seven_drawn_in_strokes_looks_like_a_digit() {
        // A bar across the top and a stroke down to the bottom: 20 rows, one part.
        let seven = picture(stroke(4, 8, 4, 19).chain(stroke(4, 19, 23, 11)));
        assert!(looks_like_a_digit(&seven));
    }

    #[test]
    fn an_empty_field_a_speck_and_a_solid_block_do_not() {
        assert!(!looks_like_a_digit(&[0; 784]));
        // Faint ink everywhere is no strong ink.
        assert!(!looks_like_a_digit(&[127; 784]));
        // 36 pixels, but spanning 6: a speck scaled up is not a digit.
        let speck = picture((10..16).flat_map(|y| (10..16).map(move |x| (y, x))));
        assert!(!looks_like_a_digit(&speck));
        // A solid 20x20 block fills all of its box, and is wider than a stroke.
        let block = picture((4..24).flat_map(|y| (4..24).map(move |x| (y, x))));
        assert!(!looks_like_a_digit(&block));
    }

    #[test]
    fn each_threshold_is_where_the_module_says() {
        // A slanted stroke over 15 rows (30 pixels) is too short; over 16 rows it spans enough.
        assert!(!looks_like_a_digit(&picture(stroke(4, 10, 18, 13))));
        assert!(looks_like_a_digit(&picture(stroke(4, 10, 19, 13))));
        // Ink in a box 8 wide: 29 strong pixels over 20 rows are too little; 30 are enough.
        let wide_box_with = |ink: usize| {
            picture(
                (4..24)
                    .map(|y| (y, 12))
                    .chain([(4, 19)])
                    .chain((5..ink - 16).map(|y| (y, 13))),
            )
        };
        assert!(!looks_like_a_digit(&wide_box_with(29)));
        assert!(looks_like_a_digit(&wide_box_with(30)));
        // In a box 7 wide a stroke needs one pixel a row: 19 over 20 rows fail, 20 pass.
        let thin_one = |rows: usize| picture((4..4 + rows).map(|y| (y, 12)).chain([(23, 18)]));
        assert!(!looks_like_a_digit(&thin_one(18)));
        assert!(looks_like_a_digit(&thin_one(19)));
        // A 20x8 box, its outer columns and rows full, filled 120 of 160 passes; 121 does not.
        let filled = |n: usize| {
            let mut p = picture((4..24).flat_map(|y| (10..18).map(move |x| (y, x))));
            let inner = (5..23).flat_map(|y| (11..17).map(move |x| (y, x)));
            for (y, x) in inner.take(160 - n) {
                p[y * SIDE + x] = 0;
            }
            p
        };
        assert!(looks_like_a_digit(&filled(120)));
        assert!(!looks_like_a_digit(&filled(121)));
        // A box 7 wide is a stroke however full: an upright `1` of a bold pen passes.
        let bar =
            |width: usize| picture((4..24).flat_map(|y| (12..12 + width).map(move |x| (y, x))));
        assert!(looks_like_a_digit(&bar(3)));
        assert!(looks_like_a_digit(&bar(7)));
        assert!(!looks_like_a_digit(&bar(8)));
    }

    #[test]
    fn scattered_ink_does_not_look_like_a_digit_and_two_strokes_do() {
        // 40 lone pixels over 15 rows and 17 columns, none touching another: 40 parts.
        let dots = picture((0..40).map(|i| (4 + 2 * (i / 5), 4 + 4 * (i % 5))));
        assert!(!looks_like_a_digit(&dots));
        // Two slanted strokes of 18 pixels each (a broken `1`): the largest holds half.
        let broken = picture(stroke(4, 10, 12, 12).chain(stroke(15, 13, 23, 15)));
        assert!(looks_like_a_digit(&broken));
        // Three parts of 10, 10 and 12 pixels: the largest holds 12 of 32.
        let three = picture(
            stroke(4, 10, 8, 11)
                .chain(stroke(11, 12, 15, 13))
                .chain(stroke(18, 14, 23, 15)),
        );
        assert!(!looks_like_a_digit(&three));
    }
}
