//! `--record-inputs DIR`: the model's input of every labelled frame, as the device framed it,
//! saved as an MNIST-format test set.
//!
//! Why: what the device loses to a shift it loses either in its framing, before the model, or
//! in the model. A user who has the framed inputs can look at them, score any other checkpoint
//! on exactly what the device saw (`plastic eval --data-dir DIR`: the files are named as
//! MNIST's test set), and train or fine-tune offline on them to learn what the same labels
//! could teach a model by other means (`bench/label_ceiling.py`). The IDX format is what every
//! MNIST loader reads, so numpy, PyTorch or our own trainer open it without a converter.
//!
//! Only labelled frames are recorded: an IDX labels file has no "unknown". The image count in
//! each file's header is written when the run ends (stopped or not); a run killed before that
//! leaves files that say they hold no images.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::camera::mnist::{TEST_IMAGES, TEST_LABELS};
use crate::error::Error;

/// The images file's name: MNIST's test images (the name the simulator's own MNIST reader
/// opens), so `plastic eval --data-dir` reads it.
pub const IMAGES_FILE: &str = TEST_IMAGES;
/// The labels file's name: MNIST's test labels.
pub const LABELS_FILE: &str = TEST_LABELS;

/// IDX's type code for unsigned bytes (the third byte of the magic number).
const UNSIGNED_BYTE: u8 = 0x08;

/// The two open files and how many images they hold so far.
#[derive(Debug)]
pub struct InputRecorder {
    dir: PathBuf,
    images: Option<BufWriter<File>>,
    labels: Option<BufWriter<File>>,
    /// Image dimensions after the count: `[height, width]`, or `[channels, height, width]`.
    dims: Vec<u32>,
    image_len: usize,
    recorded: u32,
    unlabelled: u64,
}

impl InputRecorder {
    /// Creates `dir` if needed and both files in it (truncating earlier ones), before the
    /// first frame, so a folder that cannot be written stops the run before it starts.
    /// `channels`, `height` and `width` are the model's input geometry.
    pub fn create(dir: &Path, channels: usize, height: usize, width: usize) -> Result<Self, Error> {
        let write_error = |path: &Path, source| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
        let open = |name: &str| {
            let path = dir.join(name);
            File::create(&path)
                .map(BufWriter::new)
                .map_err(|e| write_error(&path, e))
        };
        let dim = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        let dims = if channels == 1 {
            vec![dim(height), dim(width)]
        } else {
            vec![dim(channels), dim(height), dim(width)]
        };
        let mut recorder = Self {
            dir: dir.to_path_buf(),
            images: Some(open(IMAGES_FILE)?),
            labels: Some(open(LABELS_FILE)?),
            dims,
            image_len: channels * height * width,
            recorded: 0,
            unlabelled: 0,
        };
        recorder
            .write_headers()
            .map_err(|e| write_error(&recorder.dir, e))?;
        Ok(recorder)
    }

    /// Appends one frame's model input (`pixels`, channel-planar bytes of the model's input
    /// geometry) with its label; a frame without a label is counted and left out. A write that
    /// fails (a full disk) is reported once on `log` and recording stops; the device goes on.
    pub fn record(&mut self, pixels: &[u8], label: Option<u8>, log: &mut dyn Write) {
        let Some(label) = label else {
            self.unlabelled += 1;
            return;
        };
        let (Some(images), Some(labels)) = (&mut self.images, &mut self.labels) else {
            return;
        };
        if pixels.len() != self.image_len || self.recorded == u32::MAX {
            return;
        }
        let written = images
            .write_all(pixels)
            .and_then(|()| labels.write_all(&[label]));
        match written {
            Ok(()) => self.recorded += 1,
            Err(e) => self.fail(&e, log),
        }
    }

    /// Writes the image count into both headers and flushes; returns how many frames were
    /// recorded and how many were left out for want of a label.
    pub fn finish(mut self, log: &mut dyn Write) -> (u64, u64) {
        if self.images.is_some()
            && let Err(e) = self.write_headers()
        {
            self.fail(&e, log);
        }
        (u64::from(self.recorded), self.unlabelled)
    }

    /// (Re)writes both files' headers at their start, with the count so far, and flushes, then
    /// goes back to the end to append.
    fn write_headers(&mut self) -> std::io::Result<()> {
        let count = self.recorded;
        let image_dims: Vec<u32> = std::iter::once(count)
            .chain(self.dims.iter().copied())
            .collect();
        if let Some(images) = &mut self.images {
            write_header(images, &image_dims)?;
        }
        if let Some(labels) = &mut self.labels {
            write_header(labels, &[count])?;
        }
        Ok(())
    }

    fn fail(&mut self, e: &std::io::Error, log: &mut dyn Write) {
        let _ = writeln!(
            log,
            "warning: could not write the recorded inputs in `{}`: {e}; the device goes on \
             without recording",
            self.dir.display()
        );
        self.images = None;
        self.labels = None;
    }
}

/// Writes an IDX header (magic `0 0 8 n`, then the `n` dimensions, big-endian) at the start of
/// `out` and flushes, leaving the cursor at the end of the file.
fn write_header(out: &mut BufWriter<File>, dims: &[u32]) -> std::io::Result<()> {
    out.flush()?;
    let file = out.get_mut();
    file.seek(SeekFrom::Start(0))?;
    let rank = u8::try_from(dims.len()).unwrap_or(u8::MAX);
    file.write_all(&[0, 0, UNSIGNED_BYTE, rank])?;
    for d in dims {
        file.write_all(&d.to_be_bytes())?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plastic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn labelled_frames_make_an_idx_pair_with_the_count_in_the_headers() {
        let dir = temp_dir("record-inputs");
        let mut rec = InputRecorder::create(&dir, 1, 2, 3).unwrap();
        let mut log = Vec::new();
        rec.record(&[1, 2, 3, 4, 5, 6], Some(7), &mut log);
        rec.record(&[9; 6], None, &mut log);
        rec.record(&[10, 20, 30, 40, 50, 60], Some(0), &mut log);
        assert_eq!(rec.finish(&mut log), (2, 1));
        assert!(log.is_empty());
        let images = std::fs::read(dir.join(IMAGES_FILE)).unwrap();
        let mut expected = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
        expected.extend([1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60]);
        assert_eq!(images, expected);
        let labels = std::fs::read(dir.join(LABELS_FILE)).unwrap();
        assert_eq!(labels, [0, 0, 8, 1, 0, 0, 0, 2, 7, 0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn colour_inputs_get_a_channel_dimension_and_a_folder_that_cannot_be_made_is_an_error() {
        let dir = temp_dir("record-colour");
        let rec = InputRecorder::create(&dir, 3, 2, 2).unwrap();
        assert_eq!(rec.finish(&mut Vec::new()), (0, 0));
        let images = std::fs::read(dir.join(IMAGES_FILE)).unwrap();
        assert_eq!(
            images,
            [0, 0, 8, 4, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2]
        );
        // A file where the folder should be.
        let blocked = dir.join(IMAGES_FILE).join("sub");
        assert!(matches!(
            InputRecorder::create(&blocked, 1, 28, 28),
            Err(Error::Write { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
