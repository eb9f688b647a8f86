//! An image file as a viewer shows it: turned as its EXIF orientation says, transparency laid
//! on paper.
//!
//! Why: a `dir:` folder holds what people have, and two kinds of file read wrong as decoded.
//! - A phone stores a photo as its sensor read it and writes which way it was held in the
//!   EXIF orientation tag; every viewer turns the picture by it. A portrait photo of a card
//!   decodes lying on its side, and the device would read it sideways until its orientation
//!   finder turned (tens of frames; a folder of a few photos never gets there).
//! - A digit drawn in an app or on an HTML canvas is saved as strokes on a transparent sheet:
//!   the colour under the transparent pixels is whatever the app left there (a canvas leaves
//!   black, the colour of its strokes too). With the alpha dropped, the 200 shipped samples
//!   saved that way were 200 black frames, every one judged to hold no digit.
//!
//! A picture mostly transparent (its mean opacity under half) is a drawing on a clear sheet,
//! and goes on the paper it stands out from: white under dark strokes, black under light ones
//! (the strokes' level is their mean, weighed by opacity). A picture mostly opaque with a few
//! clear pixels (a photo's rounded corners, a cut-out) has holes: they take the median level
//! of its opaque pixels, its own paper, and add no edge a framing could take for ink.

use image::{DynamicImage, GenericImageView, GrayImage, RgbImage, metadata::Orientation};

/// Turns a decoded image as its file's orientation tag said (`ImageDecoder::orientation`, read
/// before decoding); a tag that could not be read leaves the image as decoded.
pub fn orient(orientation: image::ImageResult<Orientation>, image: &mut DynamicImage) {
    image.apply_orientation(orientation.unwrap_or(Orientation::NoTransforms));
}

/// `image` without its alpha channel, laid on paper as the module's docs say: 8-bit gray or
/// RGB as its colour type is. An image without alpha, or whose every pixel is opaque, comes
/// back as it is.
pub fn flatten_alpha(image: DynamicImage) -> DynamicImage {
    if !image.color().has_alpha() {
        return image;
    }
    // Read pixel by pixel as 8-bit RGBA: no copy of a picture that may be large.
    let rgba = || image.pixels().map(|(_, _, p)| p.0);
    if rgba().all(|p| p[3] == u8::MAX) {
        return image;
    }
    let paper = paper_level(rgba().map(|p| (luma(p), p[3])));
    let over = |c: u8, a: u8| {
        let (c, a) = (u32::from(c), u32::from(a));
        ((c * a + u32::from(paper) * (255 - a) + 127) / 255) as u8
    };
    let (width, height) = image.dimensions();
    let flat = if image.color().has_color() {
        let rgb = rgba()
            .flat_map(|[r, g, b, a]| [over(r, a), over(g, a), over(b, a)])
            .collect();
        RgbImage::from_raw(width, height, rgb).map(DynamicImage::ImageRgb8)
    } else {
        let gray = rgba().map(|p| over(luma(p), p[3])).collect();
        GrayImage::from_raw(width, height, gray).map(DynamicImage::ImageLuma8)
    };
    flat.unwrap_or(image)
}

/// The level transparent pixels take, from each pixel's level and opacity (see the module's
/// docs).
fn paper_level(pixels: impl Iterator<Item = (u8, u8)>) -> u8 {
    let (mut opacity, mut weighed, mut count) = (0u64, 0u64, 0u64);
    let mut opaque = [0u64; 256];
    for (level, alpha) in pixels {
        opacity += u64::from(alpha);
        weighed += u64::from(alpha) * u64::from(level);
        count += 1;
        if alpha >= 128 {
            opaque[usize::from(level)] += 1;
        }
    }
    if 2 * opacity < count * 255 {
        // A drawing on a clear sheet: the paper its strokes stand out from.
        let strokes_dark = opacity == 0 || 2 * weighed < opacity * 255;
        return if strokes_dark { u8::MAX } else { 0 };
    }
    // Holes in a picture: its opaque pixels' median level.
    let half = opaque.iter().sum::<u64>().div_ceil(2);
    let mut seen = 0;
    for (level, n) in opaque.iter().enumerate() {
        seen += n;
        if seen >= half {
            return level as u8;
        }
    }
    u8::MAX
}

/// A pixel's gray level, with the weights `image` uses for its own gray conversion (Rec. 709).
fn luma([r, g, b, _]: [u8; 4]) -> u8 {
    ((2126 * u32::from(r) + 7152 * u32::from(g) + 722 * u32::from(b) + 5000) / 10_000) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayAlphaImage, ImageBuffer, Rgba, RgbaImage};

    /// A 3x3 sheet, clear but for a black stroke down the middle column, opaque at the top,
    /// half clear in the middle: the colour under the clear pixels is black, as a canvas
    /// leaves it.
    fn canvas(ink: u8) -> DynamicImage {
        let mut sheet = RgbaImage::from_pixel(3, 3, Rgba([0, 0, 0, 0]));
        sheet.put_pixel(1, 0, Rgba([ink, ink, ink, 255]));
        sheet.put_pixel(1, 1, Rgba([ink, ink, ink, 128]));
        DynamicImage::ImageRgba8(sheet)
    }

    #[test]
    fn dark_strokes_on_a_clear_sheet_go_on_white_paper() {
        let flat = flatten_alpha(canvas(0)).to_luma8().into_raw();
        // Clear: 255. Opaque black: 0. Half clear: (0 * 128 + 255 * 127 + 127) / 255 = 127.
        assert_eq!(flat, [255, 0, 255, 255, 127, 255, 255, 255, 255]);
    }

    #[test]
    fn light_strokes_on_a_clear_sheet_go_on_black_paper() {
        let flat = flatten_alpha(canvas(250)).to_luma8().into_raw();
        // Half clear: (250 * 128 + 0 * 127 + 127) / 255 = 125.98..., 125 after the floor.
        assert_eq!(flat, [0, 250, 0, 0, 125, 0, 0, 0, 0]);
    }

    #[test]
    fn a_picture_with_a_few_clear_pixels_fills_them_with_its_own_paper() {
        // Paper at 200 with one stroke pixel at 10, one corner clear (black under it): the
        // corner takes the median of the eight opaque pixels, 200, not 255 or 0.
        let mut photo: GrayAlphaImage = ImageBuffer::from_pixel(3, 3, image::LumaA([200, 255]));
        photo.put_pixel(1, 1, image::LumaA([10, 255]));
        photo.put_pixel(0, 0, image::LumaA([0, 0]));
        let flat = flatten_alpha(DynamicImage::ImageLumaA8(photo));
        assert!(!flat.color().has_color());
        assert_eq!(
            flat.to_luma8().into_raw(),
            [200, 200, 200, 200, 10, 200, 200, 200, 200]
        );
    }

    #[test]
    fn colour_keeps_its_channels_and_opaque_pictures_are_untouched() {
        let mut sheet = RgbaImage::from_pixel(3, 1, Rgba([0, 0, 0, 0]));
        sheet.put_pixel(0, 0, Rgba([0, 0, 200, 255]));
        let flat = flatten_alpha(DynamicImage::ImageRgba8(sheet));
        // A blue stroke is dark (luma 14): white paper.
        assert_eq!(
            flat.to_rgb8().into_raw(),
            [0, 0, 200, 255, 255, 255, 255, 255, 255]
        );

        let opaque = DynamicImage::ImageRgba8(RgbaImage::from_pixel(2, 2, Rgba([9, 8, 7, 255])));
        assert_eq!(flatten_alpha(opaque.clone()), opaque);
        let gray = DynamicImage::ImageLuma8(GrayImage::from_pixel(2, 2, image::Luma([3])));
        assert_eq!(flatten_alpha(gray.clone()), gray);
    }

    #[test]
    fn a_wholly_clear_picture_is_blank_paper() {
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(2, 2, Rgba([0, 0, 0, 0])));
        assert_eq!(flatten_alpha(clear).to_luma8().into_raw(), [255; 4]);
    }
}
