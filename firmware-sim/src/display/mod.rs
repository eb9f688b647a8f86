//! The device's screen: a 320x240 RGB565 framebuffer, what is drawn on it, and how it is saved.
//!
//! Why RGB565 at 320x240: that is the ILI9341-class SPI panel such boards carry, and its native
//! pixel format; drawing into the same format here means the drawing code ([`draw_screen`]) runs
//! unchanged on the real panel's embedded-graphics driver. On the host the buffer is saved as PNG
//! snapshots and an animated GIF ([`Recorder`]).

mod recorder;
mod screen;

use std::convert::Infallible;

use embedded_graphics::pixelcolor::raw::RawU16;
use embedded_graphics::pixelcolor::{Rgb565, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

pub use recorder::Recorder;
pub use screen::{InputView, Learning, ScreenState, Zoom, draw_screen};

/// Panel width in pixels.
pub const WIDTH: u32 = 320;
/// Panel height in pixels.
pub const HEIGHT: u32 = 240;

/// An in-memory RGB565 panel: 2 bytes per pixel, 150 KiB, as the panel's own RAM holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framebuffer {
    pixels: Vec<Rgb565>,
}

impl Default for Framebuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framebuffer {
    /// A black panel.
    pub fn new() -> Self {
        Self {
            pixels: vec![Rgb565::BLACK; (WIDTH * HEIGHT) as usize],
        }
    }

    /// The colour at (`x`, `y`), `None` off the panel.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb565> {
        (x < WIDTH && y < HEIGHT).then(|| self.pixels[(y * WIDTH + x) as usize])
    }

    /// All pixels, row-major.
    pub fn pixels(&self) -> &[Rgb565] {
        &self.pixels
    }

    /// The buffer as the raw 16-bit words a SPI transfer to the panel would send.
    pub fn raw_u16(&self) -> impl Iterator<Item = u16> + '_ {
        self.pixels.iter().map(|&c| RawU16::from(c).into_inner())
    }

    fn index(&self, p: Point) -> Option<usize> {
        let (x, y) = (u32::try_from(p.x).ok()?, u32::try_from(p.y).ok()?);
        (x < WIDTH && y < HEIGHT).then_some((y * WIDTH + x) as usize)
    }
}

impl OriginDimensions for Framebuffer {
    fn size(&self) -> Size {
        Size::new(WIDTH, HEIGHT)
    }
}

impl DrawTarget for Framebuffer {
    type Color = Rgb565;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(p, color) in pixels {
            if let Some(i) = self.index(p) {
                self.pixels[i] = color;
            }
        }
        Ok(())
    }

    /// Rectangles are the bulk of a screen (backgrounds, bars, scaled images): fill them row
    /// by row instead of pixel by pixel.
    fn fill_solid(&mut self, area: &Rectangle, color: Self::Color) -> Result<(), Self::Error> {
        let area = area.intersection(&self.bounding_box());
        if let Some(bottom_right) = area.bottom_right() {
            for y in area.top_left.y..=bottom_right.y {
                let row = (y as u32 * WIDTH) as usize;
                let (x0, x1) = (area.top_left.x as usize, bottom_right.x as usize);
                self.pixels[row + x0..=row + x1].fill(color);
            }
        }
        Ok(())
    }
}

/// Expands RGB565 to 8 bits per channel by bit replication (5 bits `abcde` -> `abcdeabc`), so
/// full scale stays full scale: white is 255, 255, 255, not 248, 252, 248.
pub fn rgb888(color: Rgb565) -> [u8; 3] {
    let (r, g, b) = (color.r(), color.g(), color.b());
    [
        (r << 3) | (r >> 2),
        (g << 2) | (g >> 4),
        (b << 3) | (b >> 2),
    ]
}

/// The panel as an 8-bit RGB image.
pub fn to_rgb_image(fb: &Framebuffer) -> image::RgbImage {
    let mut out = image::RgbImage::new(WIDTH, HEIGHT);
    write_rgb(fb, &mut out);
    out
}

/// [`to_rgb_image`] into an existing 320x240 image, so snapshots reuse one buffer.
pub fn write_rgb(fb: &Framebuffer, out: &mut image::RgbImage) {
    for (dst, &src) in out.as_mut().chunks_exact_mut(3).zip(fb.pixels()) {
        dst.copy_from_slice(&rgb888(src));
    }
}

/// The panel colour closest to a gray level.
pub fn gray(level: u8) -> Rgb565 {
    Rgb565::new(level >> 3, level >> 2, level >> 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::primitives::{PrimitiveStyle, StyledDrawable};

    #[test]
    fn a_drawn_rectangle_lands_on_exactly_its_pixels() {
        let mut fb = Framebuffer::new();
        Rectangle::new(Point::new(10, 20), Size::new(3, 2))
            .draw_styled(&PrimitiveStyle::with_fill(Rgb565::RED), &mut fb)
            .unwrap();
        for y in 18..25 {
            for x in 8..16 {
                let inside = (10..13).contains(&x) && (20..22).contains(&y);
                let expected = if inside { Rgb565::RED } else { Rgb565::BLACK };
                assert_eq!(fb.pixel(x, y), Some(expected), "({x}, {y})");
            }
        }
        let red = fb.pixels().iter().filter(|&&c| c == Rgb565::RED).count();
        assert_eq!(red, 6);
        assert_eq!(fb.pixel(320, 0), None);
    }

    #[test]
    fn drawing_off_the_panel_is_clipped_not_a_panic() {
        let mut fb = Framebuffer::new();
        Rectangle::new(Point::new(310, 230), Size::new(50, 50))
            .draw_styled(&PrimitiveStyle::with_fill(Rgb565::GREEN), &mut fb)
            .unwrap();
        Pixel(Point::new(-1, 5), Rgb565::GREEN)
            .draw(&mut fb)
            .unwrap();
        let green = fb.pixels().iter().filter(|&&c| c == Rgb565::GREEN).count();
        assert_eq!(green, 100);
        assert_eq!(fb.pixel(319, 239), Some(Rgb565::GREEN));
    }

    #[test]
    fn rgb565_expands_to_full_scale_8_bit() {
        assert_eq!(rgb888(Rgb565::WHITE), [255, 255, 255]);
        assert_eq!(rgb888(Rgb565::BLACK), [0, 0, 0]);
        assert_eq!(rgb888(Rgb565::new(16, 32, 16)), [132, 130, 132]);
        let mut fb = Framebuffer::new();
        fb.clear(Rgb565::WHITE).unwrap();
        let image = to_rgb_image(&fb);
        assert_eq!(image.dimensions(), (320, 240));
        assert!(image.pixels().all(|p| p.0 == [255, 255, 255]));
        assert_eq!(fb.raw_u16().next(), Some(0xFFFF));
    }
}
