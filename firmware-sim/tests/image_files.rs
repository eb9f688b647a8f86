//! Image files as people have them, played through `dir:`: digits drawn on a transparent
//! sheet (an app's or an HTML canvas's export) and photos a phone stored turned, with the way
//! it was held in the EXIF orientation tag. The device must read them as a viewer shows them.

mod common;

use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, GrayImage, ImageEncoder, Rgba, RgbaImage};

/// The shipped samples played through the built-in device: accuracy and frames judged to hold
/// no digit.
fn device_on(dir: &Path) -> (f64, u64) {
    let run = common::run_json(&[
        "--model",
        common::BUILT_IN,
        "--camera",
        &format!("dir:{}", dir.display()),
        "--json",
    ]);
    let accuracy = run["accuracy"].as_f64().unwrap();
    (accuracy, run["frames_without_digit"].as_u64().unwrap())
}

/// Writes each shipped sample (white ink on black, 28x28) through `write` into `dir`, under
/// its own name (which holds its label) and `extension`.
fn write_samples(dir: &Path, extension: &str, mut write: impl FnMut(&GrayImage, &Path)) {
    std::fs::create_dir_all(dir).unwrap();
    let mut paths: Vec<_> = std::fs::read_dir(common::samples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 100, "the shipped samples are needed");
    for path in paths {
        let sample = image::open(&path).unwrap().to_luma8();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        write(&sample, &dir.join(format!("{stem}.{extension}")));
    }
}

/// A sample as strokes of `ink` on a clear sheet whose hidden colour is `under`: the sample's
/// level (white ink on black) is each pixel's opacity, as a drawing app saves a stroke.
fn canvas(sample: &GrayImage, ink: u8, under: u8) -> RgbaImage {
    let mut sheet = RgbaImage::new(sample.width(), sample.height());
    for (pixel, &level) in sheet.pixels_mut().zip(sample.as_raw()) {
        let colour = if level == 0 { under } else { ink };
        *pixel = Rgba([colour, colour, colour, level]);
    }
    sheet
}

#[test]
fn digits_drawn_on_a_transparent_sheet_read_as_the_shipped_samples() {
    let dir = common::temp_dir("image-files-canvas");
    let (shipped, none_shipped) = device_on(&common::samples_dir());
    // A canvas's export: black strokes over the black it leaves under clear pixels; a light
    // pen's export: white strokes over white.
    for (name, ink, under) in [("black-strokes", 0, 0), ("white-strokes", 255, 255)] {
        let drawn = dir.join(name);
        write_samples(&drawn, "png", |s, path| {
            canvas(s, ink, under).save(path).unwrap()
        });
        let (accuracy, without_digit) = device_on(&drawn);
        println!("{name}: {accuracy} against {shipped} for the shipped samples");
        assert!(
            accuracy >= shipped - 0.01,
            "{name}: {accuracy} against {shipped}"
        );
        assert_eq!(without_digit, none_shipped, "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A minimal EXIF block (little-endian TIFF): one entry, the orientation tag 0x0112, a SHORT.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut exif = b"II*\0".to_vec();
    exif.extend(8u32.to_le_bytes()); // the first directory, right after this header
    exif.extend(1u16.to_le_bytes()); // one entry
    exif.extend(0x0112u16.to_le_bytes());
    exif.extend(3u16.to_le_bytes()); // SHORT
    exif.extend(1u32.to_le_bytes()); // one value
    exif.extend(value.to_le_bytes());
    exif.extend([0, 0]); // the value's field is four bytes
    exif.extend(0u32.to_le_bytes()); // no next directory
    exif
}

fn save_jpeg(picture: &GrayImage, exif: Option<Vec<u8>>, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = JpegEncoder::new_with_quality(file, 95);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif).unwrap();
    }
    encoder
        .write_image(
            picture.as_raw(),
            picture.width(),
            picture.height(),
            image::ExtendedColorType::L8,
        )
        .unwrap();
}

#[test]
fn photos_stored_turned_read_as_their_orientation_tag_says() {
    let dir = common::temp_dir("image-files-exif");
    let (upright, turned, tagged) = (dir.join("upright"), dir.join("turned"), dir.join("tagged"));
    write_samples(&upright, "jpg", |s, path| save_jpeg(s, None, path));
    // Stored a quarter turn anticlockwise; tag 6 says "turn it a quarter clockwise to show".
    let stored = |s: &GrayImage| DynamicImage::ImageLuma8(s.clone()).rotate270().to_luma8();
    write_samples(&turned, "jpg", |s, path| save_jpeg(&stored(s), None, path));
    write_samples(&tagged, "jpg", |s, path| {
        save_jpeg(&stored(s), Some(exif_orientation(6)), path)
    });
    let (upright, _) = device_on(&upright);
    let (turned, _) = device_on(&turned);
    let (tagged, _) = device_on(&tagged);
    println!("upright {upright}, stored turned {turned}, with the tag {tagged}");
    assert!(tagged >= upright - 0.005, "{tagged} against {upright}");
    // What the tag is worth: without it the same files are read sideways until the device's
    // orientation finder turns.
    assert!(turned < upright - 0.2, "{turned} against {upright}");
    std::fs::remove_dir_all(&dir).unwrap();
}
