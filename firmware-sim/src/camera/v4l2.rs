//! `v4l2:/dev/videoN`: a real camera through Video4Linux2 (feature `v4l2`, Linux only).
//!
//! Why hand-written: the device needs five ioctls and memory-mapped streaming, and the V4L2
//! crates generate their bindings with bindgen at build time (libclang on every build machine,
//! cross-builds for the Jetson included). The ABI below is the kernel's `videodev2.h` for
//! 64-bit targets; a test checks each struct's size against the size encoded in the kernel's
//! published ioctl numbers.
//!
//! The camera is asked for 320x240 YUYV (what every UVC webcam and the Jetson's CSI bridge
//! offer); the driver may pick another size, which is used as given. A camera that offers no
//! YUYV or GREY is asked for Motion-JPEG (many USB cameras deliver only MJPEG, or only MJPEG at
//! full rate), and each frame is decoded. Only the luma plane is kept: the model sees gray
//! frames. Four buffers are mapped and queued; each capture dequeues one, copies its luma into
//! the reused frame buffer (a JPEG frame is decoded, which allocates) and queues it again.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use plastic_runtime::preprocess::PixelFormat;

use super::{Camera, CameraError, Frame};

/// The kernel's `videodev2.h` structs and ioctl numbers that the capture uses.
mod abi {
    /// `_IOC(dir, 'V', nr, size)` as the generic Linux ioctl encoding (x86_64 and aarch64).
    const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
        (dir << 30) | ((size as u32) << 16) | ((b'V' as u32) << 8) | nr
    }
    const READ: u32 = 2;
    const WRITE: u32 = 1;

    pub const VIDIOC_QUERYCAP: u32 = ioc(READ, 0, size_of::<Capability>());
    pub const VIDIOC_S_FMT: u32 = ioc(READ | WRITE, 5, size_of::<Format>());
    pub const VIDIOC_REQBUFS: u32 = ioc(READ | WRITE, 8, size_of::<RequestBuffers>());
    pub const VIDIOC_QUERYBUF: u32 = ioc(READ | WRITE, 9, size_of::<Buffer>());
    pub const VIDIOC_QBUF: u32 = ioc(READ | WRITE, 15, size_of::<Buffer>());
    pub const VIDIOC_DQBUF: u32 = ioc(READ | WRITE, 17, size_of::<Buffer>());
    pub const VIDIOC_STREAMON: u32 = ioc(WRITE, 18, size_of::<i32>());
    pub const VIDIOC_STREAMOFF: u32 = ioc(WRITE, 19, size_of::<i32>());

    pub const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
    pub const MEMORY_MMAP: u32 = 1;
    pub const CAP_VIDEO_CAPTURE: u32 = 0x1;
    pub const CAP_STREAMING: u32 = 0x0400_0000;
    pub const FIELD_NONE: u32 = 1;

    /// A FOURCC pixel-format code.
    pub const fn fourcc(code: &[u8; 4]) -> u32 {
        u32::from_le_bytes(*code)
    }
    pub const PIX_FMT_YUYV: u32 = fourcc(b"YUYV");
    pub const PIX_FMT_GREY: u32 = fourcc(b"GREY");
    pub const PIX_FMT_MJPEG: u32 = fourcc(b"MJPG");
    pub const PIX_FMT_JPEG: u32 = fourcc(b"JPEG");

    /// `struct v4l2_capability`.
    #[repr(C)]
    #[derive(Default)]
    pub struct Capability {
        pub driver: [u8; 16],
        pub card: [u8; 32],
        pub bus_info: [u8; 32],
        pub version: u32,
        pub capabilities: u32,
        pub device_caps: u32,
        pub reserved: [u32; 3],
    }

    /// `struct v4l2_pix_format`.
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    pub struct PixFormat {
        pub width: u32,
        pub height: u32,
        pub pixelformat: u32,
        pub field: u32,
        pub bytesperline: u32,
        pub sizeimage: u32,
        pub colorspace: u32,
        pub private: u32,
        pub flags: u32,
        pub ycbcr_enc: u32,
        pub quantization: u32,
        pub xfer_func: u32,
    }

    /// The `fmt` union of `struct v4l2_format`: 200 bytes, 8-aligned (it holds pointers).
    #[repr(C, align(8))]
    pub struct FormatUnion {
        pub pix: PixFormat,
        pub raw: [u8; 200 - size_of::<PixFormat>()],
    }

    /// `struct v4l2_format`.
    #[repr(C)]
    pub struct Format {
        pub kind: u32,
        pub fmt: FormatUnion,
    }

    /// `struct v4l2_requestbuffers`.
    #[repr(C)]
    #[derive(Default)]
    pub struct RequestBuffers {
        pub count: u32,
        pub kind: u32,
        pub memory: u32,
        pub capabilities: u32,
        pub flags: u8,
        pub reserved: [u8; 3],
    }

    /// `struct v4l2_timecode`.
    #[repr(C)]
    #[derive(Default)]
    pub struct Timecode {
        pub kind: u32,
        pub flags: u32,
        pub frames: u8,
        pub seconds: u8,
        pub minutes: u8,
        pub hours: u8,
        pub userbits: [u8; 4],
    }

    /// `struct v4l2_buffer` (the `m` union as the mmap offset, padded to a pointer).
    #[repr(C)]
    #[derive(Default)]
    pub struct Buffer {
        pub index: u32,
        pub kind: u32,
        pub bytesused: u32,
        pub flags: u32,
        pub field: u32,
        pub timestamp: [i64; 2],
        pub timecode: Timecode,
        pub sequence: u32,
        pub memory: u32,
        pub offset: u64,
        pub length: u32,
        pub reserved2: u32,
        pub request_fd: i32,
    }
}

/// One driver buffer mapped into this process.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

/// A Video4Linux2 capture device streaming into memory-mapped buffers.
pub struct V4l2Camera {
    path: PathBuf,
    file: File,
    buffers: Vec<Mapping>,
    width: usize,
    height: usize,
    fourcc: u32,
    bytes_per_line: usize,
    frames: u64,
    ended: bool,
    spare: Option<Vec<u8>>,
}

impl std::fmt::Debug for V4l2Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4l2Camera")
            .field("path", &self.path)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

/// The frame size asked of the camera.
const WANTED: (u32, u32) = (320, 240);
/// Buffers the driver fills in turn.
const BUFFERS: u32 = 4;

/// Runs one ioctl on `file`, retrying when a signal interrupts it.
fn ioctl<T>(file: &File, request: u32, arg: &mut T) -> std::io::Result<()> {
    loop {
        // SAFETY: every request number above is paired with the struct its size encodes, and
        // `arg` is a valid, exclusive pointer to such a struct for the duration of the call.
        let rc = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                request as libc::Ioctl,
                arg as *mut T as *mut libc::c_void,
            )
        };
        if rc != -1 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

impl V4l2Camera {
    /// Opens `path`, sets the format and starts streaming.
    pub fn open(path: &Path) -> Result<Self, CameraError> {
        let io = |source| CameraError::Io {
            path: path.to_path_buf(),
            source,
        };
        let unusable = |reason: String| CameraError::Unusable {
            path: path.to_path_buf(),
            reason,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(io)?;

        let mut cap = abi::Capability::default();
        ioctl(&file, abi::VIDIOC_QUERYCAP, &mut cap)
            .map_err(|e| unusable(format!("not a Video4Linux2 device ({e})")))?;
        let caps = if cap.device_caps != 0 {
            cap.device_caps
        } else {
            cap.capabilities
        };
        if caps & abi::CAP_VIDEO_CAPTURE == 0 || caps & abi::CAP_STREAMING == 0 {
            return Err(unusable(
                "the device cannot stream video capture (an output or metadata node? try the \
                 next /dev/videoN)"
                    .into(),
            ));
        }

        let set_format = |pixelformat: u32| {
            let mut format = abi::Format {
                kind: abi::BUF_TYPE_VIDEO_CAPTURE,
                fmt: abi::FormatUnion {
                    pix: abi::PixFormat {
                        width: WANTED.0,
                        height: WANTED.1,
                        pixelformat,
                        field: abi::FIELD_NONE,
                        ..Default::default()
                    },
                    raw: [0; 200 - size_of::<abi::PixFormat>()],
                },
            };
            ioctl(&file, abi::VIDIOC_S_FMT, &mut format)
                .map_err(|e| unusable(format!("the camera refused the capture format ({e})")))?;
            Ok::<_, CameraError>(format.fmt.pix)
        };
        let mut pix = set_format(abi::PIX_FMT_YUYV)?;
        if bytes_per_pixel(pix.pixelformat).is_none() {
            pix = set_format(abi::PIX_FMT_MJPEG)?;
        }
        let Some(bytes_per_pixel) = bytes_per_pixel(pix.pixelformat) else {
            return Err(unusable(format!(
                "the camera offers only `{}`; YUYV, GREY or MJPEG is needed (set it with \
                 `v4l2-ctl --set-fmt-video`)",
                String::from_utf8_lossy(&pix.pixelformat.to_le_bytes())
            )));
        };
        let (width, height) = (pix.width as usize, pix.height as usize);
        let bytes_per_line = (pix.bytesperline as usize).max(width * bytes_per_pixel);
        if width == 0 || height == 0 {
            return Err(unusable("the driver reported an empty frame size".into()));
        }

        let mut request = abi::RequestBuffers {
            count: BUFFERS,
            kind: abi::BUF_TYPE_VIDEO_CAPTURE,
            memory: abi::MEMORY_MMAP,
            ..Default::default()
        };
        ioctl(&file, abi::VIDIOC_REQBUFS, &mut request)
            .map_err(|e| unusable(format!("no capture buffers ({e})")))?;
        if request.count == 0 {
            return Err(unusable("the driver granted no capture buffers".into()));
        }

        let mut camera = V4l2Camera {
            path: path.to_path_buf(),
            file,
            buffers: Vec::with_capacity(request.count as usize),
            width,
            height,
            fourcc: pix.pixelformat,
            bytes_per_line,
            frames: 0,
            ended: false,
            spare: None,
        };
        for index in 0..request.count {
            let mut buf = camera.buffer(index);
            ioctl(&camera.file, abi::VIDIOC_QUERYBUF, &mut buf).map_err(io)?;
            // SAFETY: maps the driver's buffer `index` at the offset it gave; the mapping is
            // owned by `camera` and unmapped in its `Drop`.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    buf.length as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    camera.file.as_raw_fd(),
                    buf.offset as libc::off_t,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(io(std::io::Error::last_os_error()));
            }
            camera.buffers.push(Mapping {
                ptr,
                len: buf.length as usize,
            });
            ioctl(&camera.file, abi::VIDIOC_QBUF, &mut buf).map_err(io)?;
        }
        let mut kind = abi::BUF_TYPE_VIDEO_CAPTURE as i32;
        ioctl(&camera.file, abi::VIDIOC_STREAMON, &mut kind).map_err(io)?;
        Ok(camera)
    }

    /// A buffer descriptor for `index`, as QUERYBUF, QBUF and DQBUF take it.
    fn buffer(&self, index: u32) -> abi::Buffer {
        abi::Buffer {
            index,
            kind: abi::BUF_TYPE_VIDEO_CAPTURE,
            memory: abi::MEMORY_MMAP,
            ..Default::default()
        }
    }

    /// Width and height of the frames the driver delivers.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Dequeues one filled buffer, copies its luma into a gray frame and queues it again.
    fn capture(&mut self) -> Result<Frame, CameraError> {
        let io = |source| CameraError::Stream {
            what: "camera",
            source,
        };
        let mut buf = self.buffer(0);
        ioctl(&self.file, abi::VIDIOC_DQBUF, &mut buf).map_err(io)?;
        let mapping = self
            .buffers
            .get(buf.index as usize)
            .ok_or_else(|| io(std::io::Error::other("driver returned an unknown buffer")))?;
        // SAFETY: the driver has handed buffer `index` back (DQBUF) and will not write it until
        // it is queued again below; the mapping is `len` bytes long.
        let bytes = unsafe { std::slice::from_raw_parts(mapping.ptr as *const u8, mapping.len) };
        let used = (buf.bytesused as usize).min(bytes.len());
        let mut data = self.spare.take().unwrap_or_default();
        let complete = if is_jpeg(self.fourcc) {
            jpeg_luma(&bytes[..used], self.width, self.height, &mut data)
        } else {
            luma(
                &bytes[..used],
                self.width,
                self.height,
                self.bytes_per_line,
                self.fourcc,
                &mut data,
            )
        };
        ioctl(&self.file, abi::VIDIOC_QBUF, &mut buf).map_err(io)?;
        if !complete && is_jpeg(self.fourcc) {
            self.spare = Some(data);
            return Err(CameraError::BadJpeg {
                frame: self.frames,
                bytes: used,
                width: self.width,
                height: self.height,
            });
        }
        if !complete {
            let expected = self.height * self.bytes_per_line;
            self.spare = Some(data);
            return Err(CameraError::ShortFrame {
                frame: self.frames,
                got: used,
                expected,
            });
        }
        self.frames += 1;
        Ok(Frame {
            width: self.width,
            height: self.height,
            format: PixelFormat::Gray8,
            data,
            label: None,
        })
    }
}

/// Bytes per pixel of a pixel format the capture reads (0 for a compressed one); `None` for
/// one it cannot.
fn bytes_per_pixel(fourcc: u32) -> Option<usize> {
    match fourcc {
        abi::PIX_FMT_YUYV => Some(2),
        abi::PIX_FMT_GREY => Some(1),
        abi::PIX_FMT_MJPEG | abi::PIX_FMT_JPEG => Some(0),
        _ => None,
    }
}

/// Whether frames in this format are JPEG images (Motion-JPEG).
fn is_jpeg(fourcc: u32) -> bool {
    matches!(fourcc, abi::PIX_FMT_MJPEG | abi::PIX_FMT_JPEG)
}

/// Decodes one Motion-JPEG frame into its luma (`out`, one byte per pixel); false when it is
/// not a decodable JPEG of exactly `width x height` (a frame cut short on the bus, a garbage
/// buffer). The decoder is told the size first, so a hostile header cannot make it allocate
/// more than the negotiated frame.
fn jpeg_luma(bytes: &[u8], width: usize, height: usize, out: &mut Vec<u8>) -> bool {
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Jpeg);
    let mut limits = image::Limits::default();
    limits.max_image_width = u32::try_from(width).ok();
    limits.max_image_height = u32::try_from(height).ok();
    limits.max_alloc = Some(
        (width as u64)
            .saturating_mul(height as u64)
            .saturating_mul(4),
    );
    reader.limits(limits);
    let Ok(image) = reader.decode() else {
        return false;
    };
    if (image.width() as usize, image.height() as usize) != (width, height) {
        return false;
    }
    out.clear();
    out.extend_from_slice(image.to_luma8().as_raw());
    true
}

/// Copies the luma of a `width x height` YUYV or GREY image with `stride` bytes per row into
/// `out` (one byte per pixel); false when `bytes` is too short for the whole image.
fn luma(
    bytes: &[u8],
    width: usize,
    height: usize,
    stride: usize,
    fourcc: u32,
    out: &mut Vec<u8>,
) -> bool {
    let step = if fourcc == abi::PIX_FMT_YUYV { 2 } else { 1 };
    if height == 0 || bytes.len() < (height - 1) * stride + width * step {
        return false;
    }
    out.clear();
    for row in 0..height {
        let line = &bytes[row * stride..][..width * step];
        out.extend(line.iter().step_by(step));
    }
    true
}

impl Camera for V4l2Camera {
    fn next_frame(&mut self) -> Option<Result<Frame, CameraError>> {
        if self.ended {
            return None;
        }
        let frame = self.capture();
        if let Err(CameraError::Stream { .. }) = &frame {
            // A device that fails to deliver (unplugged) ends the stream after reporting it.
            self.ended = true;
        }
        Some(frame)
    }

    fn recycle(&mut self, frame: Frame) {
        self.spare = Some(frame.data);
    }

    fn is_live(&self) -> bool {
        true
    }
}

impl Drop for V4l2Camera {
    fn drop(&mut self) {
        let mut kind = abi::BUF_TYPE_VIDEO_CAPTURE as i32;
        let _ = ioctl(&self.file, abi::VIDIOC_STREAMOFF, &mut kind);
        for mapping in &self.buffers {
            // SAFETY: each mapping came from a successful mmap of `len` bytes and is unmapped
            // once, here; no slice into it outlives `capture`.
            unsafe {
                libc::munmap(mapping.ptr, mapping.len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_structs_have_the_sizes_the_kernel_ioctl_numbers_encode() {
        // From the kernel's videodev2.h on 64-bit targets (e.g. `v4l2-ctl --log-status` traces).
        assert_eq!(abi::VIDIOC_QUERYCAP, 0x8068_5600);
        assert_eq!(abi::VIDIOC_S_FMT, 0xc0d0_5605);
        assert_eq!(abi::VIDIOC_REQBUFS, 0xc014_5608);
        assert_eq!(abi::VIDIOC_QUERYBUF, 0xc058_5609);
        assert_eq!(abi::VIDIOC_QBUF, 0xc058_560f);
        assert_eq!(abi::VIDIOC_DQBUF, 0xc058_5611);
        assert_eq!(abi::VIDIOC_STREAMON, 0x4004_5612);
        assert_eq!(abi::VIDIOC_STREAMOFF, 0x4004_5613);
        assert_eq!(abi::PIX_FMT_YUYV, 0x5659_5559);
    }

    #[test]
    fn yuyv_and_grey_rows_keep_only_the_luma() {
        // 2x2 YUYV with a padded stride of 6: rows [Y0 U Y1 V pad pad].
        let yuyv = [10, 128, 20, 128, 0, 0, 30, 128, 40, 128];
        let mut out = Vec::new();
        assert!(luma(&yuyv, 2, 2, 6, abi::PIX_FMT_YUYV, &mut out));
        assert_eq!(out, [10, 20, 30, 40]);
        assert!(luma(&[1, 2, 3, 4], 2, 2, 2, abi::PIX_FMT_GREY, &mut out));
        assert_eq!(out, [1, 2, 3, 4]);
        assert!(!luma(&yuyv[..7], 2, 2, 6, abi::PIX_FMT_YUYV, &mut out));
    }

    #[test]
    fn motion_jpeg_frames_decode_to_their_luma_and_bad_ones_are_refused() {
        // A 16x8 gray gradient, JPEG-encoded as a USB camera would send it.
        let (w, h) = (16u32, 8u32);
        let gray: Vec<u8> = (0..w * h).map(|i| ((i % w) * 16) as u8).collect();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
            .encode(&gray, w, h, image::ExtendedColorType::L8)
            .unwrap();
        let mut out = Vec::new();
        assert!(jpeg_luma(&jpeg, 16, 8, &mut out));
        assert_eq!(out.len(), 128);
        let worst = out
            .iter()
            .zip(&gray)
            .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
            .max()
            .unwrap();
        assert!(worst <= 8, "JPEG round trip off by {worst}");
        // A frame of another size, a truncated one and garbage are bad frames, not panics.
        assert!(!jpeg_luma(&jpeg, 32, 8, &mut out));
        assert!(!jpeg_luma(&jpeg[..jpeg.len() / 2], 16, 8, &mut out));
        assert!(!jpeg_luma(
            &[0xff, 0xd8, 0xff, 0x00, 1, 2, 3],
            16,
            8,
            &mut out
        ));
        assert!(!jpeg_luma(&[], 16, 8, &mut out));
        assert_eq!(bytes_per_pixel(abi::PIX_FMT_MJPEG), Some(0));
        assert_eq!(bytes_per_pixel(fourcc_of(b"H264")), None);
    }

    fn fourcc_of(code: &[u8; 4]) -> u32 {
        abi::fourcc(code)
    }

    #[test]
    fn a_missing_or_non_camera_device_is_a_clear_error() {
        let err = V4l2Camera::open(Path::new("/nonexistent/video9")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/video9"), "{err}");
        // A regular file answers the capability query with ENOTTY.
        let file = std::env::temp_dir().join(format!("plastic-v4l2-{}", std::process::id()));
        std::fs::write(&file, b"not a camera").unwrap();
        let err = V4l2Camera::open(&file).unwrap_err().to_string();
        std::fs::remove_file(&file).unwrap();
        assert!(err.contains("not a Video4Linux2 device"), "{err}");
    }
}
