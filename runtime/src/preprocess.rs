//! Camera frames to model inputs, without the image crate and without allocating.
//!
//! A camera gives gray or RGB frames of any size; an MNIST model wants what MNIST's authors
//! made: the digit's bounding box scaled into 20x20 (aspect kept, area-averaged), placed in a
//! 28x28 field so that its centre of mass is the centre, white ink on black. Then the spec's
//! normalisation ([`normalize`]).

use plastic_models::Preprocess;

use crate::{Error, Result};

/// How the bytes of a frame are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// One byte per pixel.
    Gray8,
    /// Three bytes per pixel, R G B.
    Rgb24,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Gray8 => 1,
            PixelFormat::Rgb24 => 3,
        }
    }
}

/// Converts a frame to 8-bit gray (ITU-R BT.601 luma for RGB) into `out` (`width * height`).
pub fn to_gray(frame: &[u8], format: PixelFormat, out: &mut [u8]) -> Result<()> {
    let expected = out.len() * format.bytes_per_pixel();
    if frame.len() != expected {
        return Err(Error::WrongLength {
            what: "camera frame",
            expected,
            found: frame.len(),
        });
    }
    match format {
        PixelFormat::Gray8 => out.copy_from_slice(frame),
        PixelFormat::Rgb24 => {
            for (o, px) in out.iter_mut().zip(frame.chunks_exact(3)) {
                let y = 299 * u32::from(px[0]) + 587 * u32::from(px[1]) + 114 * u32::from(px[2]);
                *o = ((y + 500) / 1000) as u8;
            }
        }
    }
    Ok(())
}

/// Area-averaging resize of the `sw x sh` window at (`sx`, `sy`) of the `stride`-wide gray
/// image `src` into `dst` (`dw x dh`, f32 on the 0..255 scale). Each output pixel is the mean of
/// the source area it covers, with fractional coverage at the edges, so thin strokes survive
/// large reductions.
pub fn resize_area(
    src: &[u8],
    stride: usize,
    window: (usize, usize, usize, usize),
    dst: &mut [f32],
    dw: usize,
    dh: usize,
) {
    resize_area_mapped(src, stride, window, dst, dw, dh, f32::from);
}

/// MNIST-style framing of a gray `width x height` image into `out` (28 x 28 bytes).
///
/// Light-background frames (mean above mid-gray) are inverted so the ink is bright. The paper
/// level (with its noise) is the 80th percentile of the ink values; the bounding box of the
/// pixels more than halfway from it to the brightest ink is the digit. That box, with the paper
/// level subtracted and the contrast stretched to 0..255, is scaled into 20 x 20 keeping its
/// aspect ratio, then shifted so its centre of mass lands on (14, 14). A flat frame gives an
/// all-black input.
pub fn frame_like_mnist(
    gray: &[u8],
    width: usize,
    height: usize,
    out: &mut [u8; 784],
) -> Result<()> {
    if gray.len() != width * height || width == 0 || height == 0 {
        return Err(Error::WrongLength {
            what: "gray frame",
            expected: width * height,
            found: gray.len(),
        });
    }
    out.fill(0);
    let mean = gray.iter().map(|&v| u64::from(v)).sum::<u64>() / gray.len() as u64;
    let invert = mean > 127;
    let ink = |v: u8| if invert { 255 - v } else { v };
    // The paper is most of the frame: its level is the median ink value. Strokes are what
    // stands out above it; a floor a quarter of the way up to the brightest ink keeps sensor
    // noise and uneven light on the paper out of the digit.
    let mut histogram = [0u32; 256];
    gray.iter()
        .for_each(|&v| histogram[usize::from(ink(v))] += 1);
    // The ink value that `fraction` of the frame's pixels do not exceed.
    let percentile = |fraction: f32| {
        let wanted = libm::ceilf(gray.len() as f32 * fraction) as u32;
        let mut seen = 0;
        (0..=255u8)
            .find(|&v| {
                seen += histogram[usize::from(v)];
                seen >= wanted
            })
            .unwrap_or(0)
    };
    // Paper fills most of a frame and strokes a small part: 80 % of the pixels are paper, and
    // the 80th percentile is the paper's level plus most of its noise and uneven light. In a
    // clean MNIST image it is 0, so such images pass through unchanged.
    let floor = percentile(0.8);
    let hi = gray.iter().map(|&v| ink(v)).max().unwrap_or(0);
    if hi <= floor.saturating_add(16) {
        return Ok(()); // flat frame: nothing written
    }
    let threshold = floor + (hi - floor) / 2;
    let (mut x0, mut y0, mut x1, mut y1) = (width, height, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink(gray[y * width + x]) > threshold {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    // Scale the box into 20 x 20, aspect kept.
    let side = bw.max(bh);
    let (dw, dh) = (
        (bw * 20).div_ceil(side).clamp(1, 20),
        (bh * 20).div_ceil(side).clamp(1, 20),
    );
    let mut small = [0.0f32; 400];
    // Resize from an inked, background-subtracted view of the frame.
    resize_area_mapped(
        gray,
        width,
        (x0, y0, bw, bh),
        &mut small[..dw * dh],
        dw,
        dh,
        |v| f32::from(ink(v).saturating_sub(floor)) * 255.0 / f32::from(hi - floor),
    );
    // Centre of mass of the small image.
    let (mut mass, mut cx, mut cy) = (0.0f32, 0.0f32, 0.0f32);
    for y in 0..dh {
        for x in 0..dw {
            let m = small[y * dw + x];
            mass += m;
            cx += m * x as f32;
            cy += m * y as f32;
        }
    }
    if mass <= 0.0 {
        return Ok(());
    }
    let ox = libm::roundf(14.0 - cx / mass - 0.5) as isize;
    let oy = libm::roundf(14.0 - cy / mass - 0.5) as isize;
    for y in 0..dh {
        for x in 0..dw {
            let (tx, ty) = (x as isize + ox, y as isize + oy);
            if (0..28).contains(&tx) && (0..28).contains(&ty) {
                out[ty as usize * 28 + tx as usize] = small[y * dw + x].clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(())
}

/// [`resize_area`] with a per-pixel mapping applied to the source bytes first.
fn resize_area_mapped(
    src: &[u8],
    stride: usize,
    (sx, sy, sw, sh): (usize, usize, usize, usize),
    dst: &mut [f32],
    dw: usize,
    dh: usize,
    map: impl Fn(u8) -> f32,
) {
    let fx = sw as f32 / dw as f32;
    let fy = sh as f32 / dh as f32;
    for oy in 0..dh {
        let y0 = oy as f32 * fy;
        let y1 = y0 + fy;
        for ox in 0..dw {
            let x0 = ox as f32 * fx;
            let x1 = x0 + fx;
            let (mut sum, mut area) = (0.0, 0.0);
            let mut y = libm::floorf(y0) as usize;
            while (y as f32) < y1 && y < sh {
                let wy = (y1.min(y as f32 + 1.0) - y0.max(y as f32)).max(0.0);
                let mut x = libm::floorf(x0) as usize;
                while (x as f32) < x1 && x < sw {
                    let wx = (x1.min(x as f32 + 1.0) - x0.max(x as f32)).max(0.0);
                    sum += wx * wy * map(src[(sy + y) * stride + sx + x]);
                    area += wx * wy;
                    x += 1;
                }
                y += 1;
            }
            dst[oy * dw + ox] = if area > 0.0 { sum / area } else { 0.0 };
        }
    }
}

/// Turns raw pixel bytes (channel-planar for colour) into the model's input vector as the
/// spec's [`Preprocess`] says.
pub fn normalize(pixels: &[u8], preprocess: &Preprocess, out: &mut [f32]) -> Result<()> {
    if pixels.len() != out.len() {
        return Err(Error::WrongLength {
            what: "model input pixels",
            expected: out.len(),
            found: pixels.len(),
        });
    }
    match preprocess {
        Preprocess::Scale01 => {
            for (o, &p) in out.iter_mut().zip(pixels) {
                *o = f32::from(p) / 255.0;
            }
        }
        Preprocess::UnitNorm => {
            let norm = libm::sqrtf(pixels.iter().map(|&p| f32::from(p) * f32::from(p)).sum());
            let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
            for (o, &p) in out.iter_mut().zip(pixels) {
                *o = f32::from(p) * inv;
            }
        }
        Preprocess::CentredUnitNorm => {
            let mean =
                pixels.iter().map(|&p| f32::from(p)).sum::<f32>() / pixels.len().max(1) as f32;
            let norm = libm::sqrtf(
                pixels
                    .iter()
                    .map(|&p| (f32::from(p) - mean) * (f32::from(p) - mean))
                    .sum(),
            );
            let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
            for (o, &p) in out.iter_mut().zip(pixels) {
                *o = (f32::from(p) - mean) * inv;
            }
        }
        Preprocess::MeanStd { mean, std } => {
            let plane = pixels.len() / mean.len().max(1);
            for (i, (o, &p)) in out.iter_mut().zip(pixels).enumerate() {
                let c = (i / plane.max(1)).min(mean.len() - 1);
                *o = (f32::from(p) / 255.0 - mean[c]) / std[c];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb_to_gray_uses_bt601_weights() {
        let mut g = [0u8; 2];
        to_gray(&[255, 0, 0, 10, 20, 30], PixelFormat::Rgb24, &mut g).unwrap();
        // 0.299 * 255 = 76.2; 0.299*10 + 0.587*20 + 0.114*30 = 18.15
        assert_eq!(g, [76, 18]);
        assert!(to_gray(&[1, 2], PixelFormat::Rgb24, &mut g).is_err());
    }

    #[test]
    fn area_resize_averages_blocks() {
        let src = [0u8, 100, 200, 255, 0, 100, 200, 255];
        let mut dst = [0.0f32; 2];
        resize_area(&src, 4, (0, 0, 4, 2), &mut dst, 2, 1);
        assert_eq!(dst, [50.0, 227.5]);
    }

    #[test]
    fn unit_norm_makes_a_unit_vector() {
        let mut out = [0.0f32; 2];
        normalize(&[3, 4], &Preprocess::UnitNorm, &mut out).unwrap();
        assert_eq!(out, [0.6, 0.8]);
        normalize(&[0, 0], &Preprocess::UnitNorm, &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0]);
    }

    #[test]
    fn centred_unit_norm_removes_the_images_mean_first() {
        // Pixels 1, 2, 3, 6: mean 3, deviations -2, -1, 0, 3, length sqrt(14).
        let mut out = [0.0f32; 4];
        normalize(&[1, 2, 3, 6], &Preprocess::CentredUnitNorm, &mut out).unwrap();
        let r = 14f32.sqrt();
        for (o, e) in out.iter().zip([-2.0 / r, -1.0 / r, 0.0, 3.0 / r]) {
            assert!((o - e).abs() < 1e-6, "{out:?}");
        }
        // Brighter by 50: the same vector. Uniform: zeros, not NaN.
        let mut brighter = [0.0f32; 4];
        normalize(
            &[51, 52, 53, 56],
            &Preprocess::CentredUnitNorm,
            &mut brighter,
        )
        .unwrap();
        assert_eq!(out, brighter);
        normalize(&[7, 7, 7, 7], &Preprocess::CentredUnitNorm, &mut out).unwrap();
        assert_eq!(out, [0.0; 4]);
    }

    #[test]
    fn a_dark_square_on_white_paper_is_centred_bright() {
        // 100 x 60 white frame with a dark 10 x 30 bar near a corner.
        let mut frame = [250u8; 6000];
        for y in 5..35 {
            for x in 70..80 {
                frame[y * 100 + x] = 10;
            }
        }
        let mut out = [0u8; 784];
        frame_like_mnist(&frame, 100, 60, &mut out).unwrap();
        // The bar becomes 7 x 20 bright pixels centred on (14, 14): rows 4..24.
        let lit: usize = out.iter().filter(|&&v| v > 200).count();
        assert_eq!(lit, 140);
        let (mut cx, mut cy, mut m) = (0.0, 0.0, 0.0);
        for (i, &v) in out.iter().enumerate() {
            cx += f32::from(v) * (i % 28) as f32;
            cy += f32::from(v) * (i / 28) as f32;
            m += f32::from(v);
        }
        assert!((cx / m - 13.5).abs() <= 0.6 && (cy / m - 13.5).abs() <= 0.6);
    }

    #[test]
    fn a_flat_or_short_frame_does_not_panic() {
        let mut out = [7u8; 784];
        frame_like_mnist(&[128u8; 400], 20, 20, &mut out).unwrap();
        assert!(out.iter().all(|&v| v == 0));
        assert!(frame_like_mnist(&[0u8; 10], 20, 20, &mut out).is_err());
    }
}
