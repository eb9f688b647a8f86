//! Impulse noise taken off a frame before it is framed: a switching median filter.
//!
//! Dead and hot pixels, dust and a noisy link give a frame "salt and pepper": single pixels
//! far darker or lighter than everything around them. Gaussian sensor noise the framing
//! reads as the paper's spread; impulses it cannot, because they are as strong as ink: on
//! 96x96 frames with 3 % of their pixels at 0 or 255 the built-in device read 45 % of the
//! digits against 99 % (docs/RESULTS.md, "Impulse noise and digits off-centre in a 28x28
//! field"). The specks passed into the framed digit, where no MNIST digit has any, and far
//! from it they widened its box.
//!
//! A median filter over the whole frame would remove them, and with them the ends of a
//! one-pixel stroke and the corners of thin ones. So only specks (clusters of up to
//! [`MAX_SPECK`] pixels standing beyond all their other neighbours) are replaced, by the median
//! of their neighbours, and only in a frame that has enough of them to be impulse noise: a
//! clean frame passes untouched, bit for bit.

use alloc::vec::Vec;

/// How far (in grey levels) a pixel must stand beyond its neighbours to be an impulse: a
/// quarter of the range, several times what sensor noise puts between neighbours (the bank's
/// `noisy-blur`, sigma 20, is answered as before); ink at the edge of a stroke is not beyond
/// the stroke's other pixels.
pub const IMPULSE_MARGIN: i16 = 64;

/// The share of a frame's pixels that must be impulses before any is replaced (0.2 %: 18 of
/// a 96x96 frame), and the least count. Below it the few are more likely the ends of a
/// one-pixel stroke than noise, and a handful of specks does not move the framed digit.
pub const IMPULSE_SHARE: f32 = 0.002;
/// See [`IMPULSE_SHARE`].
pub const IMPULSE_MIN_COUNT: usize = 8;

/// The most pixels a speck has. Clusters of three come about once a frame in 3 % salt and
/// pepper, and one left in a frame of paper is "strong ink" far from the digit, which widens
/// the digit's box and shrinks the framed digit. A piece of a one-pixel stroke four pixels
/// long or more never counts.
pub const MAX_SPECK: usize = 3;

/// The 8-neighbours of (x, y) inside a `width x height` frame.
fn neighbours(
    x: usize,
    y: usize,
    width: usize,
    height: usize,
) -> impl Iterator<Item = (usize, usize)> {
    (y.saturating_sub(1)..=(y + 1).min(height - 1)).flat_map(move |ny| {
        (x.saturating_sub(1)..=(x + 1).min(width - 1))
            .map(move |nx| (nx, ny))
            .filter(move |&n| n != (x, y))
    })
}

/// Whether [`MAX_SPECK`] of the pixel's neighbours are within [`IMPULSE_MARGIN`] of it: each
/// would join its cluster whichever way it stands out, so it is no speck. Nearly every pixel of
/// a frame is such a pixel, so this is said after a few reads, straight from the frame's rows
/// away from its border (on a 320x240 frame the cleaning then adds about a tenth to the
/// preprocessing, where it tripled it when every pixel was followed as a cluster).
fn has_close_neighbours(gray: &[u8], width: usize, height: usize, x: usize, y: usize) -> bool {
    let here = i16::from(gray[y * width + x]);
    let close = |i: usize| (i16::from(gray[i]) - here).abs() <= IMPULSE_MARGIN;
    if x == 0 || y == 0 || x + 1 == width || y + 1 == height {
        return neighbours(x, y, width, height)
            .filter(|&(nx, ny)| close(ny * width + nx))
            .nth(MAX_SPECK - 1)
            .is_some();
    }
    let i = y * width + x;
    let around = [
        i - width - 1,
        i - width,
        i - width + 1,
        i - 1,
        i + 1,
        i + width - 1,
        i + width,
        i + width + 1,
    ];
    let mut found = 0;
    for j in around {
        found += usize::from(close(j));
        if found == MAX_SPECK {
            return true;
        }
    }
    false
}

/// Whether the pixel at (x, y) is part of a speck, dark or light: a cluster of at most
/// [`MAX_SPECK`] pixels (joined through neighbours within [`IMPULSE_MARGIN`] of one another)
/// each more than [`IMPULSE_MARGIN`] darker (or lighter) than every neighbour outside it.
fn is_impulse(gray: &[u8], width: usize, height: usize, x: usize, y: usize) -> bool {
    let at = |(x, y): (usize, usize)| i16::from(gray[y * width + x]);
    if has_close_neighbours(gray, width, height, x, y) {
        return false;
    }
    // `beyond(a, b)`: a stands beyond b on the speck's side by more than the margin.
    let speck = |beyond: fn(i16, i16) -> bool| {
        let mut members = [(x, y); MAX_SPECK];
        let mut count = 1;
        let mut next = 0;
        while next < count {
            let m = members[next];
            next += 1;
            for n in neighbours(m.0, m.1, width, height) {
                if members[..count].contains(&n) || beyond(at(m), at(n)) {
                    continue;
                }
                // Not beyond it: part of the cluster, or the cluster is no speck.
                if count == MAX_SPECK {
                    return false;
                }
                members[count] = n;
                count += 1;
            }
        }
        // Every member stands beyond every neighbour outside the cluster (checked above for
        // each member's own neighbours); a cluster with no outside neighbour is the frame.
        members[..count]
            .iter()
            .any(|&m| neighbours(m.0, m.1, width, height).any(|n| !members[..count].contains(&n)))
    };
    speck(|m, n| n - m > IMPULSE_MARGIN) || speck(|m, n| m - n > IMPULSE_MARGIN)
}

/// The median of the pixel's neighbours (itself left out).
fn neighbour_median(gray: &[u8], width: usize, height: usize, x: usize, y: usize) -> u8 {
    let mut values = [0u8; 8];
    let mut count = 0;
    for (nx, ny) in neighbours(x, y, width, height) {
        values[count] = gray[ny * width + nx];
        count += 1;
    }
    let values = &mut values[..count];
    values.sort_unstable();
    values[count / 2]
}

/// Writes into `clean` the `width x height` gray frame with its impulses replaced by their
/// neighbours' median, and returns true, when the frame has impulse noise (at least
/// [`IMPULSE_SHARE`] of its pixels, and [`IMPULSE_MIN_COUNT`]); returns false and leaves
/// `clean`'s contents as they were otherwise. Either way `clean` grows to the frame's size
/// (once: it is reused), so a frame loop allocates on its camera's first frame only, clean or
/// not.
pub fn remove_impulses(gray: &[u8], width: usize, height: usize, clean: &mut Vec<u8>) -> bool {
    if width < 3 || height < 3 || width.checked_mul(height) != Some(gray.len()) {
        return false;
    }
    clean.reserve(gray.len().saturating_sub(clean.len()));
    let needed = ((gray.len() as f32 * IMPULSE_SHARE) as usize).max(IMPULSE_MIN_COUNT);
    // Counted only as far as the share: a noisy frame is known before its last row.
    let noisy = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .filter(|&(x, y)| is_impulse(gray, width, height, x, y))
        .nth(needed - 1)
        .is_some();
    if !noisy {
        return false;
    }
    clean.clear();
    clean.extend_from_slice(gray);
    for y in 0..height {
        for x in 0..width {
            if is_impulse(gray, width, height, x, y) {
                clean[y * width + x] = neighbour_median(gray, width, height, x, y);
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A 20x20 paper at 150 with a dark 3-pixel-wide bar and a one-pixel line.
    fn page() -> Vec<u8> {
        let mut g = vec![150u8; 400];
        for y in 4..16 {
            for x in 5..8 {
                g[y * 20 + x] = 20;
            }
            g[y * 20 + 14] = 30; // a one-pixel stroke, its ends included
        }
        g
    }

    #[test]
    fn a_clean_frame_with_thin_strokes_passes_untouched() {
        let g = page();
        let mut clean = vec![7u8; 3];
        assert!(!remove_impulses(&g, 20, 20, &mut clean));
        assert_eq!(clean, vec![7u8; 3], "the buffer is left as it was");
        // No pixel of the strokes counts as an impulse, not even the line's ends.
        for y in 0..20 {
            for x in 0..20 {
                assert!(!is_impulse(&g, 20, 20, x, y), "({x}, {y})");
            }
        }
    }

    #[test]
    fn salt_and_pepper_is_replaced_by_the_neighbours_median_and_nothing_else_moves() {
        let mut g = page();
        // Fourteen specks on the paper, a pair and a cluster of three among them, and salt on
        // the bar.
        let specks = [
            (15, 1, 0),
            (16, 1, 0),
            (16, 0, 0),
            (1, 1, 0),
            (17, 2, 255),
            (10, 18, 0),
            (11, 18, 0),
            (2, 12, 255),
            (18, 17, 0),
            (10, 3, 0),
            (17, 9, 0),
            (1, 18, 255),
            (11, 10, 0),
            (3, 8, 0),
            (6, 10, 255),
        ];
        for &(x, y, v) in &specks {
            g[y * 20 + x] = v;
        }
        let mut clean = Vec::new();
        assert!(remove_impulses(&g, 20, 20, &mut clean));
        let original = page();
        assert_eq!(
            clean, original,
            "every speck back to its surroundings, strokes intact"
        );
        // The same frame with its first four specks only (six pixels) is left alone: fewer
        // than the least count.
        let mut few = page();
        for &(x, y, v) in &specks[..6] {
            few[y * 20 + x] = v;
        }
        assert!(!remove_impulses(&few, 20, 20, &mut clean));
    }

    #[test]
    fn four_pixels_in_a_row_are_a_stroke_and_three_a_speck() {
        let mut g = vec![150u8; 400];
        for x in 1..5 {
            g[10 * 20 + x] = 0;
        }
        for x in 10..13 {
            g[10 * 20 + x] = 0;
        }
        let specks: Vec<_> = (0..400)
            .filter(|i| is_impulse(&g, 20, 20, i % 20, i / 20))
            .collect();
        assert_eq!(specks, vec![210, 211, 212]);
    }

    #[test]
    fn a_speck_on_the_border_is_judged_by_the_neighbours_it_has() {
        let mut g = vec![100u8; 9];
        g[0] = 255; // a corner: three neighbours, all far below it
        assert!(is_impulse(&g, 3, 3, 0, 0));
        assert_eq!(neighbour_median(&g, 3, 3, 0, 0), 100);
        assert!(!is_impulse(&g, 3, 3, 1, 1));
    }

    #[test]
    fn frames_too_small_or_of_the_wrong_length_are_left_alone() {
        let mut clean = Vec::new();
        assert!(!remove_impulses(&[0, 255], 2, 1, &mut clean));
        assert!(!remove_impulses(&[0; 10], 3, 3, &mut clean));
    }
}
