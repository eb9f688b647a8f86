//! Saving the screen: PNG snapshots and an animated GIF of them.
//!
//! Why both: a PNG per snapshot is what a test or a report looks at; the GIF is what a person
//! watches to see the device run. The GIF is streamed into the encoder frame by frame (into
//! `display.gif.part`), never held in memory, so a long run costs one frame of memory, and it is
//! renamed to `display.gif` only when complete, so a crashed run never leaves a truncated GIF
//! under the final name.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, RgbImage, RgbaImage};

use super::{Framebuffer, HEIGHT, WIDTH, rgb888, write_rgb};
use crate::error::Error;

/// Time each GIF frame is shown.
const GIF_DELAY_MS: u32 = 100;
/// NeuQuant speed for frames with more than 256 colours (1 best .. 30 fastest). Gray camera
/// views stay under 256 colours and are stored exactly whatever this is.
const GIF_SPEED: i32 = 10;

/// Writes snapshots of the framebuffer into a folder.
pub struct Recorder {
    dir: PathBuf,
    every: u64,
    png: RgbImage,
    gif: Option<GifEncoder<SharedFile>>,
    gif_file: SharedFile,
    snapshots: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.dir)
            .field("every", &self.every)
            .field("snapshots", &self.snapshots)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates `dir` if needed and starts the GIF; a snapshot is taken every `every` frames
    /// (at least 1), starting with frame 0.
    pub fn new(dir: &Path, every: u64) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let part = part_path(dir);
        let file = File::create(&part).map_err(|source| Error::Write { path: part, source })?;
        let gif_file = SharedFile(Rc::new(RefCell::new(BufWriter::new(file))));
        let mut gif = GifEncoder::new_with_speed(gif_file.clone(), GIF_SPEED);
        gif.set_repeat(Repeat::Infinite)
            .map_err(|source| Error::Encode {
                path: gif_path(dir),
                source,
            })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            every: every.max(1),
            png: RgbImage::new(WIDTH, HEIGHT),
            gif: Some(gif),
            gif_file,
            snapshots: 0,
        })
    }

    /// The PNG written for frame `index` (whether or not it was taken).
    pub fn snapshot_path(&self, index: u64) -> PathBuf {
        self.dir.join(format!("frame_{index:05}.png"))
    }

    /// Snapshots written so far.
    pub fn snapshots(&self) -> u64 {
        self.snapshots
    }

    /// True when frame `index` is one to save.
    pub fn wants(&self, index: u64) -> bool {
        index.is_multiple_of(self.every)
    }

    /// Saves frame `index` of the screen if it is one to save (PNG now, GIF frame appended).
    pub fn record(&mut self, index: u64, fb: &Framebuffer) -> Result<bool, Error> {
        if !self.wants(index) {
            return Ok(false);
        }
        let path = self.snapshot_path(index);
        write_rgb(fb, &mut self.png);
        self.png
            .save(&path)
            .map_err(|source| Error::Encode { path, source })?;
        if let Some(gif) = &mut self.gif {
            let mut rgba = RgbaImage::new(WIDTH, HEIGHT);
            for (dst, &src) in rgba.as_mut().chunks_exact_mut(4).zip(fb.pixels()) {
                let [r, g, b] = rgb888(src);
                dst.copy_from_slice(&[r, g, b, 255]);
            }
            let delay = Delay::from_numer_denom_ms(GIF_DELAY_MS, 1);
            let frame = image::Frame::from_parts(rgba, 0, 0, delay);
            gif.encode_frame(frame).map_err(|source| Error::Encode {
                path: part_path(&self.dir),
                source,
            })?;
        }
        self.snapshots += 1;
        Ok(true)
    }

    /// Finishes the GIF (trailer, flush, fsync) and moves it to `DIR/display.gif`. Returns its
    /// path, or `None` when no snapshot was taken (an empty GIF is not a valid image).
    pub fn finish(mut self) -> Result<Option<PathBuf>, Error> {
        let part = part_path(&self.dir);
        let write_err = |source| Error::Write {
            path: part.clone(),
            source,
        };
        // Dropping the encoder writes the GIF trailer into the shared writer.
        drop(self.gif.take());
        {
            let mut writer = self.gif_file.0.borrow_mut();
            writer.flush().map_err(write_err)?;
            writer.get_ref().sync_all().map_err(write_err)?;
        }
        if self.snapshots == 0 {
            std::fs::remove_file(&part).map_err(write_err)?;
            return Ok(None);
        }
        let done = gif_path(&self.dir);
        std::fs::rename(&part, &done).map_err(write_err)?;
        Ok(Some(done))
    }
}

fn gif_path(dir: &Path) -> PathBuf {
    dir.join("display.gif")
}

fn part_path(dir: &Path) -> PathBuf {
    dir.join("display.gif.part")
}

/// The GIF file, shared between the encoder (which owns its writer and has no way to give it
/// back) and the recorder, which must flush and fsync it once the encoder is done.
#[derive(Clone)]
struct SharedFile(Rc<RefCell<BufWriter<File>>>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::{Rgb565, RgbColor};
    use embedded_graphics::prelude::*;
    use image::AnimationDecoder;

    #[test]
    fn snapshots_every_nth_frame_into_png_and_an_endless_gif() {
        let dir = std::env::temp_dir().join(format!("plastic-sim-rec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut rec = Recorder::new(&dir, 2).unwrap();
        let mut fb = Framebuffer::new();
        for i in 0..5u64 {
            fb.clear(if i % 4 == 0 {
                Rgb565::WHITE
            } else {
                Rgb565::BLUE
            })
            .unwrap();
            assert_eq!(rec.record(i, &fb).unwrap(), i % 2 == 0);
        }
        assert_eq!(rec.snapshots(), 3);
        let gif = rec.finish().unwrap().unwrap();
        assert!(!part_path(&dir).exists());
        let png = image::open(dir.join("frame_00004.png"))
            .unwrap()
            .into_rgb8();
        assert_eq!(png.dimensions(), (320, 240));
        assert_eq!(png.get_pixel(5, 5).0, [255, 255, 255]);
        assert!(!dir.join("frame_00001.png").exists());
        let decoder =
            image::codecs::gif::GifDecoder::new(std::io::BufReader::new(File::open(&gif).unwrap()))
                .unwrap();
        let frames = decoder.into_frames().collect_frames().unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].delay().numer_denom_ms(), (100, 1));
        assert_eq!(frames[1].buffer().get_pixel(0, 0).0, [0, 0, 255, 255]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
