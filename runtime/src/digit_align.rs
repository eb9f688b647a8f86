//! Keeps a framed digit's stroke width and slant where the model knows them when the camera
//! or the pen changes.
//!
//! Why: much of what a new view costs happens before the model: a turned camera slants every
//! digit, a thicker pen blurs its strokes together, and the model's units do not respond to
//! what they never saw. A model that learns from a few labels rebuilds little of that
//! (RESULTS: with a label on every frame, a readout refitted to the frozen features wins back
//! 58 % of a 30-degree turn's drop). But both are measurable without labels: the strokes'
//! width (twice the ink's area over its perimeter) and the angle of the digit's long axis from
//! the vertical (from its second moments, as in the deskewing of LeCun et al. 1998).
//! [`DigitAlignment`] keeps their means over the first `calibration` frames as the reference
//! and exponential means over the recent frames, per class the device answered (so that a
//! stream of mostly one class does not read as a new view, as in
//! [`crate::align::HiddenAlignment`]), and the [`Warp`] it proposes turns and thins each digit
//! by `reference - recent`, averaged over the classes that count (see [`DigitAlignment::warp`]
//! for when a part counts). When the original view comes back, the recent means return and the
//! warp vanishes.
//!
//! What is observed is the digit as framed, before any warp, so the statistics do not chase
//! their own correction.

use alloc::vec;
use alloc::vec::Vec;
use serde_json::{Value, json};

use crate::digit_warp::{MAX_WIDTH_CHANGE, Warp};

/// Frames the recent means span, by default: each class's mean spans its tenth of them, so a
/// warp follows a new view, and vanishes when the original view returns, within about three
/// hundred frames. Measured on `synthetic:tilt` (seeds 0 and 1) without labels: with 500
/// frames the warp faded slowly after the return, and the return's 1000 frames scored 1.1
/// and 1.6 points below a frozen device; with 100, 0.1 above and 0.7 below, and the shifted
/// frames gained as much.
pub const DEFAULT_DIGIT_HORIZON_FRAMES: u32 = 100;
/// Frames the fast pooled means span (see [`DigitAlignment::warp`]). Measured on
/// `synthetic:tilt` (seeds 0 and 1) without labels: with 25 frames the first 200 frames of the
/// return scored 3 points below a frozen device (seed 1) while the warp faded; with 10, 1.5.
const FAST_FRAMES: f32 = 10.0;
/// Classes that must count before any warp: fewer cannot show whether they agree.
const MIN_CLASSES: usize = 3;
/// Classes the agreement is judged over (the first that count, beyond a digit set's ten).
const MAX_CLASSES: usize = 64;
/// How many spreads the classes' mean offset must reach to count (see
/// [`DigitAlignment::warp`]).
const COHERENCE: f32 = 2.0;
/// Digits a class needs in both its reference and its recent mean before it counts.
const MIN_DIGITS: u64 = 5;
/// Below these (3 degrees, a sixth of a pixel) the warp is left out: a correction this small is
/// not worth resampling the digit for. Set by hand, not tuned.
const ANGLE_DEAD_ZONE: f32 = 0.05;
const WIDTH_DEAD_ZONE: f32 = 0.15;
/// The largest turn proposed (35 degrees): beyond it a 6 and a 9, or a 7 and a 1, trade places.
const MAX_ANGLE: f32 = 0.6;

/// What [`digit_stats`] measures of a framed digit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DigitStats {
    /// Twice the ink's area over its perimeter (both from the gray levels): the width of a long
    /// stroke, in pixels of the 28x28 field.
    pub width: f32,
    /// Angle of the digit's long axis from the vertical, radians in (-pi/2, pi/2]: positive
    /// when the stroke runs down and to the right (x right, y down).
    pub angle: f32,
    /// How sure that angle is: `(l1 - l2) / (l1 + l2)` of the second moments' eigenvalues, 0
    /// for a round blob, 1 for a line.
    pub elongation: f32,
}

/// The stroke width and axis of a framed digit (28x28, light ink on black); `None` for an
/// empty field.
pub fn digit_stats(digit: &[u8; 784]) -> Option<DigitStats> {
    let ink = |x: usize, y: usize| f32::from(digit[y * 28 + x]) / 255.0;
    let (mut area, mut perimeter, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for y in 0..28 {
        for x in 0..28 {
            let v = ink(x, y);
            area += v;
            mx += v * x as f32;
            my += v * y as f32;
            // Each edge between two pixels counted once; the field's border is empty.
            let right = if x + 1 < 28 { ink(x + 1, y) } else { 0.0 };
            let below = if y + 1 < 28 { ink(x, y + 1) } else { 0.0 };
            perimeter += (v - right).abs() + (v - below).abs();
            if x == 0 {
                perimeter += v;
            }
            if y == 0 {
                perimeter += v;
            }
        }
    }
    if area <= 0.0 || perimeter <= 0.0 {
        return None;
    }
    let (cx, cy) = (mx / area, my / area);
    let (mut m20, mut m02, mut m11) = (0.0f32, 0.0f32, 0.0f32);
    for y in 0..28 {
        for x in 0..28 {
            let v = ink(x, y);
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            m20 += v * dx * dx;
            m02 += v * dy * dy;
            m11 += v * dx * dy;
        }
    }
    let spread = m20 + m02;
    let elongation = if spread > 0.0 {
        libm::sqrtf((m20 - m02) * (m20 - m02) + 4.0 * m11 * m11) / spread
    } else {
        0.0
    };
    Some(DigitStats {
        width: 2.0 * area / perimeter,
        angle: 0.5 * libm::atan2f(2.0 * m11, m02 - m20),
        elongation,
    })
}

/// One class's means: the width, and the angle weighted by elongation (kept as the weighted
/// sum and the weights' sum, both averaged at the same rate, so the angle's mean follows as
/// fast as the width's whatever the digits' elongation).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Means {
    width: f32,
    weighted_angle: f32,
    weight: f32,
    /// Digits taken in.
    count: u64,
}

impl Means {
    /// Moves the means toward one digit's statistics at `rate`.
    fn take(&mut self, stats: DigitStats, weight: f32, rate: f32) {
        self.width += rate * (stats.width - self.width);
        self.weighted_angle += rate * (weight * stats.angle - self.weighted_angle);
        self.weight += rate * (weight - self.weight);
    }

    /// The weighted mean angle (0 before any elongated digit).
    fn angle(&self) -> f32 {
        if self.weight > 0.0 {
            self.weighted_angle / self.weight
        } else {
            0.0
        }
    }
}

/// The reference and recent means of the digits' width and angle, per answered class, and the
/// warp that undoes their difference.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitAlignment {
    reference: Vec<Means>,
    recent: Vec<Means>,
    /// Over all classes: the reference, and a mean over the last few dozen frames.
    pooled_reference: Means,
    fast: Means,
    observed: u64,
    calibration: u64,
    horizon: u32,
}

impl DigitAlignment {
    /// Fresh statistics for `classes` classes (at least 1): the first `calibration` digits set
    /// the reference (at least 1), the recent means span `horizon` frames (at least 1).
    pub fn new(classes: usize, calibration: u64, horizon: u32) -> Self {
        let classes = classes.max(1);
        Self {
            reference: vec![Means::default(); classes],
            recent: vec![Means::default(); classes],
            pooled_reference: Means::default(),
            fast: Means::default(),
            observed: 0,
            calibration: calibration.max(1),
            horizon: horizon.max(1),
        }
    }

    /// The same statistics under another schedule (options of the run, not state).
    pub fn with_schedule(self, calibration: u64, horizon: u32) -> Self {
        Self {
            calibration: calibration.max(1),
            horizon: horizon.max(1),
            ..self
        }
    }

    /// Whether the reference is complete.
    pub fn calibrated(&self) -> bool {
        self.observed >= self.calibration
    }

    /// Takes the statistics of one digit, as framed, that the device answered as `class` (a
    /// class out of range or a non-finite statistic is ignored). A class's reference is the
    /// plain mean of its first digits; its recent mean is exponential with rate `1 /
    /// min(horizon / classes, digits seen)`; angles weigh by their elongation in both.
    pub fn observe(&mut self, stats: DigitStats, class: usize) {
        let finite = stats.width.is_finite() && stats.angle.is_finite();
        if class >= self.reference.len() || !finite || !stats.elongation.is_finite() {
            return;
        }
        self.observed = self.observed.saturating_add(1);
        let weight = stats.elongation.clamp(0.0, 1.0);
        if self.observed <= self.calibration {
            let r = &mut self.reference[class];
            r.count += 1;
            r.take(stats, weight, 1.0 / r.count as f32);
            let p = &mut self.pooled_reference;
            p.count += 1;
            p.take(stats, weight, 1.0 / p.count as f32);
        }
        self.fast.count = self.fast.count.saturating_add(1);
        let fast_rate = 1.0 / (self.fast.count as f32).min(FAST_FRAMES);
        self.fast.take(stats, weight, fast_rate);
        let per_class = (u64::from(self.horizon) / self.reference.len() as u64).max(1);
        let m = &mut self.recent[class];
        m.count = m.count.saturating_add(1);
        m.take(stats, weight, 1.0 / m.count.min(per_class) as f32);
    }

    /// The warp that brings the recent digits back to the reference: the average over the
    /// classes that count of `reference - recent`, nothing before calibration or below the
    /// dead zones, the turn clamped to 0.6 radians.
    ///
    /// A part counts only where the classes agree on it: its mean over the classes at least
    /// twice their spread (standard deviation) about it. Why: a camera turned or a pen changed
    /// moves every class alike, and that is what a warp undoes; a new population of writers
    /// slants some digits one way and others another (measured on the UCI digits: per-class
    /// angle offsets from -0.59 to +0.13 radians, mean -0.2, against -0.34 to -0.68 for a
    /// camera turned 30 degrees), and turning all of them by the mean cost 1.4 points in a
    /// window there.
    ///
    /// A learning model applies only the turn of this warp
    /// ([`crate::digit_view::DigitView::warp`] says why); the width part is still computed
    /// here, with the measurements that shaped it.
    ///
    /// The warp thins strokes that grew but does not widen strokes that shrank. Why: a pen
    /// that thickens blurs a digit's strokes together, and thinning them separates them
    /// again (a thicker pen in the bank: 40 % of the drop won back without labels); a pen that
    /// thins breaks strokes apart, and widening them does not join them (a thinner pen in the
    /// bank: 2 %, a window 0.4 points below a frozen device; thin strokes on grass-textured
    /// paper: -1 % and 0.6 points below, against +6 % and no loss unwarped).
    ///
    /// Each part is also held to what the last few dozen frames, all classes pooled, show:
    /// no more than their own `reference - recent`, and nothing when it points the other way.
    /// Why: the per-class means are steady but slow (each class's spans a tenth of the
    /// horizon), so when the original view comes back they would keep warping it for a few
    /// hundred frames; the pooled fast means see the return within a few dozen. They are
    /// noisy and move with the mix of classes, so they only ever take away from the warp:
    /// under a stream of mostly one class the per-class means say nothing moved and the warp
    /// stays off whatever the pooled ones say.
    pub fn warp(&self) -> Warp {
        if !self.calibrated() {
            return Warp::default();
        }
        // Per class that counts, `reference - recent` of the width and of the angle.
        let mut offsets = [(0.0f32, 0.0f32); MAX_CLASSES];
        let mut counted = 0;
        for (r, m) in self.reference.iter().zip(&self.recent) {
            if r.count >= MIN_DIGITS && m.count >= MIN_DIGITS && counted < MAX_CLASSES {
                offsets[counted] = (r.width - m.width, r.angle() - m.angle());
                counted += 1;
            }
        }
        if counted < MIN_CLASSES {
            return Warp::default();
        }
        let offsets = &offsets[..counted];
        let width = coherent_mean(offsets.iter().map(|o| o.0), counted);
        let angle = coherent_mean(offsets.iter().map(|o| o.1), counted);
        // The smaller of the two where they agree in sign, else nothing.
        let held = |slow: f32, fast: f32| {
            if slow * fast <= 0.0 {
                0.0
            } else {
                slow.signum() * slow.abs().min(fast.abs())
            }
        };
        let p = &self.pooled_reference;
        // Only ever thinner: see the method's note.
        let width = held(width, p.width - self.fast.width).min(0.0);
        let angle = held(angle, p.angle() - self.fast.angle());
        Warp {
            angle: if angle.abs() < ANGLE_DEAD_ZONE {
                0.0
            } else {
                angle.clamp(-MAX_ANGLE, MAX_ANGLE)
            },
            width: if width.abs() < WIDTH_DEAD_ZONE {
                0.0
            } else {
                width.clamp(-MAX_WIDTH_CHANGE, MAX_WIDTH_CHANGE)
            },
        }
    }

    /// The statistics as saved in a state's metadata.
    pub fn to_json(&self) -> Value {
        let means = |m: &[Means]| -> Value {
            m.iter()
                .map(|m| json!([m.width, m.weighted_angle, m.weight, m.count]))
                .collect()
        };
        json!({
            "reference": means(&self.reference),
            "recent": means(&self.recent),
            "pooled": means(&[self.pooled_reference, self.fast]),
            "observed": self.observed,
        })
    }

    /// From [`DigitAlignment::to_json`] with the run's schedule; `None` when anything is
    /// missing, of the wrong length or not finite, so a damaged state starts afresh.
    pub fn from_json(
        value: &Value,
        classes: usize,
        calibration: u64,
        horizon: u32,
    ) -> Option<Self> {
        let means = |key: &str| -> Option<Vec<Means>> {
            value[key]
                .as_array()?
                .iter()
                .map(|m| {
                    let [width, weighted_angle, weight] =
                        [0, 1, 2].map(|i| m[i].as_f64().map(|x| x as f32));
                    let means = Means {
                        width: width?,
                        weighted_angle: weighted_angle?,
                        weight: weight?,
                        count: m[3].as_u64()?,
                    };
                    let finite = [means.width, means.weighted_angle, means.weight]
                        .iter()
                        .all(|x| x.is_finite());
                    finite.then_some(means)
                })
                .collect()
        };
        let mut a = Self::new(classes, calibration, horizon);
        let (reference, recent) = (means("reference")?, means("recent")?);
        let [pooled_reference, fast] = <[Means; 2]>::try_from(means("pooled")?).ok()?;
        if reference.len() != a.reference.len() || recent.len() != a.recent.len() {
            return None;
        }
        a.reference = reference;
        a.recent = recent;
        a.pooled_reference = pooled_reference;
        a.fast = fast;
        a.observed = value["observed"].as_u64()?;
        Some(a)
    }
}

/// The mean of the `n` values, or 0 where it is under [`COHERENCE`] times their standard
/// deviation about it.
fn coherent_mean(values: impl Iterator<Item = f32> + Clone, n: usize) -> f32 {
    let mean = values.clone().sum::<f32>() / n as f32;
    let variance = values.map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
    if mean.abs() >= COHERENCE * libm::sqrtf(variance) {
        mean
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vertical bar `w` pixels wide (whole pixels of ink 255) and `h` tall at column `x0`.
    fn bar(x0: usize, w: usize, h: usize) -> [u8; 784] {
        let mut d = [0u8; 784];
        for y in 4..4 + h {
            for x in x0..x0 + w {
                d[y * 28 + x] = 255;
            }
        }
        d
    }

    #[test]
    fn a_bar_measures_by_hand() {
        // A 3x20 bar: area 60, perimeter 2 * 20 + 2 * 3 = 46, width 120 / 46.
        let s = digit_stats(&bar(10, 3, 20)).unwrap();
        assert!((s.width - 120.0 / 46.0).abs() < 1e-5, "{s:?}");
        assert_eq!(s.angle, 0.0);
        // Second moments: m20 = 20 * (1 + 0 + 1) = 40, m02 = 3 * sum (y - 13.5)^2 over 20
        // rows = 3 * 665 = 1995; elongation (1995 - 40) / (1995 + 40).
        assert!((s.elongation - 1955.0 / 2035.0).abs() < 1e-5, "{s:?}");
        // A stroke running down and to the right has a positive angle.
        let mut d = [0u8; 784];
        for i in 0..20 {
            d[(4 + i) * 28 + 4 + i] = 255;
        }
        let s = digit_stats(&d).unwrap();
        assert!(
            (s.angle - core::f32::consts::FRAC_PI_4).abs() < 1e-5,
            "{s:?}"
        );
        assert!(digit_stats(&[0u8; 784]).is_none());
    }

    fn stats(width: f32, angle: f32) -> DigitStats {
        DigitStats {
            width,
            angle,
            elongation: 1.0,
        }
    }

    #[test]
    fn no_warp_until_calibrated_nor_inside_the_dead_zones() {
        let mut a = DigitAlignment::new(3, 30, 12);
        for i in 0..29 {
            a.observe(stats(2.0, 0.1), i % 3);
        }
        assert!(!a.calibrated());
        assert!(a.warp().is_identity());
        a.observe(stats(2.0, 0.1), 2);
        assert!(a.calibrated() && a.warp().is_identity());
        // At rate 1/4 (horizon 12 over 3 classes) one digit per class moves every recent mean
        // to 2.1 and 0.13, and the classes agree: inside both dead zones all the same.
        for class in 0..3 {
            a.observe(stats(2.4, 0.22), class);
        }
        assert!(a.warp().is_identity(), "{:?}", a.warp());
        // Twice more, and the width's offset (-0.1 - 0.075 - 0.056) leaves its dead zone.
        for _ in 0..2 {
            for class in 0..3 {
                a.observe(stats(2.4, 0.1), class);
            }
        }
        let w = a.warp();
        assert!(w.width < -0.15 && w.angle == 0.0, "{w:?}");
    }

    #[test]
    fn a_new_pen_and_a_turned_camera_give_the_warp_back_by_hand() {
        let mut a = DigitAlignment::new(3, 30, 6);
        for i in 0..30 {
            a.observe(stats(2.0 + (i % 3) as f32, 0.1), i % 3);
        }
        // Classes' reference widths 2, 3 and 4, angle 0.1 (pooled: 3, 0.1). Horizon 6 over 3
        // classes: recent rate 1/2. The new view: strokes 1 pixel wider, turned by 0.3, in
        // every class. After 300 frames the fast pooled means (10 frames) have followed too;
        // the pooled width, fed 3, 4 and 5 in turn at rate 1/10, swings about 4 by under 0.1.
        for i in 0..300 {
            a.observe(stats(3.0 + (i % 3) as f32, 0.4), i % 3);
        }
        let w = a.warp();
        assert!(
            (w.width + 1.0).abs() < 0.1 && (w.angle + 0.3).abs() < 1e-3,
            "{w:?}"
        );
        // A thinner pen is not widened.
        for i in 0..300 {
            a.observe(stats(1.0 + (i % 3) as f32, 0.1), i % 3);
        }
        assert!(a.warp().is_identity(), "{:?}", a.warp());
        // Turns beyond 0.6 radians are clamped.
        for i in 0..300 {
            a.observe(stats(2.0 + (i % 3) as f32, 1.2), i % 3);
        }
        assert_eq!(a.warp().angle, -0.6);
    }

    #[test]
    fn classes_that_disagree_give_no_warp() {
        let mut a = DigitAlignment::new(3, 30, 6);
        for i in 0..30 {
            a.observe(stats(2.0, 0.0), i % 3);
        }
        // Class 0 slants by 0.4, class 1 by -0.2, class 2 not at all: mean 0.067, spread
        // 0.25. The widths all grow by 0.5: mean 0.5, spread 0: that part counts.
        for i in 0..300 {
            let angle = [0.4, -0.2, 0.0][i % 3];
            a.observe(stats(2.5, angle), i % 3);
        }
        let w = a.warp();
        assert_eq!(w.angle, 0.0, "{w:?}");
        assert!((w.width + 0.5).abs() < 1e-3, "{w:?}");
        // Fewer than three classes never warp.
        let mut two = DigitAlignment::new(2, 20, 4);
        for i in 0..20 {
            two.observe(stats(2.0, 0.0), i % 2);
        }
        for i in 0..300 {
            two.observe(stats(2.0, 0.5), i % 2);
        }
        assert!(two.warp().is_identity());
    }

    #[test]
    fn the_warp_is_held_to_what_the_last_frames_show() {
        // Horizon 150 over 3 classes: each class's recent mean at rate 1/50, slow.
        let mut a = DigitAlignment::new(3, 30, 150);
        for i in 0..30 {
            a.observe(stats(2.0, 0.0), i % 3);
        }
        for i in 0..1500 {
            a.observe(stats(2.0, 0.4), i % 3);
        }
        assert!((a.warp().angle + 0.4).abs() < 1e-3, "{:?}", a.warp());
        // The original view returns: 10 frames move each slow mean back by under a tenth of
        // the way, the fast pooled one by 1 - 0.9^10 (two thirds): the warp is the smaller,
        // the fast one's 0.4 * 0.9^10.
        for i in 0..10 {
            a.observe(stats(2.0, 0.0), i % 3);
        }
        let expected = -0.4 * 0.9f32.powi(10);
        assert!(
            (a.warp().angle - expected).abs() < 1e-3,
            "{:?} vs {expected}",
            a.warp()
        );
        // Frames that point the other way from the slow means: no warp.
        for i in 0..40 {
            a.observe(stats(2.0, -0.3), i % 3);
        }
        assert_eq!(a.warp().angle, 0.0);
    }

    #[test]
    fn a_stream_of_one_class_is_not_a_new_view() {
        let mut a = DigitAlignment::new(3, 30, 12);
        for i in 0..30 {
            a.observe(stats(2.0 + (i % 3) as f32, 0.0), i % 3);
        }
        // Class 1 alone, as before: the pooled means move to 3.0, the per-class ones stay.
        for _ in 0..100 {
            a.observe(stats(3.0, 0.0), 1);
        }
        assert!(a.warp().is_identity(), "{:?}", a.warp());
    }

    #[test]
    fn bad_statistics_are_ignored_and_json_round_trips() {
        let mut a = DigitAlignment::new(2, 2, 5);
        a.observe(stats(f32::NAN, 0.0), 0);
        a.observe(stats(2.0, 0.0), 2);
        assert_eq!(a.observed, 0);
        a.observe(stats(2.25, 0.125), 0);
        a.observe(stats(1.0 / 3.0, -0.5), 1);
        a.observe(stats(2.5, 0.0), 1);
        let back = DigitAlignment::from_json(&a.to_json(), 2, 2, 5).unwrap();
        assert_eq!(back, a);
        assert!(DigitAlignment::from_json(&a.to_json(), 3, 2, 5).is_none());
        assert!(DigitAlignment::from_json(&Value::Null, 2, 2, 5).is_none());
        let mut damaged = a.to_json();
        damaged["recent"][1][0] = json!("x");
        assert!(DigitAlignment::from_json(&damaged, 2, 2, 5).is_none());
    }
}
