//! Digits that come already in a 28x28 black field but not as MNIST placed them, and frames
//! with impulse noise (dead and hot pixels, "salt and pepper"): the device must read them as
//! it reads MNIST's own test digits. Before, a digit moved a few pixels off the centre or drawn
//! small in its field was used as it came (the black ring made it count as framed: 51 % and
//! 68 % read), so was a blurred one (73 %), and impulse noise passed into the framed digit
//! (88 % read at 28x28, 22 % on the simulated camera). docs/RESULTS.md, "Impulse noise and digits off-centre in a 28x28 field".
//!
//! Skipped without the MNIST test set in the shared data folder (set PLASTIC_DATA).

mod common;

use common::{Lcg, frozen_accuracy, mnist_digits, write_stream};
use plastic_sim::camera::{Camera, Digit, SyntheticDigits};

/// The digit moved by 3 to 5 pixels along each axis (either way), black coming in.
fn moved(d: &Digit, rng: &mut Lcg) -> Vec<u8> {
    let step = |r: u64| (3 + (r % 3) as i32) * if r.is_multiple_of(2) { 1 } else { -1 };
    let (dx, dy) = (step(rng.next()), step(rng.next()));
    let mut out = vec![0u8; 784];
    for y in 0..28i32 {
        for x in 0..28i32 {
            let (sx, sy) = (x - dx, y - dy);
            if (0..28).contains(&sx) && (0..28).contains(&sy) {
                out[(y * 28 + x) as usize] = d.pixels[(sy * 28 + sx) as usize];
            }
        }
    }
    out
}

/// The digit shrunk to 16x16 (from its 28x28 field) in the middle of a black field.
fn small(d: &Digit) -> Vec<u8> {
    let field = image::GrayImage::from_raw(28, 28, d.pixels.clone()).unwrap();
    let shrunk = image::imageops::resize(&field, 16, 16, image::imageops::FilterType::Triangle);
    let mut out = image::GrayImage::new(28, 28);
    image::imageops::overlay(&mut out, &shrunk, 6, 6);
    out.into_raw()
}

/// The field blurred by 7 pixels of horizontal motion (a box filter along each row, black
/// beyond the field).
fn motion_blurred(pixels: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 784];
    for y in 0..28 {
        for x in 0..28i32 {
            let sum: u32 = (x - 3..=x + 3)
                .filter(|sx| (0..28).contains(sx))
                .map(|sx| u32::from(pixels[y * 28 + sx as usize]))
                .sum();
            out[y * 28 + x as usize] = ((sum + 3) / 7) as u8;
        }
    }
    out
}

/// `share` of the pixels set to 0 or 255 at random.
fn salt_and_pepper(pixels: &[u8], share: f64, rng: &mut Lcg) -> Vec<u8> {
    pixels
        .iter()
        .map(|&v| {
            let r = (rng.next() % 1_000_000) as f64 / 1e6;
            if r < share / 2.0 {
                0
            } else if r < share {
                255
            } else {
                v
            }
        })
        .collect()
}

/// Measured (the built-in device, 600 digits): as they are 99.0 %, moved 97.2 %, small 96.7 %,
/// under 7 pixels of motion blur 81.5 %, with 5 % impulse noise 99.0 %; before, 50.8 %,
/// 67.8 %, 72.5 % and 88.3 %.
#[test]
fn digits_moved_small_or_blurred_in_their_field_and_noisy_fields_read_as_mnist_does() {
    let Some(digits) = mnist_digits(600) else {
        return;
    };
    let dir = common::temp_dir("framed-fields");
    let mut rng = Lcg(7);
    let streams: [(&str, Vec<Vec<u8>>); 5] = [
        ("as-is", digits.iter().map(|d| d.pixels.clone()).collect()),
        ("moved", digits.iter().map(|d| moved(d, &mut rng)).collect()),
        ("small", digits.iter().map(small).collect()),
        (
            "blurred",
            digits.iter().map(|d| motion_blurred(&d.pixels)).collect(),
        ),
        (
            "impulses",
            digits
                .iter()
                .map(|d| salt_and_pepper(&d.pixels, 0.05, &mut rng))
                .collect(),
        ),
    ];
    let mut read = Vec::new();
    for (name, fields) in streams {
        let stream = dir.join(name);
        write_stream(
            &stream,
            fields
                .into_iter()
                .zip(&digits)
                .map(|(f, d)| (f, 28, 28, d.label)),
        );
        read.push((name, frozen_accuracy(&stream)));
    }
    eprintln!("{read:?}");
    let clean = read[0].1;
    assert!(clean > 0.97, "{read:?}");
    for &(name, accuracy) in &read[1..] {
        let slack = match name {
            "impulses" => 0.06,
            "blurred" => 0.2,
            _ => 0.03,
        };
        assert!(accuracy > clean - slack, "{name}: {read:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Measured (the built-in device, 400 frames of the simulated camera, digits on paper): clean
/// 97.8 %, with 3 % of the pixels at 0 or 255 96.5 % (before: 22.0 %).
#[test]
fn impulse_noise_on_a_camera_frame_is_taken_off_before_the_digit_is_framed() {
    let Some(digits) = mnist_digits(2000) else {
        return;
    };
    let dir = common::temp_dir("impulse-camera");
    let mut camera = SyntheticDigits::from_digits(digits, 3).unwrap();
    let mut rng = Lcg(11);
    let frames: Vec<_> = (0..400)
        .map(|_| camera.next_frame().unwrap().unwrap())
        .map(|f| (f.data, f.width as u32, f.height as u32, f.label.unwrap()))
        .collect();
    let clean = dir.join("clean");
    let noisy = dir.join("noisy");
    write_stream(&clean, frames.iter().cloned());
    write_stream(
        &noisy,
        frames
            .iter()
            .map(|(p, w, h, l)| (salt_and_pepper(p, 0.03, &mut rng), *w, *h, *l)),
    );
    let (clean, noisy) = (frozen_accuracy(&clean), frozen_accuracy(&noisy));
    eprintln!("clean {clean:.3}, impulse noise {noisy:.3}");
    assert!(noisy > clean - 0.05, "clean {clean:.3}, noisy {noisy:.3}");
    std::fs::remove_dir_all(&dir).unwrap();
}
