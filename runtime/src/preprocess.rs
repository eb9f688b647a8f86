//! Camera frames to model inputs, without the image crate, and without allocating once a
//! frame's buffers ([`FramingBuffers`]) have grown to the camera's size.
//!
//! A camera gives gray or RGB frames of any size; an MNIST model wants what MNIST's authors
//! made: the digit's bounding box scaled into 20x20 (aspect kept, area-averaged), placed in a
//! 28x28 field so that its centre of mass is the centre, white ink on black; a Fashion-MNIST
//! model what Zalando made: the object's box scaled so that its longer side spans the field,
//! centred ([`FrameStyle`]). Then the spec's normalisation ([`normalize`]).

use alloc::vec::Vec;
use plastic_models::Preprocess;

use crate::banding::RowLight;
use crate::exposure::Exposure;
use crate::impulse::remove_impulses;
use crate::ink_parts::{DROPPED, InkParts};
use crate::ink_region::{PaperLines, STRONG_INK, WEAK_INK, digit_box};
use crate::paper_surface::{PaperSurface, SurfaceInk, window_for};
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
    resize_area_mapped(src, stride, window, dst, dw, dh, |_, _, v| f32::from(v));
}

/// How the images a 28x28 gray model was trained on were framed, so that a camera's frames are
/// framed the same way: a model sees what its training set showed it, or it loses the view
/// before it reads a pixel (a Fashion-MNIST model read its own test images framed as digits at
/// 36 % instead of 82 %; docs/RESULTS.md, "Framing objects as Fashion-MNIST was made").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameStyle {
    /// MNIST's: the digit's box scaled into 20x20, its centre of mass at the field's centre,
    /// its ink at MNIST's levels ([`frame_like_mnist`]).
    #[default]
    Mnist,
    /// Fashion-MNIST's: the object's box scaled so that its longer side is the field's 28
    /// pixels and centred, the object light on black, its strongest pixel full
    /// ([`frame_like_in`]).
    FashionMnist,
}

impl FrameStyle {
    /// The style of a model trained on `dataset` (a checkpoint's `train.dataset`): Fashion-MNIST's
    /// for `fashion-mnist`, MNIST's for anything else, since a 28x28 gray model of another
    /// origin most likely reads digits.
    pub fn of_dataset(dataset: &str) -> Self {
        match dataset {
            "fashion-mnist" => FrameStyle::FashionMnist,
            _ => FrameStyle::Mnist,
        }
    }

    /// Where the box of the digit or object is cut, as a share of the way from the paper's
    /// noise floor to the strongest ink: [`WEAK_INK`] for a digit, [`OBJECT_EDGE_INK`] for an
    /// object.
    fn box_edge(self) -> f32 {
        match self {
            FrameStyle::Mnist => WEAK_INK,
            FrameStyle::FashionMnist => OBJECT_EDGE_INK,
        }
    }

    /// The side of the square the box is scaled into, aspect kept: 20 pixels for a digit, the
    /// whole field for an object.
    fn span(self) -> usize {
        match self {
            FrameStyle::Mnist => 20,
            FrameStyle::FashionMnist => 28,
        }
    }
}

/// How a camera frame becomes a 28x28 input for a model of 28x28 gray images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A frame that is already framed (28x28, a light image on a black field, as MNIST,
    /// Fashion-MNIST and their exports are: [`is_already_framed`]) is used as it is; anything
    /// else is framed in the style given.
    Auto(FrameStyle),
    /// Always find the digit or object and frame it in the style given ([`frame_like_in`]).
    Always(FrameStyle),
    /// No framing: the whole frame, area-resized to 28x28, as it comes.
    None,
}

impl Default for Framing {
    /// [`Framing::Auto`] in MNIST's style.
    fn default() -> Self {
        Framing::Auto(FrameStyle::Mnist)
    }
}

/// Whether a `width x height` gray frame is already framed as MNIST's and Fashion-MNIST's images
/// are: 28x28, and at least half of its outer two-pixel ring black (8 or less). MNIST's 20x20
/// box never reaches that ring; a Fashion-MNIST item's longer side spans the field, so the
/// ring is black only on the other two sides (half of it in the test set's worst 1 %). Such
/// frames (the datasets' files, their PNG exports, another dataset framed the same way) must
/// not be framed again: re-framing crops to a thresholded box and stretches the contrast,
/// which moves what the model was trained on. Dark ink on light paper at 28x28 is not framed
/// yet: its ring is paper.
pub fn is_already_framed(gray: &[u8], width: usize, height: usize) -> bool {
    if (width, height) != (28, 28) || gray.len() != 784 {
        return false;
    }
    let ring = (0..784).filter(|&i| {
        let (x, y) = (i % 28, i / 28);
        !(2..26).contains(&x) || !(2..26).contains(&y)
    });
    let (mut black, mut count) = (0u32, 0u32);
    for i in ring {
        black += u32::from(gray[i] <= 8);
        count += 1;
    }
    2 * black >= count
}

/// [`frame_like_in`] or a copy, as `framing` says; [`Framing::None`] area-resizes the whole
/// frame into `out`. Allocates its framing's buffers: a frame loop keeps a [`FramingBuffers`]
/// and calls [`frame_digit_in`].
pub fn frame_digit(
    gray: &[u8],
    width: usize,
    height: usize,
    framing: Framing,
    out: &mut [u8; 784],
) -> Result<()> {
    frame_digit_in(
        gray,
        width,
        height,
        framing,
        &mut FramingBuffers::default(),
        out,
    )
}

/// [`frame_digit`] through `buffers`, which grow to the largest frame seen and are reused.
pub fn frame_digit_in(
    gray: &[u8],
    width: usize,
    height: usize,
    framing: Framing,
    buffers: &mut FramingBuffers,
    out: &mut [u8; 784],
) -> Result<()> {
    check_gray(gray, width, height)?;
    let style = match framing {
        Framing::None => {
            resize_to_bytes(gray, width, height, &mut [0.0; 784], out, 28, 28);
            return Ok(());
        }
        Framing::Auto(style) | Framing::Always(style) => style,
    };
    // Impulse noise off first (a clean frame is used as it is), the rows of a banded frame
    // brought to one light, a dark or noisy frame to a usual exposure, then framed or not. The
    // last two work in place on one copy of the frame.
    buffers.fit(width, height);
    let mut work = core::mem::take(&mut buffers.work);
    let mut copied = remove_impulses(gray, width, height, &mut work);
    let copy_once = |work: &mut Vec<u8>, copied: &mut bool| {
        if !*copied {
            work.clear();
            work.extend_from_slice(gray);
            *copied = true;
        }
    };
    let current = if copied { &work[..] } else { gray };
    if buffers.row_light.is_banded(current, width, height) {
        copy_once(&mut work, &mut copied);
        buffers.row_light.take_off(&mut work, width);
    }
    let current = if copied { &work[..] } else { gray };
    if let Some(exposure) = Exposure::of(current, width, height) {
        copy_once(&mut work, &mut copied);
        exposure.apply(&mut work, width, height, &mut buffers.rows);
    }
    let gray = if copied { &work[..] } else { gray };
    let auto = matches!(framing, Framing::Auto(_));
    let framed = if auto && is_framed_as(gray, width, height, style) {
        out.copy_from_slice(gray);
        Ok(())
    } else {
        let framed = frame_like_in(gray, width, height, style, buffers, out);
        // A field that was framed, only not as the dataset was, keeps its ink: where the
        // framing finds no digit in it (a bold one covering a third of the field reads as
        // paper), it is used as it came.
        if auto && out.iter().all(|&v| v == 0) && is_already_framed(gray, width, height) {
            out.copy_from_slice(gray);
        }
        framed
    };
    buffers.work = work;
    framed
}

/// Whether a frame [`is_already_framed`] is framed as `style`'s dataset was. For MNIST, also
/// where its ink is: its box ([`MNIST_BOX_INK`] of the strongest pixel and above) at least
/// [`MNIST_LEAST_BOX`] pixels on its longer side (MNIST's: 19 or 20), and centred by its mass
/// within [`MNIST_CENTRE_SLACK`] pixels (MNIST's own test digits: within 1.0) unless the box
/// is wider than any digit's ([`MNIST_MOST_BOX`]), and its ink at MNIST's levels
/// ([`at_mnist_levels`]: not blurred). A digit moved off the centre of a black
/// 28x28 field, or drawn small in it, has the black ring of a framed digit but is not one;
/// used as it was, the device read 74 % of such moved digits and 64 % of such small ones,
/// framed 97 and 98 % (docs/RESULTS.md, "Impulse noise and digits off-centre in a 28x28
/// field"). A Fashion-MNIST item's ring is its test (its box spans the field).
pub fn is_framed_as(gray: &[u8], width: usize, height: usize, style: FrameStyle) -> bool {
    if !is_already_framed(gray, width, height) {
        return false;
    }
    match style {
        FrameStyle::FashionMnist => true,
        FrameStyle::Mnist => centred_like_mnist(gray),
    }
}

/// How far (pixels, along either axis) a framed digit's centre of mass may be from the field's
/// centre: twice the farthest of MNIST's 10,000 test digits.
pub const MNIST_CENTRE_SLACK: f32 = 2.0;
/// The shortest longer side of a framed digit's box: MNIST's digits are scaled to 20 (19 for
/// one test digit in a thousand, at [`MNIST_BOX_INK`]).
pub const MNIST_LEAST_BOX: usize = 16;
/// The longest side of a box whose digit is moved to the centre when it is off it: beyond it
/// the ink reaches across the field (a line drawn through the digit, noise that passed the
/// ring), and framing again would take that in with the digit and shrink the digit.
pub const MNIST_MOST_BOX: usize = 22;
/// The share of its strongest pixel a pixel needs to count in a framed digit's box.
pub const MNIST_BOX_INK: f32 = 0.25;

/// A 28x28 light-on-black field whose ink is placed as MNIST placed its digits (see
/// [`is_framed_as`]); an empty field counts (there is nothing to place).
fn centred_like_mnist(gray: &[u8]) -> bool {
    let strongest = gray.iter().copied().max().unwrap_or(0);
    if strongest <= 8 {
        return true;
    }
    let box_level = f32::from(strongest) * MNIST_BOX_INK;
    let (mut mass, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    let (mut x0, mut y0, mut x1, mut y1) = (28, 28, 0, 0);
    for (i, &v) in gray.iter().enumerate() {
        let (x, y) = (i % 28, i / 28);
        if v > 8 {
            let w = f32::from(v);
            mass += w;
            mx += w * x as f32;
            my += w * y as f32;
        }
        if f32::from(v) >= box_level {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    let off = (mx / mass - 13.5).abs().max((my / mass - 13.5).abs());
    let side = (x1 + 1 - x0).max(y1 + 1 - y0);
    let moved = off > MNIST_CENTRE_SLACK && side <= MNIST_MOST_BOX;
    !moved && side >= MNIST_LEAST_BOX && at_mnist_levels(gray, strongest)
}

/// Whether a field's ink is at MNIST's levels: at least [`MNIST_LEAST_FULL_SHARE`] of it
/// (pixels above a tenth of the strongest) within a tenth of the strongest. MNIST's digits
/// were anti-aliased from sharp scans, so half their ink is full (the 10,000 test digits:
/// 11 % or more in all but one in a thousand); a blurred digit's is not (motion blur of 7
/// pixels: 5 %; MNIST-C's glass blur: 3 %), and framing it again brings it to MNIST's levels.
fn at_mnist_levels(gray: &[u8], strongest: u8) -> bool {
    let strongest = u32::from(strongest);
    let (mut ink, mut full) = (0u32, 0u32);
    for &v in gray {
        let v = u32::from(v);
        ink += u32::from(10 * v > strongest);
        full += u32::from(10 * v >= 9 * strongest);
    }
    full as f32 >= MNIST_LEAST_FULL_SHARE * ink as f32
}

/// The least share of a framed digit's ink at full level ([`at_mnist_levels`]): under the
/// share of all but one MNIST test digit in a thousand (11 %).
pub const MNIST_LEAST_FULL_SHARE: f32 = 0.1;

/// What [`frame_like_in`] works in: the ink of every pixel, which pixels are the digit
/// (one byte each), the stack that follows the ink's parts ([`InkParts`], four bytes each), the
/// paper's lines and the frame cleaned of impulse noise; they grow to the largest frame seen
/// (ten bytes a pixel) and are reused, so a frame loop allocates nothing
/// once its camera's first frame has been framed.
#[derive(Debug, Clone, Default)]
pub struct FramingBuffers {
    /// The frame with its impulse noise taken off ([`remove_impulses`]), its bands
    /// ([`RowLight`]) and its exposure ([`Exposure`]), when it needed any.
    work: Vec<u8>,
    row_light: RowLight,
    /// Two rows of the frame as they were, for the smoothing ([`Exposure::apply`]).
    rows: Vec<u8>,
    ink: Vec<f32>,
    region: Vec<u8>,
    parts: InkParts,
    lines: PaperLines,
    surface: PaperSurface,
}

impl FramingBuffers {
    /// Grows the buffers to a `width x height` frame before anything is framed, so that the
    /// first frame of a camera, whatever it shows, is the only one that allocates.
    fn fit(&mut self, width: usize, height: usize) {
        let pixels = width * height;
        self.ink.reserve(pixels.saturating_sub(self.ink.len()));
        self.region
            .reserve(pixels.saturating_sub(self.region.len()));
        self.parts.reserve(pixels);
        self.lines.reserve(width, height);
        self.surface.reserve(width, height);
        self.row_light.reserve(width, height);
        self.rows
            .reserve((2 * width).saturating_sub(self.rows.len()));
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.work.capacity()
            + self.row_light.memory_bytes()
            + self.rows.capacity()
            + self.ink.capacity() * 4
            + self.region.capacity()
            + self.parts.memory_bytes()
            + self.lines.memory_bytes()
            + self.surface.memory_bytes()
    }
}

/// The whole `width x height` gray frame area-resized ([`resize_area`]) to `dw x dh` bytes,
/// rounded, through `scratch` (`dw * dh` floats): how a frame becomes a model's input when
/// nothing frames it.
pub fn resize_to_bytes(
    gray: &[u8],
    width: usize,
    height: usize,
    scratch: &mut [f32],
    out: &mut [u8],
    dw: usize,
    dh: usize,
) {
    resize_area(gray, width, (0, 0, width, height), scratch, dw, dh);
    for (o, &v) in out.iter_mut().zip(scratch.iter()) {
        *o = libm::roundf(v).clamp(0.0, 255.0) as u8;
    }
}

fn check_gray(gray: &[u8], width: usize, height: usize) -> Result<()> {
    match width.checked_mul(height) {
        Some(n) if n == gray.len() && n > 0 => Ok(()),
        _ => Err(Error::WrongLength {
            what: "gray frame",
            expected: width.saturating_mul(height),
            found: gray.len(),
        }),
    }
}

/// The paper under the digit: a plane of light `a + b x + c y` (x, y centred on the frame),
/// which is what a lamp to one side of a sheet gives to first order.
#[derive(Debug, Clone, Copy)]
struct Paper {
    a: f32,
    b: f32,
    c: f32,
    cx: f32,
    cy: f32,
}

impl Paper {
    fn at(&self, x: usize, y: usize) -> f32 {
        self.a + self.b * (x as f32 - self.cx) + self.c * (y as f32 - self.cy)
    }
}

/// Least-squares plane through the pixels `keep` accepts; `None` when they are too few or
/// collinear.
fn fit_paper(
    gray: &[u8],
    width: usize,
    height: usize,
    keep: impl Fn(usize, usize, f32) -> bool,
) -> Option<Paper> {
    let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    let mut m = [0.0f64; 9]; // n, sx, sy, sxx, sxy, syy, sv, sxv, syv
    // Sums along a row in f32 (at most a few hundred terms), across rows in f64.
    for y in 0..height {
        let dy = y as f64 - cy;
        let (mut n, mut sx, mut sxx, mut sv, mut sxv) = (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for (x, &v) in gray[y * width..(y + 1) * width].iter().enumerate() {
            let v = f32::from(v);
            if !keep(x, y, v) {
                continue;
            }
            let dx = (x as f64 - cx) as f32;
            n += 1.0;
            sx += dx;
            sxx += dx * dx;
            sv += v;
            sxv += dx * v;
        }
        let (n, sx, sxx, sv, sxv) = (
            f64::from(n),
            f64::from(sx),
            f64::from(sxx),
            f64::from(sv),
            f64::from(sxv),
        );
        for (slot, term) in
            m.iter_mut()
                .zip([n, sx, dy * n, sxx, dy * sx, dy * dy * n, sv, sxv, dy * sv])
        {
            *slot += term;
        }
    }
    let [n, sx, sy, sxx, sxy, syy, sv, sxv, syv] = m;
    if n < 3.0 {
        return None;
    }
    // Normal equations [n sx sy; sx sxx sxy; sy sxy syy] [a b c] = [sv sxv syv], by Cramer.
    let det3 = |c0: [f64; 3], c1: [f64; 3], c2: [f64; 3]| {
        c0[0] * (c1[1] * c2[2] - c1[2] * c2[1]) - c1[0] * (c0[1] * c2[2] - c0[2] * c2[1])
            + c2[0] * (c0[1] * c1[2] - c0[2] * c1[1])
    };
    let (k0, k1, k2, rhs) = ([n, sx, sy], [sx, sxx, sxy], [sy, sxy, syy], [sv, sxv, syv]);
    let det = det3(k0, k1, k2);
    if det.abs() < 1e-9 * n * n * n {
        return None;
    }
    Some(Paper {
        a: (det3(rhs, k1, k2) / det) as f32,
        b: (det3(k0, rhs, k2) / det) as f32,
        c: (det3(k0, k1, rhs) / det) as f32,
        cx: cx as f32,
        cy: cy as f32,
    })
}

/// The bin that `fraction` of the histogram's `total` samples do not exceed.
pub(crate) fn histogram_quantile(histogram: &[u32], total: u32, fraction: f32) -> i32 {
    let wanted = libm::ceilf(total as f32 * fraction).max(1.0) as u32;
    let mut seen = 0;
    histogram
        .iter()
        .position(|&h| {
            seen += h;
            seen >= wanted
        })
        .unwrap_or(histogram.len() - 1) as i32
}

/// Offset of residual 0 in the residual histograms (residuals -255..=255).
const ZERO: i32 = 255;

/// The median absolute departure from the median of a histogram of at most 511 bins (a
/// residual histogram, or departures from the paper's surface): the paper's spread, robust to
/// the ink (0 for an empty histogram).
pub(crate) fn median_absolute_deviation(histogram: &[u32], total: u32) -> f32 {
    if total == 0 {
        return 0.0;
    }
    let centre = histogram_quantile(histogram, total, 0.5);
    let mut deviations = [0u32; 511];
    for (bin, &count) in histogram.iter().enumerate() {
        deviations[(bin as i32 - centre).unsigned_abs().min(510) as usize] += count;
    }
    histogram_quantile(&deviations, total, 0.5) as f32
}

/// Shares of the frame at which [`ink_is_dark`] compares the two tails, the largest first.
const TAIL_SHARES: [f32; 3] = [0.01, 0.001, 0.0001];

/// Robust standard deviations (1.4826 median absolute deviations) a tail must reach past the
/// median for [`ink_is_dark`] to read it as ink: sensor noise goes that far in about one
/// pixel in two million.
const TAIL_NOISE_SIGMAS: f32 = 5.0;

/// Whether the ink in a frame's departures from its paper (`histogram`, residuals -255..=255,
/// their [`median_absolute_deviation`] `mad`) is darker than the paper. Ink is the minority,
/// so its tail is the longer one: compared where 1 % of the pixels are, and where neither tail
/// there reaches past the paper's noise, at 0.1 % and 0.01 %. Why not 1 % alone: a small
/// digit covers less than that (a digit 10 pixels tall drawn with a one-pixel pen, 40 pixels
/// of a 160x120 frame: 0.2 %), and its 1 % quantiles are both noise, so its polarity was a
/// coin toss and half such digits came out as an empty field (docs/RESULTS.md, "Framing: a
/// digit smaller than 1 % of the frame").
fn ink_is_dark(histogram: &[u32; 511], total: u32, mad: f32) -> bool {
    let median = histogram_quantile(histogram, total, 0.5);
    let noise = TAIL_NOISE_SIGMAS * 1.4826 * mad.max(1.0);
    let tails = |share: f32| {
        let dark = median - histogram_quantile(histogram, total, share);
        let light = histogram_quantile(histogram, total, 1.0 - share) - median;
        (dark as f32, light as f32)
    };
    let (dark, light) = TAIL_SHARES
        .iter()
        .map(|&share| tails(share))
        .find(|&(dark, light)| dark.max(light) > noise)
        .unwrap_or_else(|| tails(TAIL_SHARES[0]));
    dark > light
}

/// The paper a frame shows, which side of it the ink is on, and the level below which a
/// departure from it is the paper's own noise and texture.
#[derive(Debug, Clone, Copy)]
struct InkSide {
    paper: Paper,
    dark_ink: bool,
    floor: f32,
}

/// Departures of the pixels `keep` accepts (given x, y and the departure) from the plane
/// `paper`, as a histogram over -255..=255, and how many there are.
fn residual_histogram(
    gray: &[u8],
    width: usize,
    height: usize,
    paper: &Paper,
    keep: impl Fn(usize, usize, f32) -> bool,
) -> ([u32; 511], u32) {
    let mut histogram = [0u32; 511];
    let mut total = 0;
    for y in 0..height {
        let row = &gray[y * width..(y + 1) * width];
        for (x, &v) in row.iter().enumerate() {
            let r = f32::from(v) - paper.at(x, y);
            if keep(x, y, r) {
                // Truncation of a non-negative value is rounding down: + 0.5 rounds.
                let bin = ((r + ZERO as f32 + 0.5).max(0.0) as i32).min(510);
                histogram[bin as usize] += 1;
                total += 1;
            }
        }
    }
    (histogram, total)
}

/// Sensor noise and paper texture stay below three robust standard deviations of the paper's
/// departures (at least 4 levels).
fn noise_floor(histogram: &[u32; 511], total: u32) -> f32 {
    (3.0 * 1.4826 * median_absolute_deviation(histogram, total)).max(4.0)
}

/// The paper under a digit ([`frame_like_mnist`]): a plane fitted to the whole frame, the ink
/// on the side of its longer tail (a digit is a small part of the frame), the plane fitted
/// again without the ink ([`ink_side_from`]). Where the frame holds more than paper and ink (a
/// dark desk beyond the sheet's edge, a third of the frame), that plane runs between the two
/// and its noise floor reaches past the ink, or the desk's tail decides the ink's side. Where
/// the floor is above half the strongest ink (the level where ink is certain,
/// [`STRONG_INK`]), the same is done from the plane grown from the frame's median level
/// ([`paper_from_its_median`]), and taken when it fits the paper more closely. Why not
/// whenever it fits more closely: on a 28x28 field the first plane tilts with a large digit
/// and the median's lies on the black, and its lower floor took a glass-blurred digit's
/// scattered ink into the box (1.7 points fewer read; docs/RESULTS.md, "Framing a digit among
/// other things").
fn paper_under_a_digit(gray: &[u8], width: usize, height: usize) -> Option<InkSide> {
    let first = fit_paper(gray, width, height, |_, _, _| true)?;
    let found = ink_side_from(gray, width, height, &first);
    if found.floor <= STRONG_INK * strongest_ink(gray, width, &found) {
        return Some(found);
    }
    let Some(median) = paper_from_its_median(gray, width, height) else {
        return Some(found);
    };
    let other = ink_side_from(gray, width, height, &median);
    Some(if other.floor < found.floor {
        other
    } else {
        found
    })
}

/// The ink's side of the paper, the paper fitted again without the ink, and its noise floor,
/// from a first plane `start`: the ink on the side of the longer tail of the departures from
/// it, the refit through the pixels less than 3 spreads toward the ink from it.
fn ink_side_from(gray: &[u8], width: usize, height: usize, start: &Paper) -> InkSide {
    let (histogram, total) = residual_histogram(gray, width, height, start, |_, _, _| true);
    // The paper's spread: the median absolute departure from the median, robust to the ink.
    let mad = median_absolute_deviation(&histogram, total);
    let dark_ink = ink_is_dark(&histogram, total, mad);
    // A departure from the paper, signed so that ink is positive.
    let toward_ink = move |r: f32| if dark_ink { -r } else { r };
    // Refit the paper without the ink (anything more than 3 spreads toward the ink side).
    let cut = 3.0 * 1.4826 * mad.max(1.0);
    let paper = fit_paper(gray, width, height, |x, y, v| {
        toward_ink(v - start.at(x, y)) <= cut
    })
    .unwrap_or(*start);
    let (histogram, total) =
        residual_histogram(gray, width, height, &paper, |_, _, r| toward_ink(r) <= cut);
    InkSide {
        paper,
        dark_ink,
        floor: noise_floor(&histogram, total),
    }
}

/// The largest departure of a pixel of `gray` (`width` wide) from `side`'s paper toward its
/// ink.
fn strongest_ink(gray: &[u8], width: usize, side: &InkSide) -> f32 {
    let mut strongest = f32::MIN;
    for (y, row) in gray.chunks_exact(width).enumerate() {
        for (x, &v) in row.iter().enumerate() {
            let r = f32::from(v) - side.paper.at(x, y);
            strongest = strongest.max(if side.dark_ink { -r } else { r });
        }
    }
    strongest
}

/// Refits of [`paper_from_its_median`].
const MEDIAN_PAPER_REFITS: usize = 4;

/// The paper as a plane grown from the frame's median level: refitted
/// [`MEDIAN_PAPER_REFITS`] times to the half of the pixels closest to the last plane (those
/// within the median absolute departure of the median departure), a least trimmed squares
/// fit. The paper is most of a frame, so its median is the paper's and the closer half is
/// paper, whatever covers the rest; each refit brings that half nearer the paper's own plane
/// under a gradient of light. `None` when too few pixels are left to fit.
fn paper_from_its_median(gray: &[u8], width: usize, height: usize) -> Option<Paper> {
    let mut levels = [0u32; 256];
    for &v in gray {
        levels[usize::from(v)] += 1;
    }
    let median = histogram_quantile(&levels, gray.len() as u32, 0.5);
    let mut paper = Paper {
        a: median as f32,
        b: 0.0,
        c: 0.0,
        cx: (width as f32 - 1.0) / 2.0,
        cy: (height as f32 - 1.0) / 2.0,
    };
    let spread = |paper: &Paper| {
        let (histogram, total) = residual_histogram(gray, width, height, paper, |_, _, _| true);
        let centre = (histogram_quantile(&histogram, total, 0.5) - ZERO) as f32;
        (
            centre,
            median_absolute_deviation(&histogram, total).max(1.0),
        )
    };
    for _ in 0..MEDIAN_PAPER_REFITS {
        let (centre, mad) = spread(&paper);
        let last = paper;
        paper = fit_paper(gray, width, height, |x, y, v| {
            (v - last.at(x, y) - centre).abs() <= mad
        })?;
    }
    Some(paper)
}

/// The paper around an object ([`FrameStyle::FashionMnist`]), as Zalando read the background
/// of a product photo from its corners: a plane fitted to a band along the frame's edges (a
/// sixteenth of its shorter side, at least 2 pixels), fitted again without the band's pixels
/// more than 3 spreads from it (where the object reaches the edge). An object can be most of
/// the frame, so the ink's side is not the longer tail (as for a digit) but the side where
/// more of the frame departs from the paper beyond its noise, weighed by how far.
fn paper_around_an_object(gray: &[u8], width: usize, height: usize) -> Option<InkSide> {
    let band = (width.min(height) / 16).max(2);
    let on_edge =
        move |x: usize, y: usize| x < band || y < band || x + band >= width || y + band >= height;
    let first = fit_paper(gray, width, height, |x, y, _| on_edge(x, y))?;
    let (histogram, total) =
        residual_histogram(gray, width, height, &first, |x, y, _| on_edge(x, y));
    let cut = 3.0 * 1.4826 * median_absolute_deviation(&histogram, total).max(1.0);
    let paper = fit_paper(gray, width, height, |x, y, v| {
        on_edge(x, y) && (v - first.at(x, y)).abs() <= cut
    })
    .unwrap_or(first);
    let (histogram, total) = residual_histogram(gray, width, height, &paper, |x, y, r| {
        on_edge(x, y) && r.abs() <= cut
    });
    let floor = noise_floor(&histogram, total);
    let (mut dark, mut light) = (0.0f32, 0.0f32);
    for y in 0..height {
        for (x, &v) in gray[y * width..(y + 1) * width].iter().enumerate() {
            let r = f32::from(v) - paper.at(x, y);
            dark += (-r - floor).max(0.0);
            light += (r - floor).max(0.0);
        }
    }
    Some(InkSide {
        paper,
        dark_ink: dark >= light,
        floor,
    })
}

/// MNIST-style framing of a gray `width x height` image into `out` (28 x 28 bytes): the digit
/// found, scaled into a 20x20 box keeping its aspect ratio, its centre of mass placed at the
/// field's centre, light ink on black, as MNIST's authors made the dataset.
///
/// Finding the digit on a real frame: the paper's light is modelled as a plane (a lamp to one
/// side), fitted to the frame, and the ink is what departs from it on one side. Which side is
/// decided by the tails of the departures: ink is the minority, so its tail is the longer one,
/// whether it is dark ink on paper, chalk on a board, or a dim room darker than mid-gray. The
/// plane is then fitted again to the paper alone, and the paper's noise (the median absolute
/// departure) sets a floor below which nothing is ink. None of it assumes how much of the frame
/// the digit covers, so a digit that fills the frame is found as well as a small one.
///
/// Lines that run across the whole frame (a ruled or squared page) are the paper's and are
/// taken off the ink ([`PaperLines`]). The digit is the pixels more than halfway from the floor
/// to the strongest ink and the fainter ink (a quarter of the way) within three pixels of it,
/// directly or through more such ink ([`digit_box`]); the ink above the floor in its box is
/// what is scaled, then brought to MNIST's levels: the level that 40 % of the scaled ink
/// reaches becomes full ink ([`FULL_INK_SHARE`]), as in MNIST's digits. Why not the strongest
/// pixel as full ink, nor its half as the box's edge: the crossing of two strokes, or one dark
/// speck, is darker than a thin or faint pen's strokes, which then came out grey where MNIST's
/// are white, or were cut out of the box; the model lost a thinner pen's digits before it saw
/// them (docs/RESULTS.md, "Framing"). A flat frame gives an all-black field.
///
/// Allocates its buffers: a frame loop keeps a [`FramingBuffers`] and calls
/// [`frame_like_mnist_in`].
pub fn frame_like_mnist(
    gray: &[u8],
    width: usize,
    height: usize,
    out: &mut [u8; 784],
) -> Result<()> {
    frame_like_mnist_in(gray, width, height, &mut FramingBuffers::default(), out)
}

/// [`frame_like_mnist`] through `buffers`, which grow to the largest frame seen and are reused.
pub fn frame_like_mnist_in(
    gray: &[u8],
    width: usize,
    height: usize,
    buffers: &mut FramingBuffers,
    out: &mut [u8; 784],
) -> Result<()> {
    frame_like_in(gray, width, height, FrameStyle::Mnist, buffers, out)
}

/// The digit or object of a gray `width x height` frame framed into `out` (28 x 28 bytes) as
/// `style`'s dataset was made: [`frame_like_mnist`] for MNIST's; for Fashion-MNIST's, found
/// the same way but framed as Zalando framed its product photos (trimmed to the object, the
/// longer side resized to 28, centred, negated), so the object's box takes its ink down to
/// [`OBJECT_EDGE_INK`] (their trim: 5 % of the intensity range from the background), spans the
/// field and is centred by its box, and the strongest pixel is full.
pub fn frame_like_in(
    gray: &[u8],
    width: usize,
    height: usize,
    style: FrameStyle,
    buffers: &mut FramingBuffers,
    out: &mut [u8; 784],
) -> Result<()> {
    check_gray(gray, width, height)?;
    buffers.fit(width, height);
    out.fill(0);
    let found = match style {
        FrameStyle::Mnist => paper_under_a_digit(gray, width, height),
        FrameStyle::FashionMnist => paper_around_an_object(gray, width, height),
    };
    let Some(InkSide {
        paper,
        dark_ink,
        mut floor,
    }) = found
    else {
        return Ok(());
    };
    let ink_of = |x: usize, y: usize, v: u8| {
        let r = f32::from(v) - paper.at(x, y);
        if dark_ink { -r } else { r }
    };
    // The ink, computed once (every step below reads it), less the page's own lines (see
    // [`PaperLines`]).
    let FramingBuffers {
        ink,
        region,
        parts,
        lines,
        surface,
        ..
    } = buffers;
    ink.clear();
    for y in 0..height {
        for x in 0..width {
            ink.push(ink_of(x, y, gray[y * width + x]));
        }
    }
    let mut hi = less_the_papers_lines(ink, lines, width, height);
    // Where the plane may not be the paper, the frame is read against its own surface
    // ([`crate::paper_surface`]), and that reading taken where it is the better one: see
    // [`surface_is_needed`] and [`surface_is_better`].
    if let Some(window) = window_for(width, height).filter(|_| style == FrameStyle::Mnist) {
        let plane = PlaneInk::of(ink, dark_ink, floor, hi, width, height, |weak| {
            surface.has_wide_ink(ink, width, height, weak, window / 2)
        });
        if surface_is_needed(&plane) {
            let reading = surface.read(gray, width, height, window, dark_ink);
            if surface_is_better(&plane, &reading) {
                floor = reading.floor;
                surface.ink(gray, &reading, ink);
                hi = less_the_papers_lines(ink, lines, width, height);
            }
        }
    }
    let ink_at = |x: usize, y: usize| ink[y * width + x];
    if hi <= floor + FLAT_INK {
        return Ok(()); // flat frame: nothing written
    }
    let level = |share: f32| floor + (hi - floor) * share;
    let Some((x0, y0, x1, y1)) = digit_box(
        region,
        parts,
        width,
        height,
        level(STRONG_INK),
        level(style.box_edge()),
        ink_at,
    ) else {
        return Ok(());
    };
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    // Scale the box into the style's square, aspect kept.
    let span = style.span();
    let side = bw.max(bh);
    let (dw, dh) = (
        (bw * span).div_ceil(side).clamp(1, span),
        (bh * span).div_ceil(side).clamp(1, span),
    );
    let mut small = [0.0f32; 784];
    let small = &mut small[..dw * dh];
    // Resize from the ink above the floor, less the parts that are the scene's, then bring it
    // to the dataset's levels.
    resize_area_mapped(gray, width, (x0, y0, bw, bh), small, dw, dh, |x, y, _| {
        if region[y * width + x] == DROPPED {
            0.0
        } else {
            (ink_at(x, y) - floor).max(0.0)
        }
    });
    let full = match style {
        FrameStyle::Mnist => full_ink_level(small),
        FrameStyle::FashionMnist => small.iter().fold(0.0f32, |m, &v| m.max(v)),
    };
    if full > 0.0 {
        for v in small.iter_mut() {
            *v *= 255.0 / full;
        }
    }
    match style {
        FrameStyle::Mnist => place_by_centre_of_mass(small, dw, dh, out),
        FrameStyle::FashionMnist => place_centred(small, dw, dh, out),
    }
    Ok(())
}

/// The ink as the paper's plane reads it, for [`surface_is_needed`].
struct PlaneInk {
    dark_ink: bool,
    floor: f32,
    strongest: f32,
    /// The share of the frame's pixels above a quarter of the way from the floor to the
    /// strongest ([`WEAK_INK`]).
    weak_share: f32,
    /// Whether that ink is more than a digit has ([`MOST_DIGIT_INK`]), or as wide as half the
    /// surface's window: light, or a sheet, rather than a pen's strokes.
    not_strokes: bool,
}

impl PlaneInk {
    /// Of the plane's ink `ink` (`width x height`), on its side `dark_ink`, with its `floor`
    /// and `strongest`; `wide` says whether the ink above a level is wider than strokes.
    fn of(
        ink: &[f32],
        dark_ink: bool,
        floor: f32,
        strongest: f32,
        width: usize,
        height: usize,
        wide: impl FnOnce(f32) -> bool,
    ) -> Self {
        let weak = floor + (strongest - floor) * WEAK_INK;
        let above = ink.iter().filter(|&&v| v > weak).count();
        let weak_share = above as f32 / (width * height).max(1) as f32;
        Self {
            dark_ink,
            floor,
            strongest,
            weak_share,
            not_strokes: weak_share > MOST_DIGIT_INK || wide(weak),
        }
    }

    fn flat(&self) -> bool {
        self.strongest <= self.floor + FLAT_INK
    }
}

/// Whether the plane may not be the paper, so that the frame is read against its own surface
/// too ([`crate::paper_surface`]): where the plane finds no ink, or a noise floor above a
/// quarter of its strongest ink (the paper has two levels, a shadow's edge across it), or ink
/// that is not a pen's strokes (a shadow, or a sticky note held up in a darker room: light
/// ink to the plane, cut by the digit's strokes into pieces narrower than the window).
fn surface_is_needed(plane: &PlaneInk) -> bool {
    plane.flat() || plane.floor > plane.strongest * WEAK_INK || plane.not_strokes
}

/// Whether the paper's surface reads a frame better than its plane: where the plane found no
/// ink; where the two disagree on the ink's side, only if the plane's ink is more than a digit
/// has ([`MOST_DIGIT_INK`]: a sheet held up in a darker room, which the plane took for light
/// ink, [`PaperSurface::read`]); and where they agree, if the surface leaves a third of the
/// weak ink or less ([`SURFACE_INK_CUT`]: the plane took light for ink) and its ink is no faint
/// digit's ([`LEAST_SURFACE_CONTRAST`]), or its ink stands [`SURFACE_CONTRAST_GAIN`] times
/// further above its noise floor (the plane's floor took in a second level of the paper).
/// Why not wherever the two disagree: a bold light digit on dark paper, or a chalk digit
/// beside a board's lit half, is light ink to the plane, and the surface found the dark
/// between its strokes on 67 of the bank's 5000 `negative` frames.
fn surface_is_better(plane: &PlaneInk, surface: &SurfaceInk) -> bool {
    if plane.flat() {
        return true;
    }
    if surface.dark_ink != plane.dark_ink {
        return plane.weak_share > MOST_DIGIT_INK;
    }
    (surface.weak_share * SURFACE_INK_CUT < plane.weak_share
        && surface.contrast >= LEAST_SURFACE_CONTRAST)
        || surface.contrast > (plane.strongest - plane.floor) * SURFACE_CONTRAST_GAIN
}

/// The most of a frame a digit's weak ink covers, beyond which the paper's surface is read
/// ([`crate::paper_surface`]): a quarter. A digit's strokes are a fifth of its box or less (a
/// bold MNIST digit's), and a digit that fills the frame reaches its edges only with its
/// strokes' ends.
const MOST_DIGIT_INK: f32 = 0.25;

/// How many times less weak ink the paper's surface must leave than the plane to be taken:
/// three. A desk along the frame's edges, narrower than the surface's window, is ink to both,
/// except where two of its sides meet; at two, that corner alone was enough, and the rest of
/// the desk was left in pieces the framing kept.
const SURFACE_INK_CUT: f32 = 3.0;

/// How far above its floor the surface's strongest ink must stand for [`SURFACE_INK_CUT`] to
/// count: 48 levels, three times the margin of a flat frame. A faint digit's strokes (20 to 40
/// levels above the plane's floor, under the bank's dim light) are less ink to the surface
/// only because its floor, lifted by the closing, is higher: taking the surface there cost
/// 58 of that scenario's 5000 digits.
const LEAST_SURFACE_CONTRAST: f32 = 3.0 * FLAT_INK;

/// How far above the paper's noise floor a frame's strongest ink must stand for the frame to
/// hold a digit at all (levels).
const FLAT_INK: f32 = 16.0;

/// How many times further above its noise floor the surface's strongest ink must stand than
/// the plane's for the surface to be taken on that alone: on paper of one level the plane's
/// floor is the lower (it averages the whole frame's noise, where a closing takes the local
/// extreme of it), so the plane stays unless the surface is clearly ahead.
const SURFACE_CONTRAST_GAIN: f32 = 1.25;

/// Takes the page's own lines ([`PaperLines`], measured here) off `ink` (`width x height`) and
/// returns the strongest ink left.
fn less_the_papers_lines(
    ink: &mut [f32],
    lines: &mut PaperLines,
    width: usize,
    height: usize,
) -> f32 {
    lines.measure(width, height, |x, y| ink[y * width + x]);
    let mut hi = 0.0f32;
    for (y, row) in ink.chunks_exact_mut(width).enumerate() {
        for (x, v) in row.iter_mut().enumerate() {
            *v -= lines.at(x, y);
            hi = hi.max(*v);
        }
    }
    hi
}

/// Where a Fashion-MNIST object's box is cut, as a share of the way from the paper's noise
/// floor to the strongest ink: Zalando trimmed each photo to the pixels more than 5 % of the
/// intensity range from the background's colour, so the faint parts of a light garment are in
/// the box (the digits' [`WEAK_INK`], a quarter of the way, would crop them).
pub const OBJECT_EDGE_INK: f32 = 0.05;

/// The share of a framed digit's ink (pixels above a tenth of its strongest) at full ink: 40 %
/// in the median MNIST training digit (10th to 90th percentile of digits: 25 to 56 %).
pub const FULL_INK_SHARE: f32 = 0.4;

/// The level of the scaled digit `small` that [`FULL_INK_SHARE`] of its ink (pixels above a
/// tenth of the strongest) reaches; 0 for an empty digit.
fn full_ink_level(small: &[f32]) -> f32 {
    let strongest = small.iter().fold(0.0f32, |m, &v| m.max(v));
    if strongest <= 0.0 {
        return 0.0;
    }
    let mut ink = [0.0f32; 784];
    let mut n = 0;
    for &v in small.iter().filter(|&&v| v > strongest / 10.0) {
        ink[n] = v;
        n += 1;
    }
    let ink = &mut ink[..n];
    let rank = ((n as f32 * (1.0 - FULL_INK_SHARE)) as usize).min(n - 1);
    let (_, level, _) = ink.select_nth_unstable_by(rank, f32::total_cmp);
    *level
}

/// Writes the `dw x dh` image `small` into the 28x28 field so that its centre of mass lands on
/// the field's centre; nothing when it has no mass.
pub(crate) fn place_by_centre_of_mass(small: &[f32], dw: usize, dh: usize, out: &mut [u8; 784]) {
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
        return;
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
}

/// Writes the `dw x dh` image `small` (at most 28x28) into the middle of the 28x28 field, its
/// box centred (to a pixel, the extra one to the left and top, as Fashion-MNIST's items are).
pub(crate) fn place_centred(small: &[f32], dw: usize, dh: usize, out: &mut [u8; 784]) {
    let (ox, oy) = (
        28usize.saturating_sub(dw) / 2,
        28usize.saturating_sub(dh) / 2,
    );
    for y in 0..dh.min(28) {
        for x in 0..dw.min(28) {
            out[(y + oy) * 28 + x + ox] = libm::roundf(small[y * dw + x]).clamp(0.0, 255.0) as u8;
        }
    }
}

/// [`resize_area`] with a per-pixel mapping applied to the source bytes first (it is given the
/// pixel's frame coordinates and value).
pub(crate) fn resize_area_mapped(
    src: &[u8],
    stride: usize,
    (sx, sy, sw, sh): (usize, usize, usize, usize),
    dst: &mut [f32],
    dw: usize,
    dh: usize,
    map: impl Fn(usize, usize, u8) -> f32,
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
                    sum += wx * wy * map(sx + x, sy + y, src[(sy + y) * stride + sx + x]);
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
        let frame = paper_with_bar((100, 60), 250.0, 0.0, 10, 70..80, 5..35);
        let mut out = [0u8; 784];
        frame_like_mnist(&frame, 100, 60, &mut out).unwrap();
        // The bar becomes 7 x 20 bright pixels centred on (14, 14): rows 4..24.
        let (lit, cx, cy) = lit_and_centre(&out);
        assert_eq!(lit, 140);
        assert!((cx - 13.5).abs() <= 0.6 && (cy - 13.5).abs() <= 0.6);
    }

    /// A `w x h` frame of paper at `paper` under a left-to-right gradient of `gradient` levels,
    /// with a bar of `ink` over columns `xs` and rows `ys`.
    fn paper_with_bar(
        (w, h): (usize, usize),
        paper: f32,
        gradient: f32,
        ink: u8,
        xs: core::ops::Range<usize>,
        ys: core::ops::Range<usize>,
    ) -> alloc::vec::Vec<u8> {
        let mut frame = alloc::vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let light = paper + gradient * (x as f32 / w as f32 - 0.5);
                frame[y * w + x] = if xs.contains(&x) && ys.contains(&y) {
                    ink
                } else {
                    light as u8
                };
            }
        }
        frame
    }

    /// Bright pixels (> 200) of a framed field, and its centre of mass.
    fn lit_and_centre(out: &[u8; 784]) -> (usize, f32, f32) {
        let (mut cx, mut cy, mut m) = (0.0, 0.0, 0.0);
        for (i, &v) in out.iter().enumerate() {
            cx += f32::from(v) * (i % 28) as f32;
            cy += f32::from(v) * (i / 28) as f32;
            m += f32::from(v);
        }
        (out.iter().filter(|&&v| v > 200).count(), cx / m, cy / m)
    }

    #[test]
    fn dark_ink_in_a_dim_room_under_a_strong_gradient_is_found() {
        // Paper at 100 (darker than mid-gray: a mean test would call it dark paper), a gradient
        // of 80 levels across the frame, faint ink at 40 (fainter than the gradient's span).
        let frame = paper_with_bar((100, 60), 100.0, 80.0, 40, 70..80, 5..35);
        let mut out = [0u8; 784];
        frame_like_mnist(&frame, 100, 60, &mut out).unwrap();
        let (lit, cx, cy) = lit_and_centre(&out);
        assert_eq!(lit, 140, "the 10 x 30 bar becomes 7 x 20 bright pixels");
        assert!((cx - 13.5).abs() <= 0.6 && (cy - 13.5).abs() <= 0.6);
    }

    #[test]
    fn a_desk_over_a_third_of_the_frame_is_neither_paper_nor_ink() {
        // The bar of the first test, the sheet's edge at column 34 and a dark desk (55 to 63)
        // beyond it, noise of a few levels on the paper. The plane through the whole frame
        // runs between desk and paper, its noise floor past the ink: the field came out black.
        let mut frame = paper_with_bar((100, 60), 210.0, 0.0, 10, 60..70, 15..45);
        for (i, v) in frame.iter_mut().enumerate() {
            let (x, y) = (i % 100, i / 100);
            if x < 34 {
                *v = 55 + ((x * 7 + y * 13) % 9) as u8;
            } else if *v > 100 {
                *v -= ((x * 5 + y * 3) % 4) as u8;
            }
        }
        let mut out = [0u8; 784];
        frame_like_mnist(&frame, 100, 60, &mut out).unwrap();
        let (lit, cx, cy) = lit_and_centre(&out);
        assert_eq!(
            lit, 140,
            "the 10 x 30 bar alone becomes 7 x 20 bright pixels"
        );
        assert!((cx - 13.5).abs() <= 0.6 && (cy - 13.5).abs() <= 0.6);
    }

    #[test]
    fn light_ink_on_dark_paper_and_a_bar_that_fills_the_frame_are_found() {
        // A negative: chalk at 230 on a board at 40.
        let frame = paper_with_bar((100, 60), 40.0, 0.0, 230, 70..80, 5..35);
        let mut out = [0u8; 784];
        frame_like_mnist(&frame, 100, 60, &mut out).unwrap();
        assert_eq!(lit_and_centre(&out).0, 140);
        // A bar covering 40 % of the frame (more than the 20 % a percentile of paper allows).
        let frame = paper_with_bar((50, 60), 200.0, 0.0, 20, 15..35, 0..60);
        frame_like_mnist(&frame, 50, 60, &mut out).unwrap();
        let (lit, _, _) = lit_and_centre(&out);
        assert!(
            lit >= 6 * 20,
            "{lit} bright pixels: the bar, 20 x 60 scaled to 7 x 20"
        );
    }

    /// A 160x120 camera frame of paper at `paper` with sensor noise (sigma 5, seeded) and a
    /// small `7` drawn with a one-pixel pen at `ink`: 17 pixels, 0.09 % of the frame.
    fn small_seven_on_noisy_paper(paper: f32, ink: u8, seed: u64) -> alloc::vec::Vec<u8> {
        let (w, h) = (160, 120);
        let mut rng = crate::rng::SplitMix64::new(seed);
        let mut frame: alloc::vec::Vec<u8> = (0..w * h)
            .map(|_| (paper + 5.0 * rng.normal()).clamp(0.0, 255.0) as u8)
            .collect();
        for x in 100..108 {
            frame[40 * w + x] = ink; // the bar
        }
        for (i, y) in (41..50).enumerate() {
            frame[y * w + 107 - i / 2] = ink; // the stem, leaning
        }
        frame
    }

    #[test]
    fn a_digit_smaller_than_one_percent_of_the_frame_is_framed_either_way_round() {
        // Its 1 % quantiles are both noise: which tail is the ink was a coin toss, and half
        // such frames came out as an empty field.
        for seed in 0..8 {
            for (paper, ink) in [(190.0, 90), (50.0, 170)] {
                let frame = small_seven_on_noisy_paper(paper, ink, seed);
                let mut out = [0u8; 784];
                frame_like_mnist(&frame, 160, 120, &mut out).unwrap();
                let (rows, columns) = extent(&out);
                assert_eq!(
                    rows, 20,
                    "seed {seed}, paper {paper}: the 10-row digit fills the box's height"
                );
                assert!(
                    (6..=20).contains(&columns),
                    "seed {seed}, paper {paper}: {columns} columns"
                );
            }
        }
    }

    #[test]
    fn an_already_framed_digit_is_used_as_it_is_by_auto_framing_only() {
        let mut digit = [0u8; 784];
        for y in 6..22 {
            for x in 12..15 {
                digit[y * 28 + x] = 180 + (x as u8);
            }
        }
        assert!(is_already_framed(&digit, 28, 28));
        let mut out = [0u8; 784];
        frame_digit(&digit, 28, 28, Framing::default(), &mut out).unwrap();
        assert_eq!(out, digit);
        // MNIST framing re-frames it: stretched to 20 rows and to full contrast.
        let always = Framing::Always(FrameStyle::Mnist);
        frame_digit(&digit, 28, 28, always, &mut out).unwrap();
        assert_ne!(out, digit);
        // Dark ink on white paper at 28x28 is not framed yet.
        let paper: alloc::vec::Vec<u8> = digit.iter().map(|&v| 255 - v).collect();
        assert!(!is_already_framed(&paper, 28, 28));
        // None resizes the whole frame as it is.
        let frame = [100u8; 56 * 56];
        frame_digit(&frame, 56, 56, Framing::None, &mut out).unwrap();
        assert!(out.iter().all(|&v| v == 100));
        assert!(frame_digit(&frame, 56, 55, Framing::default(), &mut out).is_err());
        assert!(frame_digit(&frame, usize::MAX, 2, Framing::default(), &mut out).is_err());
    }

    /// A Fashion-MNIST-like coat: 28 rows tall, 20 columns wide, light on black, touching the
    /// top and bottom edges; its left half at `left`, its right half at `right`.
    fn framed_coat(left: u8, right: u8) -> [u8; 784] {
        let mut item = [0u8; 784];
        for y in 0..28 {
            for x in 4..24 {
                item[y * 28 + x] = if x < 14 { left } else { right };
            }
        }
        item
    }

    /// A light `w x h` block on a black 28x28 field, its top-left corner at (x0, y0).
    fn block(x0: usize, y0: usize, w: usize, h: usize) -> Vec<u8> {
        let mut field = alloc::vec![0u8; 784];
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                field[y * 28 + x] = 220;
            }
        }
        field
    }

    #[test]
    fn a_digit_off_the_centre_or_small_in_its_field_is_framed_again() {
        // A 4x20 "one" centred as MNIST's are: used as it is.
        let centred = block(12, 4, 4, 20);
        assert!(is_framed_as(&centred, 28, 28, FrameStyle::Mnist));
        // Moved 5 pixels right: its mass is 5 pixels off the centre (the slack is 2).
        let moved = block(17, 4, 4, 20);
        assert!(is_already_framed(&moved, 28, 28), "its ring is still black");
        assert!(!is_framed_as(&moved, 28, 28, FrameStyle::Mnist));
        let mut out = [0u8; 784];
        frame_digit(&moved, 28, 28, Framing::default(), &mut out).unwrap();
        let (mut mass, mut mx) = (0.0, 0.0);
        for (i, &v) in out.iter().enumerate() {
            mass += f64::from(v);
            mx += f64::from(v) * (i % 28) as f64;
        }
        let centre = mx / mass;
        assert!(
            (centre - 13.5).abs() <= 1.0,
            "framed back to the centre: {centre}"
        );
        // A bold digit off the centre, a third of the field: the plane through the field runs
        // between black and ink (it was read as paper, and used as it came); the plane from
        // the field's median lies on the black, and the digit is framed back to the centre.
        let bold = block(15, 4, 12, 20);
        assert!(!is_framed_as(&bold, 28, 28, FrameStyle::Mnist));
        frame_digit(&bold, 28, 28, Framing::default(), &mut out).unwrap();
        let (lit, cx, cy) = lit_and_centre(&out);
        assert_eq!(lit, 12 * 20, "the 12 x 20 block fills a 12 x 20 box");
        assert!((cx - 13.5).abs() <= 0.6 && (cy - 13.5).abs() <= 0.6);
        // Blurred: a soft-edged "one", full only along its centre line (1 column in 11).
        let mut soft = alloc::vec![0u8; 784];
        for y in 4..24 {
            let profile = [25u8, 50, 90, 130, 170, 220, 170, 130, 90, 50, 25];
            for (dx, v) in profile.into_iter().enumerate() {
                soft[y * 28 + 8 + dx] = v;
            }
        }
        assert!(!is_framed_as(&soft, 28, 28, FrameStyle::Mnist), "blurred");
        // Drawn small (8 pixels on its longer side, 16 needed), even when centred.
        assert!(!is_framed_as(
            &block(11, 10, 6, 8),
            28,
            28,
            FrameStyle::Mnist
        ));
        // Ink across the whole field (a line through the digit) is left as it is even off
        // the centre: framing again would shrink the digit to fit the line.
        let mut lined = moved.clone();
        for y in 0..28 {
            lined[y * 28 + 2] = 255;
        }
        assert!(is_framed_as(&lined, 28, 28, FrameStyle::Mnist));
        // An empty field, and any Fashion-MNIST field with a black ring, count as framed.
        assert!(is_framed_as(&[0u8; 784], 28, 28, FrameStyle::Mnist));
        assert!(is_framed_as(&moved, 28, 28, FrameStyle::FashionMnist));
    }

    #[test]
    fn impulse_noise_on_a_framed_field_is_taken_off_before_it_is_used() {
        let mut noisy = block(8, 4, 12, 20);
        let clean = noisy.clone();
        // Ten lone specks: light on the black field, dark inside the digit.
        let specks = [(2, 2), (25, 3), (3, 15), (24, 20), (1, 26), (26, 26)];
        let holes = [(12, 8), (15, 12), (10, 18), (16, 20)];
        for (x, y) in specks {
            noisy[y * 28 + x] = 255;
        }
        for (x, y) in holes {
            noisy[y * 28 + x] = 0;
        }
        let mut out = [0u8; 784];
        frame_digit(&noisy, 28, 28, Framing::default(), &mut out).unwrap();
        assert_eq!(out.to_vec(), clean);
        // With no framing asked for, the frame is the user's: untouched.
        frame_digit(&noisy, 28, 28, Framing::None, &mut out).unwrap();
        assert_eq!(out.to_vec(), noisy);
    }

    #[test]
    fn an_item_that_spans_the_field_is_already_framed() {
        // Its ring is lit on two sides (the old test, the ring's mean under 8, framed it
        // again), black on the two others.
        let coat = framed_coat(200, 120);
        assert!(is_already_framed(&coat, 28, 28));
        let mut out = [0u8; 784];
        frame_digit(
            &coat,
            28,
            28,
            Framing::Auto(FrameStyle::FashionMnist),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, coat);
        // Lit all round it is a frame of paper, not a framed item.
        assert!(!is_already_framed(&[200u8; 784], 28, 28));
        assert_eq!(
            FrameStyle::of_dataset("fashion-mnist"),
            FrameStyle::FashionMnist
        );
        assert_eq!(FrameStyle::of_dataset("mnist"), FrameStyle::Mnist);
    }

    /// The coat of [`framed_coat`] photographed: dark on paper at 210 with noise, at `scale`
    /// camera pixels a pixel, its top-left corner at (`x0`, `y0`) of a 160x120 frame.
    fn photographed_coat(left: u8, right: u8, scale: usize, (x0, y0): (usize, usize)) -> Vec<u8> {
        let coat = framed_coat(left, right);
        let mut rng = crate::rng::SplitMix64::new(5);
        let (w, h) = (160, 120);
        let mut frame = alloc::vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (u, v) = ((x.wrapping_sub(x0)) / scale, (y.wrapping_sub(y0)) / scale);
                let item = if u < 28 && v < 28 {
                    f32::from(coat[v * 28 + u])
                } else {
                    0.0
                };
                let noise = 3.0 * (rng.next_f32() - 0.5);
                frame[y * w + x] = (210.0 - item * 0.8 + noise).clamp(0.0, 255.0) as u8;
            }
        }
        frame
    }

    #[test]
    fn an_object_is_framed_as_fashion_mnist_was_made() {
        // A coat with a dark half and a half at a sixth of its ink (a light fabric), three
        // camera pixels a pixel, off the frame's centre.
        let frame = photographed_coat(240, 40, 3, (20, 20));
        let mut out = [0u8; 784];
        frame_digit(
            &frame,
            160,
            120,
            Framing::Always(FrameStyle::FashionMnist),
            &mut out,
        )
        .unwrap();
        let columns: Vec<usize> = (0..28)
            .filter(|&x| (0..28).any(|y| out[y * 28 + x] > 0))
            .collect();
        let rows = (0..28).filter(|&y| out[y * 28..(y + 1) * 28].iter().any(|&v| v > 0));
        // Its longer side spans the field; the light half is in the box; centred.
        assert_eq!(rows.count(), 28);
        assert_eq!(columns.len(), 20, "{columns:?}");
        assert_eq!((columns[0], columns[19]), (4, 23));
        assert_eq!(out.iter().max(), Some(&255));
        // The light half keeps its level against the dark one (40 / 240 of it).
        let (dark, light) = (out[14 * 28 + 8], out[14 * 28 + 19]);
        assert!(dark >= 245 && (30..=55).contains(&light), "{dark} {light}");
        // MNIST's framing cuts the light half off (a digit's faint ink is a quarter of the
        // way to the strongest) and scales the rest into 20x20.
        frame_digit(
            &frame,
            160,
            120,
            Framing::Always(FrameStyle::Mnist),
            &mut out,
        )
        .unwrap();
        let rows = (0..28).filter(|&y| out[y * 28..(y + 1) * 28].iter().any(|&v| v > 0));
        assert_eq!(rows.count(), 20);
    }

    #[test]
    fn a_faint_pen_whose_strokes_cross_comes_out_at_full_ink() {
        // An L of a faint pen (ink 60 levels below paper at 200) whose strokes cross at a
        // darker corner (100 below). Stretched from the strongest pixel, the strokes came out
        // at 60 % of full ink; brought to MNIST's levels they are full ink, as MNIST's are.
        let (w, h) = (100, 60);
        let frame = faint_l((w, h), 60, 100);
        let mut out = [0u8; 784];
        frame_like_mnist(&frame, w, h, &mut out).unwrap();
        // The 40-pixel stem is the box's height: 20 rows of the field.
        let rows = (0..28).filter(|y| out[y * 28..(y + 1) * 28].iter().any(|&v| v > 0));
        assert_eq!(rows.count(), 20);
        let lit = out.iter().filter(|&&v| v >= 250).count();
        assert!(lit >= 30, "{lit} pixels at full ink");
    }

    /// Paper at 200 with an L of a pen `stroke` levels below it whose strokes cross at a
    /// corner `corner` below it: a 40-pixel stem and a 30-pixel foot, two pixels wide.
    fn faint_l((w, h): (usize, usize), stroke: u8, corner: u8) -> alloc::vec::Vec<u8> {
        let mut frame = alloc::vec![200u8; w * h];
        for y in 10..50 {
            frame[y * w + 40] = 200 - stroke;
            frame[y * w + 41] = 200 - stroke;
        }
        for x in 40..70 {
            frame[49 * w + x] = 200 - stroke;
            frame[48 * w + x] = 200 - stroke;
        }
        for (x, y) in [(40, 48), (40, 49), (41, 48), (41, 49)] {
            frame[y * w + x] = 200 - corner;
        }
        frame
    }

    /// Rows and columns of the field with any ink.
    fn extent(out: &[u8; 784]) -> (usize, usize) {
        let rows = (0..28).filter(|y| (0..28).any(|x| out[y * 28 + x] > 0));
        let columns = (0..28).filter(|x| (0..28).any(|y| out[y * 28 + x] > 0));
        (rows.count(), columns.count())
    }

    #[test]
    fn strokes_fainter_than_half_their_crossing_are_framed_with_it() {
        // Strokes 35 levels below the paper, their crossing 100 below: cut at half the
        // strongest ink, the box held the crossing alone and the field was one blot.
        let frame = faint_l((100, 60), 35, 100);
        let mut out = [0u8; 784];
        frame_like_mnist(&frame, 100, 60, &mut out).unwrap();
        let (rows, columns) = extent(&out);
        assert_eq!(rows, 20, "the 40-pixel stem is the box's height");
        assert!(columns >= 15, "the 30-pixel foot spans {columns} columns");
    }

    #[test]
    fn a_ruled_pages_lines_are_not_framed() {
        let (w, h) = (100, 60);
        let plain = faint_l((w, h), 80, 80);
        let mut ruled = plain.clone();
        // A line every 8 rows, 50 levels below the paper (more than half the ink's 80).
        for y in (3..h).step_by(8) {
            for x in 0..w {
                ruled[y * w + x] = ruled[y * w + x].min(150);
            }
        }
        let (mut out_plain, mut out_ruled) = ([0u8; 784], [0u8; 784]);
        frame_like_mnist(&plain, w, h, &mut out_plain).unwrap();
        frame_like_mnist(&ruled, w, h, &mut out_ruled).unwrap();
        let differ = out_plain
            .iter()
            .zip(&out_ruled)
            .filter(|(a, b)| a.abs_diff(**b) > 32)
            .count();
        assert!(differ <= 8, "{differ} of 784 pixels differ by more than 32");
        assert_eq!(extent(&out_ruled), extent(&out_plain));
    }

    #[test]
    fn the_full_ink_level_is_where_forty_percent_of_the_ink_reaches() {
        // Ink at 1..=100 and three fainter pixels: those at or below a tenth of the strongest
        // do not count, and 36 (40 %) of the 90 counted, 11..=100, reach 65.
        let mut small: alloc::vec::Vec<f32> = (1..=100).map(|v| v as f32).collect();
        small.extend([0.0, 0.5, 2.0]);
        assert_eq!(full_ink_level(&small), 65.0);
        assert_eq!(full_ink_level(&[0.0; 4]), 0.0);
        assert_eq!(full_ink_level(&[3.0]), 3.0);
    }

    #[test]
    fn a_flat_or_short_frame_does_not_panic() {
        let mut out = [7u8; 784];
        frame_like_mnist(&[128u8; 400], 20, 20, &mut out).unwrap();
        assert!(out.iter().all(|&v| v == 0));
        assert!(frame_like_mnist(&[0u8; 10], 20, 20, &mut out).is_err());
    }
}
