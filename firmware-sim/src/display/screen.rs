//! What the device shows: camera view, model input, prediction with every class's confidence,
//! truth, speed, learning, drift, memory, model.
//!
//! Why generic over [`DrawTarget`]: the same [`draw_screen`] draws into the simulator's
//! [`super::Framebuffer`] and, on hardware, into the panel driver. It allocates nothing (text is
//! formatted into fixed stack buffers), so it is fit for a device loop.
//!
//! Layout (320x240):
//! ```text
//! +----------------+----------------+
//! | camera 160x120 |  input x4      |
//! |                |  "input 28x28" |
//! +----------------+----------------+
//! | prediction     | truth          |
//! |  7   93%       |  7 (green/red) |
//! |  class bars    | fps, frame     |
//! | learning on/off, steps, labels  | drift
//! +---------------------------------+
//! | model name, precision, memory   |
//! +---------------------------------+
//! ```

use core::fmt::{self, Write};

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_10X20};
use embedded_graphics::pixelcolor::{Rgb565, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};
use plastic_runtime::preprocess::PixelFormat;
use plastic_runtime::{Precision, Prediction};

use super::gray;
use crate::camera::Frame;
use crate::drift::DRIFT_ALERT;
use crate::pipeline::precision_name;

/// Area of the camera view.
const CAMERA: Rectangle = Rectangle::new(Point::new(0, 0), Size::new(160, 120));
/// Top-left of the model-input view and its size.
const INPUT_AT: Point = Point::new(184, 2);
const INPUT_SIDE: u32 = 112;
/// Where the lower panels start.
const LOWER_Y: i32 = 132;
/// The footer's top edge.
const FOOTER_Y: i32 = 226;

const DIM: Rgb565 = Rgb565::new(20, 40, 20);
const PANEL: Rgb565 = Rgb565::new(2, 4, 2);
const GOOD: Rgb565 = Rgb565::new(4, 58, 8);
const BAD: Rgb565 = Rgb565::new(31, 10, 6);
const AMBER: Rgb565 = Rgb565::new(31, 44, 0);

/// The model's input as bytes, channel-planar (see [`crate::pipeline::Pipeline::input_pixels`]).
#[derive(Debug, Clone, Copy)]
pub struct InputView<'a> {
    /// `width * height * channels` bytes.
    pub pixels: &'a [u8],
    /// Input width.
    pub width: usize,
    /// Input height.
    pub height: usize,
    /// 1 (gray) or 3 (RGB planes).
    pub channels: usize,
}

/// Everything one screen shows.
#[derive(Debug, Clone, Copy)]
pub struct ScreenState<'a> {
    /// The camera frame as captured.
    pub frame: &'a Frame,
    /// What the model was fed.
    pub input: InputView<'a>,
    /// What the model answered.
    pub prediction: Prediction,
    /// Class names from the model spec (may be empty: indices are shown then).
    pub classes: &'a [String],
    /// The true class, when the camera knows it.
    pub truth: Option<u8>,
    /// Frames per second, recent average.
    pub fps: f32,
    /// 0-based index of this frame.
    pub frame_index: u64,
    /// The model's name from its spec.
    pub model_name: &'a str,
    /// The model's weight precision.
    pub precision: Precision,
    /// What the device has learned so far, when it learns (`None`: learning off).
    pub learning: Option<Learning>,
    /// Every class's confidence, in 0..=1 (the first `MAX_BARS` are drawn as bars).
    pub confidences: &'a [f32],
    /// The drift indicator ([`crate::drift::DriftMonitor::drift`]).
    pub drift: f32,
    /// Bytes the device holds (weights and buffers).
    pub memory_bytes: usize,
    /// Whether the framed picture had a digit's shape, for a model of digits (see
    /// [`plastic_runtime::digit_shape`]): without one the model's answer is drawn dim, with
    /// "no digit" beside it, for it answers an empty field too.
    pub digit: Option<bool>,
}

/// Class bars drawn at most (ten fit under the prediction).
pub const MAX_BARS: usize = 10;
/// Where the class bars stand: left edge, bottom edge, width of a bar, distance between bars,
/// full height.
const BARS_X: i32 = 82;
const BARS_BOTTOM: i32 = LOWER_Y + 72;
const BAR_WIDTH: u32 = 9;
const BAR_PITCH: i32 = 12;
const BAR_HEIGHT: f32 = 24.0;

/// Counters of on-device learning, shown under the prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Learning {
    /// Krotov steps that changed the layer.
    pub steps: u64,
    /// Readout steps from labels.
    pub label_steps: u64,
}

/// Draws one screen.
pub fn draw_screen<D>(target: &mut D, state: &ScreenState<'_>) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb565>,
{
    target.clear(Rgb565::BLACK)?;
    draw_camera(target, state.frame)?;
    draw_input(target, &state.input)?;

    // Prediction: class (large), confidence, bar.
    caption(target, "prediction", 4, LOWER_Y)?;
    let predicted = class_text(state.classes, state.prediction.class);
    let zoom = if predicted.as_str().len() <= 2 { 3 } else { 1 };
    let seen = state.digit != Some(false);
    let answer_colour = if seen { Rgb565::WHITE } else { DIM };
    Text::with_baseline(
        predicted.as_str(),
        Point::zero(),
        MonoTextStyle::new(&FONT_10X20, answer_colour),
        Baseline::Top,
    )
    .draw(&mut Zoom::new(target, Point::new(8, LOWER_Y + 14), zoom))?;
    let confidence = state.prediction.confidence.clamp(0.0, 1.0);
    if seen {
        let percent = line::<8>(format_args!("{:.0}%", confidence * 100.0));
        Text::with_baseline(
            percent.as_str(),
            Point::new(82, LOWER_Y + 20),
            MonoTextStyle::new(&FONT_10X20, answer_colour),
            Baseline::Top,
        )
        .draw(target)?;
    } else {
        small_text(target, "no digit", 82, LOWER_Y + 24, AMBER)?;
    }
    // One bar per class, the predicted one in colour.
    for (i, &c) in state.confidences.iter().take(MAX_BARS).enumerate() {
        let height = (c.clamp(0.0, 1.0) * BAR_HEIGHT).round().max(1.0) as u32;
        let colour = match (i == state.prediction.class, confidence >= 0.5) {
            (true, true) => GOOD,
            (true, false) => AMBER,
            _ => DIM,
        };
        let x = BARS_X + BAR_PITCH * i as i32;
        Rectangle::new(
            Point::new(x, BARS_BOTTOM - height as i32),
            Size::new(BAR_WIDTH, height),
        )
        .into_styled(PrimitiveStyle::with_fill(colour))
        .draw(target)?;
    }

    // Truth, speed, frame counter.
    caption(target, "truth", 220, LOWER_Y)?;
    match state.truth {
        Some(truth) => {
            let correct = usize::from(truth) == state.prediction.class;
            let text = class_text(state.classes, usize::from(truth));
            let style = MonoTextStyle::new(&FONT_10X20, if correct { GOOD } else { BAD });
            Text::with_baseline(
                text.as_str(),
                Point::new(220, LOWER_Y + 14),
                style,
                Baseline::Top,
            )
            .draw(target)?;
        }
        None => {
            caption(target, "unknown", 220, LOWER_Y + 20)?;
        }
    }
    let fps = line::<16>(format_args!("{:.1} fps", state.fps));
    caption(target, fps.as_str(), 220, LOWER_Y + 46)?;
    let counter = line::<24>(format_args!("frame {}", state.frame_index));
    caption(target, counter.as_str(), 220, LOWER_Y + 60)?;
    let text = match state.learning {
        Some(learning) => line::<48>(format_args!(
            "learning on: {} steps, {} labels",
            learning.steps, learning.label_steps
        )),
        None => line::<48>(format_args!("learning off")),
    };
    small_text(target, text.as_str(), 4, LOWER_Y + 76, AMBER)?;
    let drift = line::<16>(format_args!("drift {:.2}", state.drift));
    let drift_colour = if state.drift >= DRIFT_ALERT { BAD } else { DIM };
    small_text(target, drift.as_str(), 220, LOWER_Y + 76, drift_colour)?;

    // Footer: which model is running, in which precision.
    Line::new(Point::new(0, FOOTER_Y), Point::new(319, FOOTER_Y))
        .into_styled(PrimitiveStyle::with_stroke(DIM, 1))
        .draw(target)?;
    let footer = line::<53>(format_args!(
        "model {} ({}), {} KiB",
        state.model_name,
        precision_name(state.precision),
        state.memory_bytes.div_ceil(1024)
    ));
    small_text(target, footer.as_str(), 4, FOOTER_Y + 3, Rgb565::WHITE)?;
    Ok(())
}

/// The camera frame, scaled (nearest neighbour, aspect kept) to fit 160x120 at the top left.
fn draw_camera<D>(target: &mut D, frame: &Frame) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb565>,
{
    target.fill_solid(&CAMERA, PANEL)?;
    let (fw, fh) = (frame.width, frame.height);
    let bpp = frame.format.bytes_per_pixel();
    if fw == 0 || fh == 0 || frame.data.len() != fw * fh * bpp {
        return Ok(()); // nothing sensible to show
    }
    let (cw, ch) = (CAMERA.size.width as usize, CAMERA.size.height as usize);
    let k = (cw as f32 / fw as f32).min(ch as f32 / fh as f32);
    let dw = ((fw as f32 * k).round() as usize).clamp(1, cw);
    let dh = ((fh as f32 * k).round() as usize).clamp(1, ch);
    let colours = (0..dh).flat_map(|y| {
        let sy = y * fh / dh;
        (0..dw).map(move |x| {
            let i = (sy * fw + x * fw / dw) * bpp;
            match frame.format {
                PixelFormat::Gray8 => gray(frame.data[i]),
                PixelFormat::Rgb24 => rgb(frame.data[i], frame.data[i + 1], frame.data[i + 2]),
            }
        })
    });
    let area = Rectangle::new(CAMERA.top_left, Size::new(dw as u32, dh as u32));
    target.fill_contiguous(&area, colours)
}

/// The model input, each pixel a `k x k` square (x4 for 28x28), with its caption.
fn draw_input<D>(target: &mut D, input: &InputView<'_>) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb565>,
{
    let (w, h) = (input.width, input.height);
    let plane = w * h;
    if w > 0 && h > 0 && input.pixels.len() >= plane * input.channels.max(1) {
        let k = (INPUT_SIDE as usize / w.max(h)).max(1);
        let colours = (0..h * k).flat_map(|y| {
            (0..w * k).map(move |x| {
                let i = (y / k) * w + x / k;
                if input.channels == 3 {
                    rgb(
                        input.pixels[i],
                        input.pixels[plane + i],
                        input.pixels[2 * plane + i],
                    )
                } else {
                    gray(input.pixels[i])
                }
            })
        });
        let area = Rectangle::new(INPUT_AT, Size::new((w * k) as u32, (h * k) as u32));
        target.fill_contiguous(&area, colours)?;
    }
    let text = line::<24>(format_args!("input {w}x{h}"));
    let below = INPUT_AT + Point::new(0, INPUT_SIDE as i32 + 3);
    caption(target, text.as_str(), below.x, below.y)?;
    Ok(())
}

/// Small dim text with its top-left corner at (`x`, `y`).
fn caption<D>(target: &mut D, text: &str, x: i32, y: i32) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb565>,
{
    small_text(target, text, x, y, DIM)
}

/// Small text in `colour` with its top-left corner at (`x`, `y`).
fn small_text<D>(target: &mut D, text: &str, x: i32, y: i32, colour: Rgb565) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb565>,
{
    let style = MonoTextStyle::new(&FONT_6X10, colour);
    Text::with_baseline(text, Point::new(x, y), style, Baseline::Top).draw(target)?;
    Ok(())
}

fn rgb(r: u8, g: u8, b: u8) -> Rgb565 {
    Rgb565::new(r >> 3, g >> 2, b >> 3)
}

/// A class as text: its name from the spec, or its index.
fn class_text(classes: &[String], class: usize) -> TextLine<16> {
    match classes.get(class) {
        Some(name) => line(format_args!("{name}")),
        None => line(format_args!("{class}")),
    }
}

/// Formats into a fixed stack buffer (truncating), so drawing text allocates nothing.
fn line<const N: usize>(args: fmt::Arguments<'_>) -> TextLine<N> {
    let mut out = TextLine {
        buf: [0; N],
        len: 0,
    };
    // Writing into a TextLine never fails; it truncates.
    let _ = out.write_fmt(args);
    out
}

/// A short string in a fixed buffer.
struct TextLine<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> TextLine<N> {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Write for TextLine<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let mut tmp = [0u8; 4];
            let bytes = c.encode_utf8(&mut tmp).as_bytes();
            if self.len + bytes.len() > N {
                break;
            }
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
        Ok(())
    }
}

/// A draw target that magnifies everything drawn into it by an integer factor, placing its
/// origin at `origin` on the inner target. embedded-graphics' largest built-in font is 10x20;
/// this draws the prediction 3x larger without shipping another font.
#[derive(Debug)]
pub struct Zoom<'a, D> {
    target: &'a mut D,
    origin: Point,
    factor: u32,
}

impl<'a, D: DrawTarget> Zoom<'a, D> {
    /// Magnifies by `factor` (at least 1) with the zoomed (0, 0) at `origin`.
    pub fn new(target: &'a mut D, origin: Point, factor: u32) -> Self {
        Self {
            target,
            origin,
            factor: factor.max(1),
        }
    }
}

impl<D: DrawTarget> OriginDimensions for Zoom<'_, D> {
    fn size(&self) -> Size {
        self.target.bounding_box().size / self.factor
    }
}

impl<D: DrawTarget> DrawTarget for Zoom<'_, D> {
    type Color = D::Color;
    type Error = D::Error;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let side = Size::new_equal(self.factor);
        for Pixel(p, colour) in pixels {
            let at = self.origin + p * self.factor as i32;
            self.target.fill_solid(&Rectangle::new(at, side), colour)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::{Framebuffer, rgb888};
    use embedded_graphics::mock_display::MockDisplay;
    use embedded_graphics::pixelcolor::BinaryColor;

    #[test]
    fn zoom_turns_each_pixel_into_a_square() {
        let mut display = MockDisplay::<BinaryColor>::new();
        let mut zoom = Zoom::new(&mut display, Point::new(1, 0), 2);
        Pixel(Point::new(0, 0), BinaryColor::On)
            .draw(&mut zoom)
            .unwrap();
        Pixel(Point::new(1, 1), BinaryColor::Off)
            .draw(&mut zoom)
            .unwrap();
        display.assert_pattern(&[
            " ##  ", //
            " ##  ", //
            "   ..", //
            "   ..", //
        ]);
    }

    #[test]
    fn text_lines_truncate_instead_of_allocating() {
        assert_eq!(line::<5>(format_args!("{}", 123_456)).as_str(), "12345");
        assert_eq!(line::<3>(format_args!("aé€")).as_str(), "aé");
    }

    fn screen(truth: Option<u8>) -> Framebuffer {
        screen_with(truth, None)
    }

    fn screen_with(truth: Option<u8>, digit: Option<bool>) -> Framebuffer {
        let frame = Frame {
            width: 80,
            height: 60,
            format: PixelFormat::Gray8,
            data: vec![200; 80 * 60],
            label: truth,
        };
        let pixels = vec![255u8; 784];
        let state = ScreenState {
            frame: &frame,
            input: InputView {
                pixels: &pixels,
                width: 28,
                height: 28,
                channels: 1,
            },
            prediction: Prediction {
                class: 7,
                confidence: 0.93,
            },
            classes: &[],
            truth,
            fps: 30.0,
            frame_index: 12,
            model_name: "test-model",
            precision: Precision::Int8,
            learning: Some(Learning {
                steps: 5,
                label_steps: 1,
            }),
            confidences: &[0.02, 0.0, 0.01, 0.5, 0.0, 0.0, 0.0, 0.93, 0.0, 0.0],
            drift: 0.25,
            memory_bytes: 4096,
            digit,
        };
        let mut fb = Framebuffer::new();
        draw_screen(&mut fb, &state).unwrap();
        fb
    }

    #[test]
    fn the_screen_shows_frame_input_and_a_green_or_red_truth() {
        let fb = screen(Some(7));
        // The 80x60 frame is scaled x2 to fill the camera area.
        assert_eq!(fb.pixel(0, 0), Some(gray(200)));
        assert_eq!(fb.pixel(159, 119), Some(gray(200)));
        // The all-white input covers 112x112 from (184, 2).
        assert_eq!(fb.pixel(184, 2), Some(Rgb565::WHITE));
        assert_eq!(fb.pixel(295, 113), Some(Rgb565::WHITE));
        assert_eq!(fb.pixel(296, 113), Some(Rgb565::BLACK));
        // Class 7's bar is 22 of 24 pixels high and green; class 3's, 12 high and dim; class
        // 1's, one pixel.
        let bar = |class: i32, from_bottom: i32| {
            let x = BARS_X + BAR_PITCH * class + 4;
            fb.pixel(x as u32, (BARS_BOTTOM - from_bottom) as u32)
        };
        assert_eq!((bar(7, 22), bar(7, 23)), (Some(GOOD), Some(Rgb565::BLACK)));
        assert_eq!((bar(3, 12), bar(3, 13)), (Some(DIM), Some(Rgb565::BLACK)));
        assert_eq!((bar(1, 1), bar(1, 2)), (Some(DIM), Some(Rgb565::BLACK)));
        // The drift indicator is past its alert level: drawn in red at the right.
        let drift_red = (220..320).any(|x| {
            (LOWER_Y as u32 + 76..LOWER_Y as u32 + 86).any(|y| fb.pixel(x, y) == Some(BAD))
        });
        assert!(drift_red);
        let in_truth = |fb: &Framebuffer, colour| {
            (220..320).any(|x| {
                (LOWER_Y as u32 + 14..LOWER_Y as u32 + 34).any(|y| fb.pixel(x, y) == Some(colour))
            })
        };
        assert!(in_truth(&fb, GOOD) && !in_truth(&fb, BAD));
        let wrong = screen(Some(3));
        assert!(in_truth(&wrong, BAD) && !in_truth(&wrong, GOOD));
        // The footer is drawn in white.
        let footer = (0..320)
            .any(|x| (FOOTER_Y as u32 + 3..240).any(|y| fb.pixel(x, y) == Some(Rgb565::WHITE)));
        assert!(footer);
        // The learning line is drawn in amber under the prediction.
        let learning = (4..180).any(|x| {
            (LOWER_Y as u32 + 76..LOWER_Y as u32 + 86).any(|y| fb.pixel(x, y) == Some(AMBER))
        });
        assert!(learning);
        assert_eq!(rgb888(fb.pixel(0, 0).unwrap()), [206, 203, 206]);
    }

    #[test]
    fn without_a_digit_the_answer_is_drawn_dim_and_says_so() {
        // The answer's area, left of the bars: white for a digit, none without one.
        let white_answer = |fb: &Framebuffer| {
            (8..80).any(|x| {
                (LOWER_Y as u32 + 14..LOWER_Y as u32 + 74)
                    .any(|y| fb.pixel(x, y) == Some(Rgb565::WHITE))
            })
        };
        let amber_note = |fb: &Framebuffer| {
            (82..140).any(|x| {
                (LOWER_Y as u32 + 24..LOWER_Y as u32 + 34).any(|y| fb.pixel(x, y) == Some(AMBER))
            })
        };
        let (digit, none, unjudged) = (
            screen_with(Some(7), Some(true)),
            screen_with(Some(7), Some(false)),
            screen_with(Some(7), None),
        );
        assert!(white_answer(&digit) && !amber_note(&digit));
        assert!(white_answer(&unjudged) && !amber_note(&unjudged));
        assert!(!white_answer(&none) && amber_note(&none));
    }
}
