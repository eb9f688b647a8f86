//! A digit among other things in the frame: the desk beyond the sheet's edge, a thumb holding
//! the sheet, the digit's neighbours in a number cut by the frame's edges, a form's printed
//! box around it, a shadow's edge across the sheet, a card held up in a darker room. The
//! device must read the digit as it reads it alone on the paper. Before, the framing took
//! those things for the digit's ink (docs/RESULTS.md, "Framing a digit among other things" and
//! "Framing under light that is no plane").
//!
//! Skipped without the MNIST test set in the shared data folder (set PLASTIC_DATA).

mod common;

use common::{frozen_accuracy, mnist_digits, next_gray, write_stream};
use plastic_sim::camera::SyntheticDigits;

/// A gray camera frame and where its digit is.
struct Shot {
    pixels: Vec<u8>,
    width: usize,
    height: usize,
    /// The paper's level: the frame's median.
    paper: u8,
    /// The digit's box, inclusive `(x0, y0, x1, y1)`: the pixels 60 levels below the paper.
    digit: (usize, usize, usize, usize),
}

impl Shot {
    fn new(pixels: Vec<u8>, width: usize, height: usize) -> Self {
        let mut sorted = pixels.clone();
        sorted.sort_unstable();
        let paper = sorted[sorted.len() / 2];
        let mut digit = (width, height, 0, 0);
        for (i, &v) in pixels.iter().enumerate() {
            if i32::from(v) < i32::from(paper) - 60 {
                let (x, y) = (i % width, i / width);
                digit = (
                    digit.0.min(x),
                    digit.1.min(y),
                    digit.2.max(x),
                    digit.3.max(y),
                );
            }
        }
        Self {
            pixels,
            width,
            height,
            paper,
            digit,
        }
    }

    /// Room between the digit and each edge: top, left, bottom, right.
    fn rooms(&self) -> [usize; 4] {
        let (x0, y0, x1, y1) = self.digit;
        [y0, x0, self.height - 1 - y1, self.width - 1 - x1]
    }

    /// How far `(x, y)` is in from `side` (top, left, bottom, right).
    fn inward(&self, side: usize, x: usize, y: usize) -> usize {
        [y, x, self.height - 1 - y, self.width - 1 - x][side]
    }

    /// The side with most room, and that room.
    fn widest_side(&self) -> (usize, usize) {
        let rooms = self.rooms();
        (0..4)
            .map(|s| (s, rooms[s]))
            .max_by_key(|&(_, r)| r)
            .unwrap()
    }

    fn set(&mut self, x: usize, y: usize, v: u8) {
        self.pixels[y * self.width + x] = v;
    }
}

/// A dark desk (level 50) beyond the sheet's edge, along the side with most room, up to 3
/// pixels short of the digit and at most a third of the frame.
fn desk(mut shot: Shot) -> Shot {
    let (side, room) = shot.widest_side();
    let depth = room.saturating_sub(3).min(shot.width.min(shot.height) / 3);
    for y in 0..shot.height {
        for x in 0..shot.width {
            if shot.inward(side, x, y) < depth {
                shot.set(x, y, 50 + ((x * 7 + y * 13) % 9) as u8);
            }
        }
    }
    shot
}

/// A thumb (an ellipse at 55 % of the paper's light, 30 pixels across) in from the middle of
/// the side with most room, its tip 2 pixels short of the digit.
fn thumb(mut shot: Shot) -> Shot {
    let (side, room) = shot.widest_side();
    let reach = room.saturating_sub(2).min(24) as f32;
    let (along_x, along_y) = (shot.width as f32 / 2.0, shot.height as f32 / 2.0);
    let level = (f32::from(shot.paper) * 0.55) as u8;
    for y in 0..shot.height {
        for x in 0..shot.width {
            let depth = shot.inward(side, x, y) as f32;
            let across = if side % 2 == 0 {
                x as f32 - along_x
            } else {
                y as f32 - along_y
            };
            // Centre 24 pixels outside the tip, semi-axes 24 inward and 15 across.
            let inward = (depth - (reach - 24.0)) / 24.0;
            if inward * inward + (across / 15.0) * (across / 15.0) < 1.0 {
                shot.set(x, y, level);
            }
        }
    }
    shot
}

/// A form's printed box (two pixels wide, level 80) 8 pixels around the digit's box: clear of
/// its ink by 4 pixels or more, where the camera's blur has spread it. A box closer than
/// [`plastic_runtime::ink_region::JOIN_REACH`] to the ink is one part with the digit, and is
/// framed with it.
fn boxed(mut shot: Shot) -> Shot {
    let (x0, y0, x1, y1) = shot.digit;
    let (bx0, by0) = (x0.saturating_sub(8), y0.saturating_sub(8));
    let (bx1, by1) = ((x1 + 8).min(shot.width - 1), (y1 + 8).min(shot.height - 1));
    for y in by0..=by1 {
        for x in bx0..=bx1 {
            let on = x <= bx0 + 1 || x + 1 >= bx1 || y <= by0 + 1 || y + 1 >= by1;
            if on {
                shot.set(x, y, 80);
            }
        }
    }
    shot
}

/// The digit one of a number, the camera close to it: `other`'s digit (another frame's ink)
/// drawn either side of it, at least 12 pixels apart and a third of it or more cut by the
/// frame's edge.
fn neighbours(mut shot: Shot, other: &Shot) -> Shot {
    let (x0, y0, x1, _) = shot.digit;
    let (ox0, oy0, ox1, oy1) = other.digit;
    let width = (ox1 - ox0 + 1) as i64;
    let left = (x0 as i64 - 12 - width).min(-width / 3);
    let right = (x1 as i64 + 13).max(shot.width as i64 - 2 * width / 3);
    for start in [left, right] {
        for oy in oy0..=oy1 {
            for ox in ox0..=ox1 {
                let (x, y) = (start + (ox - ox0) as i64, (y0 + oy - oy0) as i64);
                if x < 0 || y < 0 || x >= shot.width as i64 || y >= shot.height as i64 {
                    continue;
                }
                // The other frame's ink, its darkness below its own paper, on this paper.
                let ink = other
                    .paper
                    .saturating_sub(other.pixels[oy * other.width + ox]);
                let (x, y) = (x as usize, y as usize);
                let here = shot.pixels[y * shot.width + x];
                shot.set(x, y, here.saturating_sub(ink));
            }
        }
    }
    shot
}

/// A shadow's edge across the sheet and the digit (a hand or a phone over it): the light falls
/// to 60 % beyond a line through the digit's box, turned `n` golden angles, over 2 pixels.
fn shadow_edge(mut shot: Shot, n: usize) -> Shot {
    let (x0, y0, x1, y1) = shot.digit;
    let angle = n as f32 * 2.399_963;
    let (c, s) = (angle.cos(), angle.sin());
    // Through a point a quarter of the way into the box from its centre, along the normal.
    let (cx, cy) = ((x0 + x1) as f32 / 2.0, (y0 + y1) as f32 / 2.0);
    let reach = (x1 - x0).max(y1 - y0) as f32 / 4.0;
    let offset = if n.is_multiple_of(2) { reach } else { -reach };
    for y in 0..shot.height {
        for x in 0..shot.width {
            let along = c * (x as f32 - cx) + s * (y as f32 - cy) - offset;
            let shade = 1.0 - 0.4 * (along / 2.0 + 0.5).clamp(0.0, 1.0);
            let v = shot.pixels[y * shot.width + x];
            shot.set(x, y, (f32::from(v) * shade) as u8);
        }
    }
    shot
}

/// The digit on a card held up in a darker room: beyond 24 pixels around the digit's box the
/// light is 45 % of the paper's, so the card is under half the frame (and, mostly, over a
/// quarter of it: a smaller one is read as light ink, the limit written in
/// `plastic_runtime::paper_surface`).
fn card(mut shot: Shot) -> Shot {
    let (x0, y0, x1, y1) = shot.digit;
    let on_card = |x: usize, y: usize| x + 24 >= x0 && x <= x1 + 24 && y + 24 >= y0 && y <= y1 + 24;
    for y in 0..shot.height {
        for x in 0..shot.width {
            if !on_card(x, y) {
                let v = shot.pixels[y * shot.width + x];
                shot.set(x, y, (f32::from(v) * 0.45) as u8);
            }
        }
    }
    shot
}

/// Measured (the built-in device, 400 frames of the simulated camera): alone on the paper
/// 98.0 %; with a desk, a thumb, a printed box and neighbours 97.8, 98.0, 97.5 and 97.5 %;
/// before, 14.8, 60.3, 47.5 and 19.0 %. A shadow's edge across the digit and a card held up
/// in a darker room: 90.5 and 89.3 %; before the paper's surface, 60.3 and 15.8 %.
#[test]
fn a_digit_among_other_things_in_the_frame_reads_as_it_does_alone() {
    let Some(digits) = mnist_digits(2000) else {
        return;
    };
    let dir = common::temp_dir("scene-clutter");
    let mut camera = SyntheticDigits::from_digits(digits, 5).unwrap();
    let shots: Vec<(Shot, u8)> = (0..400)
        .map(|_| {
            let (gray, w, h, label) = next_gray(&mut camera);
            (Shot::new(gray, w, h), label)
        })
        .collect();
    let write = |name: &str, make: &dyn Fn(usize) -> Shot| {
        let stream = dir.join(name);
        write_stream(
            &stream,
            (0..shots.len()).map(|n| {
                let shot = make(n);
                (
                    shot.pixels,
                    shot.width as u32,
                    shot.height as u32,
                    shots[n].1,
                )
            }),
        );
        frozen_accuracy(&stream)
    };
    let copy = |n: usize| {
        let s = &shots[n].0;
        Shot::new(s.pixels.clone(), s.width, s.height)
    };
    let read = [
        ("alone", write("alone", &|n| copy(n))),
        ("desk", write("desk", &|n| desk(copy(n)))),
        ("thumb", write("thumb", &|n| thumb(copy(n)))),
        ("boxed", write("boxed", &|n| boxed(copy(n)))),
        (
            "neighbours",
            write("neighbours", &|n| {
                neighbours(copy(n), &shots[(n + 1) % shots.len()].0)
            }),
        ),
        (
            "shadow edge",
            write("shadow-edge", &|n| shadow_edge(copy(n), n)),
        ),
        ("card", write("card", &|n| card(copy(n)))),
    ];
    eprintln!("{read:?}");
    let alone = read[0].1;
    assert!(alone > 0.95, "{read:?}");
    for &(name, accuracy) in &read[1..5] {
        assert!(accuracy > alone - 0.03, "{name}: {read:?}");
    }
    // The light falling across the sheet, or the sheet under half the frame: the paper's
    // surface (plastic_runtime::paper_surface), within 10 points (before it, 38 and 82 below).
    for &(name, accuracy) in &read[5..] {
        assert!(accuracy > alone - 0.10, "{name}: {read:?}");
    }
    if std::env::var_os("PLASTIC_KEEP_STREAMS").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
