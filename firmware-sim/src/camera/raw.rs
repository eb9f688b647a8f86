//! `stdin:WxH:gray8|rgb24`: raw frames of a fixed size, back to back, on a byte stream.
//!
//! Why raw: it is what a capture pipeline hands over (`ffmpeg ... -f rawvideo -`, a V4L2 tool,
//! another process), with no container to parse, so any video source can feed the device. A
//! frame is exactly `W * H * bytes per pixel` bytes, read into one reused buffer. The end of the
//! stream at a frame boundary ends the run normally; an end inside a frame (a producer killed
//! mid-write) drops that partial frame with an error the device logs, and the run still ends
//! with its summary.

use std::io::{ErrorKind, Read};

use plastic_runtime::preprocess::PixelFormat;

use super::{Camera, CameraError, Frame};

/// Frames read from a byte stream.
#[derive(Debug)]
pub struct RawCamera<R> {
    reader: R,
    width: usize,
    height: usize,
    format: PixelFormat,
    /// Frames read whole so far.
    frames: u64,
    /// Set once the stream has ended (or failed): every later capture is `None`.
    ended: bool,
    spare: Option<Vec<u8>>,
}

impl<R: Read> RawCamera<R> {
    /// Frames of `width x height` in `format` from `reader`.
    pub fn new(reader: R, width: usize, height: usize, format: PixelFormat) -> Self {
        Self {
            reader,
            width,
            height,
            format,
            frames: 0,
            ended: false,
            spare: None,
        }
    }

    /// Bytes of one frame.
    pub fn frame_bytes(&self) -> usize {
        self.width * self.height * self.format.bytes_per_pixel()
    }

    /// Reads until `buf` is full or the stream ends; returns the bytes read.
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match self.reader.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }
}

impl<R: Read> Camera for RawCamera<R> {
    fn frame_bytes(&self) -> Option<usize> {
        Some(RawCamera::frame_bytes(self))
    }

    fn next_frame(&mut self) -> Option<Result<Frame, CameraError>> {
        if self.ended {
            return None;
        }
        let expected = self.frame_bytes();
        let mut data = self.spare.take().unwrap_or_default();
        data.resize(expected, 0);
        let got = match self.fill(&mut data) {
            Ok(got) => got,
            Err(source) => {
                self.ended = true;
                return Some(Err(CameraError::Stream {
                    what: "standard input",
                    source,
                }));
            }
        };
        if got < expected {
            self.ended = true;
            self.spare = Some(data);
            if got == 0 {
                return None;
            }
            return Some(Err(CameraError::ShortFrame {
                frame: self.frames,
                got,
                expected,
            }));
        }
        self.frames += 1;
        Some(Ok(Frame {
            width: self.width,
            height: self.height,
            format: self.format,
            data,
            label: None,
        }))
    }

    fn recycle(&mut self, frame: Frame) {
        self.spare = Some(frame.data);
    }

    fn is_live(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 7 bytes per call, as a pipe does in small pieces.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn whole_frames_then_a_clean_end() {
        let bytes: Vec<u8> = (0..24).collect();
        let mut cam = RawCamera::new(Trickle(&bytes), 4, 2, PixelFormat::Rgb24);
        let first = cam.next_frame().unwrap().unwrap();
        assert_eq!((first.width, first.height, first.label), (4, 2, None));
        assert_eq!(first.data, bytes);
        let ptr = first.data.as_ptr();
        cam.recycle(first);
        assert!(cam.next_frame().is_none());
        assert!(cam.next_frame().is_none());
        assert_eq!(cam.spare.as_ref().unwrap().as_ptr(), ptr, "buffer reused");
    }

    #[test]
    fn a_short_last_frame_is_an_error_then_the_end() {
        let bytes = [9u8; 6 + 4];
        let mut cam = RawCamera::new(&bytes[..], 3, 2, PixelFormat::Gray8);
        assert_eq!(cam.next_frame().unwrap().unwrap().data, [9; 6]);
        let err = cam.next_frame().unwrap().unwrap_err().to_string();
        assert_eq!(err, "stream ended inside frame 1: got 4 of 6 bytes");
        assert!(cam.next_frame().is_none());
    }
}
