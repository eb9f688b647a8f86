//! Light that changes row by row taken off a frame before it is framed: a rolling shutter
//! under flickering light.
//!
//! Why: a camera whose sensor reads its rows one after another (nearly every CMOS camera)
//! under a light that flickers with the mains or an LED's dimmer sees the flicker as bright
//! and dark bands across the frame. The framing reads light against a plane, or a surface no
//! finer than a quarter of the frame, and takes bands a dozen rows apart for ink: with the
//! rows' light 35 % up and down, the built-in device read 17 % of MNIST's digits, against 99 %
//! without the bands (docs/RESULTS.md, "A camera in a dim room, under flickering light").
//!
//! So where the frame's rows differ in light as its columns do not, each row is multiplied by
//! the light of the median row over its own: the row's light is its median level (the paper
//! under dark ink, the board under light ink: most of any row), and a factor is held to
//! 1/2..2 so that a row the ink covers more than half of is not wiped out. Banded means: the
//! rows' light, smoothed over [`PROFILE_ROWS`] rows (bands are wider; a ruled page's lines
//! and a textured paper's grain are not), changes from row to row by [`BANDED_ROUGHNESS`]
//! times the frame's light in all, and [`BANDED_RATIO`] times as much as the columns' light
//! does from column to column. A frame without bands passes untouched, bit for bit.

use alloc::vec::Vec;

use crate::exposure::light_level;

/// Rows (and columns) over which the light of each is smoothed before the bands are measured.
pub const PROFILE_ROWS: usize = 5;
/// How much the rows' smoothed light must change from row to row, in all, for bands: 2.5
/// times the frame's light. Bands 35 % deep, 12 to 30 rows apart, change it 3.1 to 5.7 times
/// in 96 rows; a ruled page 1.4 to 2.0, gravel's grain under paper 1.6 to 2.1, a shadow's
/// edge or MNIST-C's corruptions at most 1.4.
pub const BANDED_ROUGHNESS: f32 = 2.5;
/// How many times more the rows' light must change than the columns' (a lamp to one side
/// changes both, a texture both).
pub const BANDED_RATIO: f32 = 4.0;
/// The most a row's light is multiplied or divided by.
pub const MOST_ROW_GAIN: f32 = 2.0;

/// The rows' light of the last frame measured, and the buffers that measure it, grown once
/// to the camera's size.
#[derive(Debug, Clone, Default)]
pub struct RowLight {
    /// Each row's median (kept only for a banded frame), then each column's.
    rows: Vec<f32>,
    columns: Vec<f32>,
    /// One row's or column's pixels, to find its median.
    line: Vec<u8>,
    /// The median row's light.
    target: f32,
}

impl RowLight {
    /// Grows the buffers to a `width x height` frame.
    pub fn reserve(&mut self, width: usize, height: usize) {
        self.rows.reserve(height.saturating_sub(self.rows.len()));
        self.columns
            .reserve(width.saturating_sub(self.columns.len()));
        self.line
            .reserve(width.max(height).saturating_sub(self.line.len()));
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        (self.rows.capacity() + self.columns.capacity()) * 4 + self.line.capacity()
    }

    /// Whether the `width x height` gray frame `gray` is banded (see the module's docs);
    /// when it is, [`RowLight::take_off`] brings its rows to one light.
    pub fn is_banded(&mut self, gray: &[u8], width: usize, height: usize) -> bool {
        self.reserve(width, height);
        self.rows.clear();
        if width < 2 || height < 2 || width.checked_mul(height) != Some(gray.len()) {
            return false;
        }
        let Self {
            rows,
            columns,
            line,
            target,
        } = self;
        for row in gray.chunks_exact(width) {
            line.clear();
            line.extend_from_slice(row);
            rows.push(median(line));
        }
        columns.clear();
        for x in 0..width {
            line.clear();
            line.extend(gray.iter().skip(x).step_by(width));
            columns.push(median(line));
        }
        let (across_rows, across_columns) = (roughness(rows), roughness(columns));
        // The frame's light (a histogram of it, which the exposure reads again) only where the
        // rows already stand out from the columns: most frames stop before it.
        if across_rows <= 0.0
            || across_rows < BANDED_RATIO * across_columns
            || across_rows < BANDED_ROUGHNESS * f32::from(light_level(gray))
        {
            rows.clear();
            return false;
        }
        // The median row's light, the level every row is brought to.
        line.clear();
        line.extend(rows.iter().map(|&v| v as u8));
        *target = median(line);
        true
    }

    /// Multiplies each row of `frame` (the frame [`RowLight::is_banded`] just found banded, or
    /// a copy of it, `width` wide) by the median row's light over its own, in place. Does
    /// nothing unless that frame was banded.
    pub fn take_off(&self, frame: &mut [u8], width: usize) {
        if width == 0 || frame.len() != self.rows.len() * width {
            return;
        }
        for (row, &light) in frame.chunks_exact_mut(width).zip(&self.rows) {
            let gain = (self.target / light.max(1.0)).clamp(1.0 / MOST_ROW_GAIN, MOST_ROW_GAIN);
            for v in row {
                *v = libm::roundf(f32::from(*v) * gain).clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// The median of `values` (the lower of the two middle ones), reordering them; 0 for none.
fn median(values: &mut [u8]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let middle = (values.len() - 1) / 2;
    f32::from(*values.select_nth_unstable(middle).1)
}

/// How much `profile`, smoothed by a running mean over [`PROFILE_ROWS`] (its ends repeated),
/// changes from one entry to the next, in all.
fn roughness(profile: &[f32]) -> f32 {
    let n = profile.len();
    let half = PROFILE_ROWS / 2;
    let smoothed = |i: usize| {
        let sum: f32 = (i as isize - half as isize..=(i + half) as isize)
            .map(|j| profile[j.clamp(0, n as isize - 1) as usize])
            .sum();
        sum / PROFILE_ROWS as f32
    };
    (1..n).map(|i| (smoothed(i) - smoothed(i - 1)).abs()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `side x side` frame of paper at 200 whose rows' light is multiplied by `light(y)`,
    /// with a dark vertical stroke (level 20) down column 5.
    fn banded(side: usize, light: impl Fn(usize) -> f32) -> Vec<u8> {
        let mut out = Vec::new();
        for y in 0..side {
            for x in 0..side {
                let v = if x == 5 { 20.0 } else { 200.0 };
                out.push(libm::roundf(v * light(y)).min(255.0) as u8);
            }
        }
        out
    }

    /// `frame` with its bands taken off, `None` where it has none.
    fn leveled(frame: &[u8], width: usize, height: usize) -> Option<Vec<u8>> {
        let mut row_light = RowLight::default();
        if !row_light.is_banded(frame, width, height) {
            return None;
        }
        let mut out = frame.to_vec();
        row_light.take_off(&mut out, width);
        Some(out)
    }

    /// Full light for 6 rows (or columns), then half light for 6, and so on.
    fn runs_of_six(i: usize) -> f32 {
        if (i / 6).is_multiple_of(2) { 1.0 } else { 0.5 }
    }

    #[test]
    fn bands_across_the_rows_are_brought_to_the_median_rows_light() {
        // Rows alternately at full and at half light, in runs of 6: the rows' smoothed light
        // changes by 100 at each of the 7 edges, 700 in all, more than 2.5 times the light
        // (200); the columns' only around the stroke, 36 in all.
        let frame = banded(48, runs_of_six);
        // The median row of 24 at 200 and 24 at 100 is the lower middle: 100. Lit rows are
        // halved, dim ones kept: the paper at 100 everywhere, the stroke at 10.
        assert_eq!(leveled(&frame, 48, 48), Some(banded(48, |_| 0.5)));
    }

    #[test]
    fn a_frame_without_bands_a_lamp_to_one_side_or_a_ruled_page_passes_untouched() {
        let even = banded(36, |_| 1.0);
        // A lamp above: the light falls from 1 to 0.6 down the frame, one change in all.
        let lamp = banded(36, |y| 1.0 - 0.4 * y as f32 / 35.0);
        // A ruled page: a line at 0.8 every 6 rows, narrower than the smoothing.
        let ruled = banded(36, |y| if y % 6 == 0 { 0.8 } else { 1.0 });
        for frame in [&even, &lamp, &ruled] {
            assert_eq!(leveled(frame, 36, 36), None);
        }
        // The same bands down the columns are not the rolling shutter's.
        let columns: Vec<u8> = (0..36 * 36)
            .map(|i| libm::roundf(200.0 * runs_of_six(i % 36)) as u8)
            .collect();
        assert_eq!(leveled(&columns, 36, 36), None);
        // A frame whose size is not its length is left alone, and so is a black one.
        assert_eq!(leveled(&even, 35, 36), None);
        assert_eq!(leveled(&[0; 36 * 36], 36, 36), None);
    }

    #[test]
    fn a_row_the_ink_covers_is_not_multiplied_past_twice() {
        // Bands as above, and row 20 all ink (level 20): its median is the ink, and its gain
        // stops at 2 instead of 100 / 20 = 5.
        let mut frame = banded(48, runs_of_six);
        frame[20 * 48..21 * 48].fill(20);
        let out = leveled(&frame, 48, 48).unwrap();
        assert!(out[20 * 48..21 * 48].iter().all(|&v| v == 40));
    }
}
