//! A dark or noisy frame brought to what a camera gives in good light, before it is framed.
//!
//! Why: a camera with its exposure fixed (an embedded sensor set up once, a CSI camera with
//! manual gain) gives, in a dim room, frames whose paper is 20 to 40 grey levels and whose
//! ink a few levels below it. The framing measures ink in grey levels: a frame whose strongest
//! ink stands less than 16 levels above the paper's noise is flat, and the paper's spread
//! cannot fall under one level. A camera with automatic exposure multiplies the same frame
//! instead, and its noise with it. On MNIST digits with the paper at 12 % of its light and
//! sensor noise of sigma 6, the built-in device read 14 % of them as a fixed exposure gives
//! them and 91 % with 8 times the gain, against 99 % in the light (docs/RESULTS.md, "A camera
//! in a dim room, under flickering light").
//!
//! So a frame whose light is under [`DIM_LEVEL`] is multiplied, as a sensor's analogue gain
//! would have, until its light is [`TARGET_LEVEL`] (at most [`MAX_GAIN`] times): every
//! threshold of the framing then reads it as it reads a frame exposed for the room. And a frame
//! whose sensor noise ([`noise_sigma`]) is [`NOISY_SHARE`] of its light or more is smoothed
//! first, by a 3x3 binomial filter: a pen's stroke is several pixels wide in a camera's frame,
//! and the framing scales the digit down to 20 pixels, averaging more than that. Why only
//! then: smoothing costs a digit drawn at a third of its size (about 15 pixels tall) 3 points
//! (97.8 to 94.8 % of such digits in a dim room with little noise).
//!
//! A lit frame is smoothed too where its ink is faint for its noise: noise of
//! [`FAINT_NOISE`] levels or more, and the ink reaching less than [`FAINT_INK_SIGMAS`] of its
//! deviations from the paper ([`ink_reach`]). A faint pencil under a noisy sensor (contrast
//! cut to 30 %, noise of sigma 12) leaves ink 30 to 60 levels from paper at 100 to 200: the
//! light rule does not see it, and the framing's floor (three deviations of the paper's
//! noise) took the noise's specks for the digit's strokes (docs/RESULTS.md, "Faint ink under
//! a noisy sensor").
//!
//! The light is the level the brightest 1 % of the pixels reach ([`LIGHT_SHARE`]): the paper
//! under dark ink, the ink on a dark board, and not a few bright specks. A frame of usual
//! exposure and noise passes untouched, bit for bit, and so does one with no light at all
//! (under [`LEAST_LIGHT`]: a lens cap, the lights off).

use alloc::vec::Vec;

use crate::preprocess::histogram_quantile;

/// The light under which a frame is dark: a quarter of the range. The bank's dimmest paper
/// (`dim-light`, 80 to 130 under a gradient) is above it.
pub const DIM_LEVEL: u8 = 64;
/// The light a dark frame is brought to: three quarters of the range, about where a camera's
/// automatic exposure puts white paper.
pub const TARGET_LEVEL: u32 = 192;
/// The most a frame is multiplied by: beyond it the sensor's quantization steps (16 levels)
/// would be coarser than a faint stroke.
pub const MAX_GAIN: u32 = 16;
/// The light under which a frame has none to bring up.
pub const LEAST_LIGHT: u8 = 4;
/// The share of the pixels at or above the frame's light.
pub const LIGHT_SHARE: f32 = 0.01;
/// The sensor noise, as a share of the frame's light, from which a frame is smoothed before
/// it is framed ([`noise_sigma`]).
pub const NOISY_SHARE: f32 = 0.1;
/// The sensor noise (a deviation, in grey levels) from which a lit frame whose ink is faint
/// for it is smoothed: about twice what a camera gives in good light, so that its frames,
/// faint ink or not, pass untouched.
pub const FAINT_NOISE: f32 = 8.0;
/// How many deviations of the noise the ink must reach from the paper ([`ink_reach`]) for a
/// noisy frame to be framed unsmoothed. Paper alone reaches about 2.6; a pen's ink in good
/// light, tens.
pub const FAINT_INK_SIGMAS: f32 = 6.0;
/// The share of the pixels at either end of the levels that [`ink_reach`] reads: half a
/// percent, under a thin digit's share of a frame (1 to 3 %).
pub const REACH_SHARE: f32 = 0.005;

/// The level that the brightest [`LIGHT_SHARE`] of `gray`'s pixels reach; 0 for no pixels.
pub fn light_level(gray: &[u8]) -> u8 {
    let (levels, total) = levels_of(gray);
    light_of(&levels, total)
}

/// [`light_level`] of a frame's level histogram ([`levels_of`]).
fn light_of(levels: &[u32; 256], total: u32) -> u8 {
    if total == 0 {
        return 0;
    }
    histogram_quantile(levels, total, 1.0 - LIGHT_SHARE).clamp(0, 255) as u8
}

/// How far the ink reaches from the paper, in grey levels: the larger of the distances from
/// the median level (the paper) to the levels that the darkest and the brightest
/// [`REACH_SHARE`] of the pixels pass. 0 for no pixels.
pub fn ink_reach(gray: &[u8]) -> f32 {
    let (levels, total) = levels_of(gray);
    reach_of(&levels, total)
}

/// [`ink_reach`] of a frame's level histogram ([`levels_of`]).
fn reach_of(levels: &[u32; 256], total: u32) -> f32 {
    if total == 0 {
        return 0.0;
    }
    let at = |q: f32| histogram_quantile(levels, total, q);
    let paper = at(0.5);
    (paper - at(REACH_SHARE)).max(at(1.0 - REACH_SHARE) - paper) as f32
}

/// How many pixels of `gray` are at each level, and how many there are.
fn levels_of(gray: &[u8]) -> ([u32; 256], u32) {
    let mut levels = [0u32; 256];
    for &v in gray {
        levels[usize::from(v)] += 1;
    }
    (levels, u32::try_from(gray.len()).unwrap_or(u32::MAX))
}

/// The sensor's noise in a `width`-wide gray frame, as a standard deviation in grey levels:
/// the median difference between horizontal neighbours over 0.954 (for independent noise of
/// deviation s, a difference has deviation s * sqrt(2), and its median size is 0.6745 times
/// that). Ink's edges are a small share of the pairs, so the median is the paper's. 0 for a
/// frame under two pixels wide.
pub fn noise_sigma(gray: &[u8], width: usize) -> f32 {
    let mut differences = [0u32; 256];
    let mut total = 0u32;
    if width >= 2 {
        for row in gray.chunks_exact(width) {
            for pair in row.windows(2) {
                differences[usize::from(pair[0].abs_diff(pair[1]))] += 1;
                total = total.saturating_add(1);
            }
        }
    }
    if total == 0 {
        return 0.0;
    }
    histogram_quantile(&differences, total, 0.5) as f32 / 0.954
}

/// What a frame needs before it is framed: a gain of `num / den` and, when it is noisy, a
/// smoothing first (see the module's docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    num: u32,
    den: u32,
    smooth: bool,
}

impl Exposure {
    /// What the `width x height` gray frame `gray` needs: `None` when it is neither dark nor
    /// noisy (or its size is not its length), and it is to be framed as it is.
    pub fn of(gray: &[u8], width: usize, height: usize) -> Option<Self> {
        if width == 0 || width.checked_mul(height) != Some(gray.len()) {
            return None;
        }
        // One histogram of the frame's levels gives both its light and its ink's reach.
        let (levels, total) = levels_of(gray);
        let light = light_of(&levels, total);
        if light < LEAST_LIGHT {
            return None;
        }
        // The gain as a fraction num / den (TARGET_LEVEL / light, at most MAX_GAIN).
        let (num, den) = if light >= DIM_LEVEL {
            (1, 1)
        } else if TARGET_LEVEL > MAX_GAIN * u32::from(light) {
            (MAX_GAIN, 1)
        } else {
            (TARGET_LEVEL, u32::from(light))
        };
        let noise = noise_sigma(gray, width);
        let smooth = noise >= NOISY_SHARE * f32::from(light)
            || (noise >= FAINT_NOISE && reach_of(&levels, total) < FAINT_INK_SIGMAS * noise);
        (smooth || num != den).then_some(Self { num, den, smooth })
    }

    /// Applies it, in place, to `frame` (`width x height`, the frame it was found for or a
    /// copy): the smoothing (a 3x3 binomial filter, weights 1 2 1 / 2 4 2 / 1 2 1 over 16, the
    /// frame's edge repeated), then the gain, in one integer pass with rounding. `rows` holds
    /// two rows of the frame as they were; it is grown to them if it is smaller.
    pub fn apply(&self, frame: &mut [u8], width: usize, height: usize, rows: &mut Vec<u8>) {
        if width == 0 || height == 0 || width.checked_mul(height) != Some(frame.len()) {
            return;
        }
        let Self { num, den, smooth } = *self;
        if !smooth {
            for v in frame.iter_mut() {
                *v = ((u32::from(*v) * num + den / 2) / den).min(255) as u8;
            }
            return;
        }
        let den = 16 * den;
        rows.clear();
        rows.resize(2 * width, 0);
        let (above, here) = rows.split_at_mut(width);
        above.copy_from_slice(&frame[..width]);
        for y in 0..height {
            // `above` holds row y - 1 as it was (row 0 for the first), `here` row y; the row
            // below is still as it was in the frame.
            here.copy_from_slice(&frame[y * width..(y + 1) * width]);
            let below_start = (y + 1).min(height - 1) * width;
            for x in 0..width {
                let (left, right) = (x.saturating_sub(1), (x + 1).min(width - 1));
                let column = |x: usize| {
                    let below = if y + 1 < height {
                        frame[below_start + x]
                    } else {
                        here[x]
                    };
                    u32::from(above[x]) + 2 * u32::from(here[x]) + u32::from(below)
                };
                let sum = column(left) + 2 * column(x) + column(right);
                frame[y * width + x] = ((sum * num + den / 2) / den).min(255) as u8;
            }
            above.copy_from_slice(here);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 10x10 frame: paper at `paper`, one column of ten pixels of ink at `ink`.
    fn frame(paper: u8, ink: u8) -> Vec<u8> {
        (0..100)
            .map(|i| if i % 10 == 4 { ink } else { paper })
            .collect()
    }

    /// `gray` as the framing takes it: exposed where it needs to be, `None` where it does not.
    fn exposed(gray: &[u8], width: usize, height: usize) -> Option<Vec<u8>> {
        let exposure = Exposure::of(gray, width, height)?;
        let mut frame = gray.to_vec();
        exposure.apply(&mut frame, width, height, &mut Vec::new());
        Some(frame)
    }

    #[test]
    fn a_dark_frame_is_multiplied_until_its_paper_is_at_the_target() {
        // Paper at 24: 90 % of the pixels, so its level is the light. Gain 192 / 24 = 8.
        let dark = frame(24, 3);
        assert_eq!(light_level(&dark), 24);
        assert_eq!(exposed(&dark, 10, 10), Some(frame(192, 24)));
        // 192 / 50 = 3.84: 3 * 3.84 = 11.52 rounds to 12.
        assert_eq!(exposed(&frame(50, 3), 10, 10), Some(frame(192, 12)));
    }

    #[test]
    fn the_gain_is_capped_and_a_frame_of_usual_or_no_light_is_left_alone() {
        // Light 8: 192 / 8 = 24 times would be asked, 16 is given.
        assert_eq!(exposed(&frame(8, 2), 10, 10), Some(frame(128, 32)));
        // A speck above the light clips: 200 * 16 is past 255.
        let mut specked = [10u8; 200];
        specked[17] = 200;
        let out = exposed(&specked, 20, 10).unwrap();
        assert_eq!((out[0], out[17]), (160, 255));
        for untouched in [frame(64, 3), frame(200, 20), frame(3, 0), frame(0, 0)] {
            assert_eq!(Exposure::of(&untouched, 10, 10), None);
        }
    }

    /// A `width x height` checkerboard of `even` and `odd` levels.
    fn checkerboard(width: usize, height: usize, even: u8, odd: u8) -> Vec<u8> {
        (0..width * height)
            .map(|i| {
                if (i % width + i / width).is_multiple_of(2) {
                    even
                } else {
                    odd
                }
            })
            .collect()
    }

    #[test]
    fn a_noisy_frame_is_smoothed_and_a_dark_noisy_one_smoothed_then_multiplied() {
        // Every horizontal neighbour differs by 10: a deviation of 10 / 0.954.
        let dark = checkerboard(4, 4, 20, 30);
        assert!((noise_sigma(&dark, 4) - 10.0 / 0.954).abs() < 1e-4);
        let out = exposed(&dark, 4, 4).unwrap();
        // Inside, the binomial weights give (4 * 20 + 8 * 30 + 4 * 20) / 16 = 25 (and the
        // same around a 30); the corner (0, 0), its edge repeated: (90 + 2 * 90 + 110) / 16 =
        // 23.75. Times the gain 192 / 30: 160 and 152.
        assert_eq!((out[5], out[6], out[10]), (160, 160, 160));
        assert_eq!(out[0], 152);
        // Light enough: smoothed, not multiplied.
        let out = exposed(&checkerboard(4, 4, 150, 250), 4, 4).unwrap();
        assert_eq!((out[5], out[6]), (200, 200));
        // Quiet paper: 10 % of the light is more than its noise, so a lit frame passes.
        let quiet: Vec<u8> = (0..100).map(|i| 200 + (i % 3) as u8 * 5).collect();
        assert_eq!(Exposure::of(&quiet, 10, 10), None);
        // A frame whose size is not its length is left alone, and so is an empty one.
        assert_eq!(Exposure::of(&dark, 3, 4), None);
        let mut empty = Vec::new();
        Exposure::of(&dark, 4, 4)
            .unwrap()
            .apply(&mut empty, 4, 0, &mut Vec::new());
        assert!(empty.is_empty());
    }

    #[test]
    fn a_lit_frame_whose_ink_is_faint_for_its_noise_is_smoothed_and_a_clear_one_is_not() {
        // Paper at 195 and 205 in a checkerboard: a noise of 10 / 0.954 = 10.5 levels, under
        // 10 % of the light (205), so the light rule leaves it.
        let mut frame = checkerboard(20, 20, 195, 205);
        assert!((noise_sigma(&frame, 20) - 10.0 / 0.954).abs() < 1e-4);
        // Two of its 400 pixels of faint ink (half a percent) at 150: the median is the 200th
        // level, 195, so the ink reaches 45 levels, 4.3 deviations of the noise, under 6.
        frame[0] = 150;
        frame[21] = 150;
        assert_eq!(ink_reach(&frame), 45.0);
        let faint = Exposure::of(&frame, 20, 20).unwrap();
        assert_eq!(
            faint,
            Exposure {
                num: 1,
                den: 1,
                smooth: true
            }
        );
        // The same ink at 100 reaches 95 levels: 9 deviations, clear of the noise.
        frame[0] = 100;
        frame[21] = 100;
        assert_eq!(ink_reach(&frame), 95.0);
        assert_eq!(Exposure::of(&frame, 20, 20), None);
        // Faint ink under a quiet sensor (a noise of 5 levels, under the 8 it takes): untouched.
        let mut quiet = checkerboard(20, 20, 198, 203);
        quiet[0] = 180;
        quiet[21] = 180;
        assert_eq!(Exposure::of(&quiet, 20, 20), None);
        assert_eq!(ink_reach(&[]), 0.0);
    }

    #[test]
    fn the_smoothing_in_place_is_the_filter_over_the_frame_as_it_was() {
        // A dark, noisy 7x5 frame of scrambled levels, against the filter written plainly.
        let (width, height) = (7, 5);
        let gray: Vec<u8> = (0..35u32).map(|i| (i * 37 % 41) as u8).collect();
        let exposure = Exposure::of(&gray, width, height).unwrap();
        assert!(exposure.smooth);
        let at = |x: usize, y: usize| u32::from(gray[y.min(height - 1) * width + x.min(width - 1)]);
        let mut expected = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let (up, left) = (y.saturating_sub(1), x.saturating_sub(1));
                let column = |x| at(x, up) + 2 * at(x, y) + at(x, y + 1);
                let sum = column(left) + 2 * column(x) + column(x + 1);
                let den = 16 * exposure.den;
                expected.push(((sum * exposure.num + den / 2) / den).min(255) as u8);
            }
        }
        assert_eq!(exposed(&gray, width, height), Some(expected));
    }

    #[test]
    fn light_ink_on_a_dark_board_sets_the_light_and_a_few_specks_do_not() {
        // Chalk at 40 on a board at 6: the ink is 10 % of the frame, more than 1 %.
        assert_eq!(light_level(&frame(6, 40)), 40);
        // One speck at 255 in 200 pixels of paper at 30: half a percent, under the share.
        let mut specked = [30u8; 200];
        specked[17] = 255;
        assert_eq!(light_level(&specked), 30);
        assert_eq!(light_level(&[]), 0);
    }
}
