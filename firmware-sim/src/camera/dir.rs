//! `dir:PATH`: a folder of images played back as a camera, in file-name order.
//!
//! Why a folder: it is how captures from a real device, exported datasets and hand-made test
//! cases are kept, and it makes a run reproducible without any simulator. Files are decoded one
//! at a time as the loop asks for them, so a folder of any size costs one image of memory.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use plastic_runtime::preprocess::PixelFormat;

use super::{Camera, CameraError, Frame, MAX_FRAME_SIDE, image_file, label_from_name};

/// The most bytes one image may decode into without `--mem-budget` (256 MiB: a 48-megapixel
/// colour photo fits). A small file can claim a huge image (a PNG of 400 megapixels compresses
/// to a few hundred kilobytes); the decoder refuses it instead of allocating for it.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 256 << 20;

/// Plays back the images of a folder.
#[derive(Debug)]
pub struct DirCamera {
    files: Vec<PathBuf>,
    next: usize,
    /// The most bytes the decoder may allocate for one image (`--mem-budget`'s share).
    max_frame_bytes: Option<usize>,
}

impl DirCamera {
    /// Lists the folder. Files count as frames when their extension is an image format (or they
    /// have none); dot-files and other files (a README beside the images) are left out. Whether
    /// a frame really decodes is found out when it is captured.
    pub fn open(dir: &Path) -> Result<Self, CameraError> {
        let io = |source| CameraError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden || !path.is_file() {
                continue;
            }
            let image_like = match path.extension() {
                None => true,
                Some(ext) => ImageFormat::from_extension(ext).is_some(),
            };
            if image_like {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(CameraError::Empty {
                path: dir.to_path_buf(),
                what: "image files",
            });
        }
        files.sort();
        Ok(Self {
            files,
            next: 0,
            max_frame_bytes: None,
        })
    }

    /// The files that will be played, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl Camera for DirCamera {
    fn next_frame(&mut self) -> Option<Result<Frame, CameraError>> {
        let path = self.files.get(self.next)?;
        self.next += 1;
        Some(load_frame(path, self.max_frame_bytes))
    }

    fn limit_frame_bytes(&mut self, max: usize) {
        self.max_frame_bytes = Some(max);
    }
}

/// Decodes one image file into a frame: 8-bit gray when the image has no colour, RGB otherwise
/// (turned and laid on paper as a viewer shows it: [`image_file`]), label from the file name.
/// The decoder may allocate at most `max_bytes` ([`DEFAULT_MAX_FRAME_BYTES`] without one), for
/// an image of at most [`MAX_FRAME_SIDE`] a side.
fn load_frame(path: &Path, max_bytes: Option<usize>) -> Result<Frame, CameraError> {
    let image = decode_within(path, max_bytes)?;
    let (width, height) = (image.width() as usize, image.height() as usize);
    let (format, data) = if image.color().has_color() {
        (PixelFormat::Rgb24, image.into_rgb8().into_raw())
    } else {
        (PixelFormat::Gray8, image.into_luma8().into_raw())
    };
    Ok(Frame {
        width,
        height,
        format,
        data,
        label: label_from_name(path),
    })
}

/// Opens and decodes an image, guessing the format from its bytes first (a PNG saved as
/// `.jpg` still plays) and from its extension otherwise; turned as its orientation tag says
/// and without alpha ([`image_file`]).
pub(crate) fn decode(path: &Path) -> Result<DynamicImage, CameraError> {
    decode_within(path, None)
}

fn decode_within(path: &Path, max_bytes: Option<usize>) -> Result<DynamicImage, CameraError> {
    let io = |source| CameraError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = ImageReader::open(path)
        .map_err(io)?
        .with_guessed_format()
        .map_err(io)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_FRAME_SIDE as u32);
    limits.max_image_height = Some(MAX_FRAME_SIDE as u32);
    limits.max_alloc = Some(max_bytes.unwrap_or(DEFAULT_MAX_FRAME_BYTES) as u64);
    reader.limits(limits.clone());
    let decode_error = |source| CameraError::Decode {
        path: path.to_path_buf(),
        source,
    };
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    // What `ImageReader::decode` checks before it allocates, which a decoder taken out of the
    // reader does not.
    limits
        .reserve(decoder.total_bytes())
        .map_err(decode_error)?;
    let orientation = decoder.orientation();
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    // Flattened first: the copy a turn makes is then of the smaller picture.
    let mut image = image_file::flatten_alpha(image);
    image_file::orient(orientation, &mut image);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("plastic-sim-dir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn plays_images_in_name_order_and_reports_garbage_without_stopping() {
        let dir = temp_dir("order");
        image::GrayImage::from_pixel(5, 4, image::Luma([9]))
            .save(dir.join("0001_4.png"))
            .unwrap();
        image::RgbImage::from_pixel(3, 2, image::Rgb([1, 2, 3]))
            .save(dir.join("0000_1.png"))
            .unwrap();
        std::fs::write(dir.join("0002_3.png"), b"not an image at all").unwrap();
        std::fs::write(dir.join("README.md"), b"# samples").unwrap();
        std::fs::write(dir.join(".hidden.png"), b"x").unwrap();

        let mut cam = DirCamera::open(&dir).unwrap();
        assert_eq!(cam.files().len(), 3);
        let first = cam.next_frame().unwrap().unwrap();
        assert_eq!((first.width, first.height, first.label), (3, 2, Some(1)));
        assert_eq!(first.format, PixelFormat::Rgb24);
        assert_eq!(&first.data[..3], &[1, 2, 3]);
        let second = cam.next_frame().unwrap().unwrap();
        assert_eq!((second.width, second.height, second.label), (5, 4, Some(4)));
        assert_eq!(second.format, PixelFormat::Gray8);
        let third = cam.next_frame().unwrap();
        assert!(matches!(third, Err(CameraError::Decode { .. })));
        assert!(cam.next_frame().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A PNG file whose header claims `width` x `height` pixels of a colour type (0 gray, 2
    /// RGB), with one byte of data:
    /// what a hostile folder holds. Chunks are written by hand (a real encoder would need
    /// the whole image).
    fn png_claiming(width: u32, height: u32, colour: u8) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &b in bytes {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
                }
            }
            !crc
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let body = [kind, data].concat();
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
        };
        let header = [
            &width.to_be_bytes()[..],
            &height.to_be_bytes(),
            &[8, colour, 0, 0, 0],
        ]
        .concat();
        chunk(b"IHDR", &header);
        chunk(
            b"IDAT",
            &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
        );
        chunk(b"IEND", &[]);
        out
    }

    #[test]
    fn an_image_claiming_a_huge_size_is_skipped_before_it_is_decoded() {
        let dir = temp_dir("huge");
        // Too many bytes (10000x10000 RGB is 300 MB) or too long a side, each refused by the
        // limits (not by the missing data, which would be a different error).
        std::fs::write(dir.join("0000_1.png"), png_claiming(10_000, 10_000, 2)).unwrap();
        std::fs::write(dir.join("0001_1.png"), png_claiming(20_000, 20_000, 0)).unwrap();
        std::fs::write(dir.join("0002_1.png"), png_claiming(1, 100_000, 0)).unwrap();
        std::fs::write(dir.join("0003_1.png"), png_claiming(100, 100, 0)).unwrap();
        let mut cam = DirCamera::open(&dir).unwrap();
        for _ in 0..3 {
            let frame = cam.next_frame().unwrap();
            assert!(
                matches!(
                    frame,
                    Err(CameraError::Decode {
                        source: image::ImageError::Limits(_),
                        ..
                    })
                ),
                "{frame:?}"
            );
        }
        // The same claim within the limits reaches the data, and fails there.
        let frame = cam.next_frame().unwrap();
        assert!(
            matches!(frame, Err(CameraError::Decode { ref source, .. }) if !matches!(source, image::ImageError::Limits(_))),
            "{frame:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_or_empty_folder_is_an_error() {
        let dir = temp_dir("empty");
        assert!(matches!(
            DirCamera::open(&dir),
            Err(CameraError::Empty { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(DirCamera::open(&dir), Err(CameraError::Io { .. })));
    }
}
