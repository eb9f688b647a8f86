//! `synthetic:SCENARIO`: MNIST digits written on paper, seen through a cheap camera.
//!
//! Why simulate: a model trained on MNIST's clean white-on-black 28x28 digits meets something
//! else on a device: dark ink on light paper, at any size and place in a larger frame, under
//! uneven light, slightly out of focus, with sensor noise. This source makes exactly that, with
//! known labels and from a seed, so the whole device path (framing, normalisation, int8
//! inference, on-device learning) is measured on the same frames every run.
//!
//! Per frame, drawn from the seeded stream in this order: a sample digit; a scale; a sub-pixel
//! position that keeps the digit's box inside the 160x120 frame (or, for a digit larger than the
//! frame, its centre near the frame's); the paper's brightness and a linear illumination
//! gradient; the ink's darkness. Each is drawn as a fraction of the range the frame's [`View`]
//! gives, so every view of one seed shows the same digits at the same places. Then the view's
//! pen (thicker or thinner strokes), the camera's pose (a rotation about the digit's centre, a
//! keystone), box blurs (focus), optionally a negative image, and additive Gaussian sensor
//! noise, clamped to 0..=255.
//!
//! A [`Scenario`] decides which view each frame gets (see [`super::scenario`]).
//!
//! `fashion-after-mnist` keeps the original camera but changes what it looks at: from the
//! middle of the run on, Fashion-MNIST items (printed the same way) instead of digits, class i
//! of Fashion-MNIST on the model's output i. A new task on the same ten outputs: the frozen
//! device scores near chance on it, and only a device that is told labels can learn it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use image::ImageFormat;
use plastic_runtime::preprocess::PixelFormat;

use super::dir::decode;
use super::scenario::{DEFAULT_FRAMES, Scenario};
use super::view::{View, change_pen};
use super::{Camera, CameraError, Frame, label_from_name};
use crate::rng::SplitMix64;

/// Frame width of the simulated sensor (QQVGA).
pub const WIDTH: usize = 160;
/// Frame height of the simulated sensor (QQVGA).
pub const HEIGHT: usize = 120;
/// Side of a sample digit.
pub const DIGIT_SIDE: usize = 28;

/// One labelled sample digit, MNIST style: 28x28, white ink on black.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digit {
    /// 784 gray bytes, row-major.
    pub pixels: Vec<u8>,
    /// The class, from the file name.
    pub label: u8,
    /// Where it was read from.
    pub path: PathBuf,
}

/// The simulated camera.
#[derive(Debug)]
pub struct SyntheticDigits {
    digits: Vec<Digit>,
    rng: SplitMix64,
    /// Frames captured so far (the index of the next one).
    captured: u64,
    /// Frames seen through `shifted` instead of [`View::ORIGINAL`].
    shift: Option<Range<u64>>,
    /// The view during the shift.
    shifted: View,
    /// Indices of the digits of each class (for a view that favours one class).
    by_class: Vec<Vec<usize>>,
    /// The digit after the view's pen.
    pen: [u8; 784],
    frames: u64,
    /// Light reaching the sensor before blur and noise, 0..255 scale; also the ping-pong
    /// buffer of the blur passes.
    canvas: Vec<f32>,
    /// The canvas after the box blur.
    blurred: Vec<f32>,
    /// A frame buffer handed back by [`Camera::recycle`], reused for the next capture.
    spare: Option<Vec<u8>>,
    last: Option<usize>,
    /// What the camera looks at during the shift instead of `digits`, when set.
    new_task: Option<Vec<Digit>>,
}

/// Loads the sample digits of `dir` (files `NNNN_L.png`, 28x28 gray), sorted by name.
/// Samples are shipped with the simulator, so any unusable one is an error, not a skip, and so
/// is a folder without any.
pub fn load_samples(dir: &Path) -> Result<Vec<Digit>, CameraError> {
    let io = |source| CameraError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let image = path
            .extension()
            .is_some_and(|e| ImageFormat::from_extension(e).is_some());
        if path.is_file() && image && !hidden {
            paths.push(path);
        }
    }
    paths.sort();
    let digits = paths
        .into_iter()
        .map(|path| load_digit(&path))
        .collect::<Result<Vec<_>, _>>()?;
    if digits.is_empty() {
        return Err(CameraError::Empty {
            path: dir.to_path_buf(),
            what: "sample digits (files named like 0000_7.png)",
        });
    }
    Ok(digits)
}

impl SyntheticDigits {
    /// Loads the sample digits of `dir` (see `load_samples`) and seeds the stream of the
    /// original camera.
    pub fn open(dir: &Path, seed: u64) -> Result<Self, CameraError> {
        let digits = load_samples(dir)?;
        Ok(Self::from_digits(digits, seed).expect("load_samples returns at least one digit"))
    }

    /// A camera over digits already in memory, the original camera throughout; `None` when
    /// there are no digits.
    pub fn from_digits(digits: Vec<Digit>, seed: u64) -> Option<Self> {
        Self::scenario(digits, seed, Scenario::Digits, DEFAULT_FRAMES)
    }

    /// A camera over `digits` that plays `scenario` over a run of `frames` frames (the shift is
    /// placed relative to it); `None` when there are no digits.
    pub fn scenario(
        digits: Vec<Digit>,
        seed: u64,
        scenario: Scenario,
        frames: u64,
    ) -> Option<Self> {
        if digits.is_empty() {
            return None;
        }
        let mut by_class = vec![Vec::new(); 256];
        for (i, d) in digits.iter().enumerate() {
            by_class[usize::from(d.label)].push(i);
        }
        Some(Self {
            digits,
            rng: SplitMix64::new(seed),
            captured: 0,
            shift: scenario.shift(frames),
            shifted: scenario.shifted_view(),
            by_class,
            pen: [0; 784],
            frames,
            canvas: vec![0.0; WIDTH * HEIGHT],
            blurred: vec![0.0; WIDTH * HEIGHT],
            spare: None,
            last: None,
            new_task: None,
        })
    }

    /// The view of the frame with 0-based index `frame`.
    pub fn view_at(&self, frame: u64) -> View {
        match &self.shift {
            Some(range) if range.contains(&frame) && self.new_task.is_none() => self.shifted,
            _ => View::ORIGINAL,
        }
    }

    /// Shows `items` instead of the digits during the shift, through the original camera
    /// (the `fashion-after-mnist` scenario); ignored when `items` is empty.
    pub fn with_new_task(mut self, items: Vec<Digit>) -> Self {
        self.new_task = Some(items).filter(|items| !items.is_empty());
        self
    }

    /// The sample digits the stream draws from.
    pub fn digits(&self) -> &[Digit] {
        &self.digits
    }

    /// The sample shown in the latest frame (for checking what the preprocessing recovers).
    pub fn last_digit(&self) -> Option<&Digit> {
        let pool = match (&self.new_task, &self.shift) {
            (Some(items), Some(range)) if range.contains(&self.captured.saturating_sub(1)) => items,
            _ => &self.digits,
        };
        self.last.map(|i| &pool[i])
    }

    /// Renders the next scene into `out` (`WIDTH * HEIGHT` gray bytes) through the frame's
    /// view; returns its label.
    fn render(&mut self, frame: u64, out: &mut [u8]) -> u8 {
        let view = self.view_at(frame);
        let pool = match (&self.new_task, &self.shift) {
            (Some(items), Some(range)) if range.contains(&frame) => items,
            _ => &self.digits,
        };
        let rng = &mut self.rng;
        let mut index = rng.below(pool.len());
        if let Some((class, share)) = view.favoured
            && rng.next_f32() < share
        {
            let members = &self.by_class[usize::from(class)];
            if !members.is_empty() {
                index = members[rng.below(members.len())];
            }
        }
        self.last = Some(index);
        let digit = &pool[index];
        let lerp = |(lo, hi): (f32, f32), u: f32| lo + (hi - lo) * u;
        let scale = lerp(view.scale, rng.next_f32());
        let size = DIGIT_SIDE as f32 * scale;
        // A digit larger than the frame is placed with its centre within a fifth of the
        // frame's size from the frame's centre (the uniform over a reversed range would do it
        // only by accident).
        let place = |extent: f32, u: f32| {
            if size <= extent {
                (extent - size) * u
            } else {
                (extent - size) / 2.0 + extent * 0.2 * (u - 0.5)
            }
        };
        let ox = place(WIDTH as f32, rng.next_f32());
        let oy = place(HEIGHT as f32, rng.next_f32());
        // Paper brightness and a linear light gradient in a random direction: up to +-30
        // levels across the frame in the original view, enough that a fixed threshold would
        // fail.
        let paper = lerp(view.paper, rng.next_f32());
        let angle = rng.uniform(0.0, core::f32::consts::TAU);
        let strength = lerp(view.gradient, rng.next_f32());
        let (gx, gy) = (
            strength * angle.cos() / WIDTH as f32,
            strength * angle.sin() / HEIGHT as f32,
        );
        let ink = lerp(view.ink, rng.next_f32());
        change_pen(&digit.pixels, view.pen, &mut self.pen);

        // The camera turned by theta about the digit's centre: each sensor pixel looks at the
        // scene point rotated by -theta. The digit's 20x20 core, rotated, stays within its
        // 28x28 box, so the placement above keeps it inside the frame at any angle. A keystone
        // changes the horizontal magnification along the digit's height.
        let (sin, cos) = view.rotation_deg.to_radians().sin_cos();
        let half = size / 2.0;
        let (cx, cy) = (ox + half, oy + half);
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                let (sx, sy) = (cos * dx + sin * dy, cos * dy - sin * dx);
                let widen = (1.0 + view.keystone * sy / half).max(0.2);
                let sx = sx / widen;
                let light = paper
                    + gx * (x as f32 - WIDTH as f32 / 2.0)
                    + gy * (y as f32 - HEIGHT as f32 / 2.0);
                // Scene point mapped back into the digit's pixel grid.
                let u = (sx + half) / scale - 0.5;
                let v = (sy + half) / scale - 0.5;
                let d = bilinear(&self.pen, u, v) / 255.0;
                self.canvas[y * WIDTH + x] = light * (1.0 - ink * d);
            }
        }
        // Blur passes ping-pong between the two buffers.
        let mut result_in_blurred = false;
        for _ in 0..view.blur_passes {
            if result_in_blurred {
                box_blur_3x3(&self.blurred, &mut self.canvas, WIDTH, HEIGHT);
            } else {
                box_blur_3x3(&self.canvas, &mut self.blurred, WIDTH, HEIGHT);
            }
            result_in_blurred = !result_in_blurred;
        }
        let image = if result_in_blurred {
            &self.blurred
        } else {
            &self.canvas
        };
        for (o, &v) in out.iter_mut().zip(image) {
            let v = if view.invert { 255.0 - v } else { v };
            let noisy = v + view.noise_sigma * rng.gaussian();
            *o = noisy.round().clamp(0.0, 255.0) as u8;
        }
        digit.label
    }
}

impl Camera for SyntheticDigits {
    fn frame_bytes(&self) -> Option<usize> {
        Some(WIDTH * HEIGHT)
    }

    fn next_frame(&mut self) -> Option<Result<Frame, CameraError>> {
        let mut data = self.spare.take().unwrap_or_default();
        data.resize(WIDTH * HEIGHT, 0);
        let frame = self.captured;
        self.captured += 1;
        let label = self.render(frame, &mut data);
        Some(Ok(Frame {
            width: WIDTH,
            height: HEIGHT,
            format: PixelFormat::Gray8,
            data,
            label: Some(label),
        }))
    }

    fn recycle(&mut self, frame: Frame) {
        self.spare = Some(frame.data);
    }

    fn default_frames(&self) -> Option<u64> {
        Some(self.frames)
    }

    fn shift(&self) -> Option<Range<u64>> {
        self.shift.clone()
    }
}

/// Reads one sample: its label from the name, its pixels as 28x28 gray.
fn load_digit(path: &Path) -> Result<Digit, CameraError> {
    let bad = |reason: String| CameraError::BadSample {
        path: path.to_path_buf(),
        reason,
    };
    let label = label_from_name(path)
        .ok_or_else(|| bad("its name has no `_<label>` suffix (like 0000_7.png)".into()))?;
    let image = decode(path)?.into_luma8();
    if image.dimensions() != (DIGIT_SIDE as u32, DIGIT_SIDE as u32) {
        return Err(bad(format!(
            "it is {}x{}, samples must be 28x28",
            image.width(),
            image.height()
        )));
    }
    Ok(Digit {
        pixels: image.into_raw(),
        label,
        path: path.to_path_buf(),
    })
}

/// Bilinear sample of a 28x28 image at (`u`, `v`) in pixel-centre coordinates; black outside.
fn bilinear(pixels: &[u8], u: f32, v: f32) -> f32 {
    let side = DIGIT_SIDE as isize;
    let (x0, y0) = (u.floor(), v.floor());
    let (fx, fy) = (u - x0, v - y0);
    let (x0, y0) = (x0 as isize, y0 as isize);
    if x0 < -1 || y0 < -1 || x0 >= side || y0 >= side {
        return 0.0;
    }
    let at = |x: isize, y: isize| {
        if (0..side).contains(&x) && (0..side).contains(&y) {
            f32::from(pixels[(y * side + x) as usize])
        } else {
            0.0
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
    let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// 3x3 mean filter; at the border the mean is over the neighbours that exist.
fn box_blur_3x3(src: &[f32], dst: &mut [f32], width: usize, height: usize) {
    for y in 0..height {
        let rows = y.saturating_sub(1)..(y + 2).min(height);
        for x in 0..width {
            let cols = x.saturating_sub(1)..(x + 2).min(width);
            let mut sum = 0.0;
            for yy in rows.clone() {
                sum += src[yy * width + cols.start..yy * width + cols.end]
                    .iter()
                    .sum::<f32>();
            }
            dst[y * width + x] = sum / (rows.len() * cols.len()) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar_digit(label: u8) -> Digit {
        let mut pixels = vec![0u8; 784];
        for y in 4..24 {
            for x in 12..16 {
                pixels[y * 28 + x] = 255;
            }
        }
        Digit {
            pixels,
            label,
            path: PathBuf::from("bar"),
        }
    }

    #[test]
    fn bilinear_hits_pixels_exactly_and_blends_between() {
        let mut px = vec![0u8; 784];
        px[0] = 200;
        px[1] = 100;
        assert_eq!(bilinear(&px, 0.0, 0.0), 200.0);
        assert_eq!(bilinear(&px, 0.5, 0.0), 150.0);
        assert_eq!(bilinear(&px, -0.5, 0.0), 100.0); // half black border
        assert_eq!(bilinear(&px, 40.0, 3.0), 0.0);
    }

    #[test]
    fn box_blur_keeps_a_flat_image_and_averages_an_impulse() {
        let mut src = vec![9.0f32; 12];
        let mut dst = vec![0.0f32; 12];
        box_blur_3x3(&src, &mut dst, 4, 3);
        assert!(dst.iter().all(|&v| (v - 9.0).abs() < 1e-5));
        src.fill(0.0);
        src[5] = 9.0; // (1, 1): its 3x3 neighbourhood is all inside
        box_blur_3x3(&src, &mut dst, 4, 3);
        assert!((dst[5] - 1.0).abs() < 1e-6);
        assert!((dst[0] - 9.0 / 4.0).abs() < 1e-6); // corner: 4 neighbours
    }

    #[test]
    fn frames_are_dark_ink_on_light_paper_and_reuse_the_recycled_buffer() {
        let mut cam = SyntheticDigits::from_digits(vec![bar_digit(1)], 5).unwrap();
        let frame = cam.next_frame().unwrap().unwrap();
        assert_eq!(
            (frame.width, frame.height, frame.label),
            (160, 120, Some(1))
        );
        let mean = frame.data.iter().map(|&v| u32::from(v)).sum::<u32>() / 19_200;
        let darkest = *frame.data.iter().min().unwrap();
        assert!(mean > 140 && darkest < 80, "mean {mean} darkest {darkest}");
        let ptr = frame.data.as_ptr();
        cam.recycle(frame);
        assert_eq!(cam.next_frame().unwrap().unwrap().data.as_ptr(), ptr);
    }
}
