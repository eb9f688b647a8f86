//! The MNIST test set as a source of digits for the synthetic scenarios.
//!
//! Why: the 200 shipped samples are enough to show the device, but a drift experiment runs
//! thousands of frames, and a device that sees the same 200 digits twenty times could learn
//! them rather than the camera. The 10,000 test digits (never seen by the trained model) are in
//! the shared data folder on every developer machine and in CI; the reader is a dozen lines of
//! IDX parsing, gunzipped with `flate2`, so the simulator needs no trainer crate for it.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{CameraError, Digit};

/// File names of the test images and labels (gzipped; a raw file of the name without `.gz` is
/// read too).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// See [`TEST_IMAGES`].
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The shared data folder: `$PLASTIC_DATA` if set (and a folder), else `../shared/data`
/// relative to the current folder, else `../../shared/data` (tests run from the crate folder);
/// made absolute, so a summary that names it is unambiguous.
pub fn shared_data_dir() -> Option<PathBuf> {
    let found = match std::env::var_os("PLASTIC_DATA") {
        Some(dir) => Some(PathBuf::from(dir)).filter(|d| d.is_dir()),
        None => ["../shared/data", "../../shared/data"]
            .iter()
            .map(PathBuf::from)
            .find(|d| d.is_dir()),
    };
    found.map(|d| std::fs::canonicalize(&d).unwrap_or(d))
}

/// True when `data/mnist` holds the test images and labels (raw or gzipped).
pub fn has_test_set(data: &Path) -> bool {
    has_test_set_in(&data.join("mnist"))
}

/// True when `dir` itself holds IDX test images and labels of these names (MNIST's or
/// Fashion-MNIST's folder).
pub fn has_test_set_in(dir: &Path) -> bool {
    [TEST_IMAGES, TEST_LABELS]
        .iter()
        .all(|name| find(dir, name).is_some())
}

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    [format!("{name}.gz"), name.to_string()]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Reads the MNIST test digits of `dir` (the `mnist` folder), in file order. Their `path` is
/// the images file with `#index` appended, so a digit can be traced back.
pub fn load_test_set(dir: &Path) -> Result<Vec<Digit>, CameraError> {
    let (images_path, images) = read_idx(dir, TEST_IMAGES)?;
    let (labels_path, labels) = read_idx(dir, TEST_LABELS)?;
    let bad = |path: &Path, reason: String| CameraError::BadSample {
        path: path.to_path_buf(),
        reason,
    };
    let header = |bytes: &[u8], i: usize| -> u32 {
        u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes"))
    };
    if images.len() < 16 || header(&images, 0) != 0x0803 {
        return Err(bad(&images_path, "not an IDX file of 8-bit images".into()));
    }
    if labels.len() < 8 || header(&labels, 0) != 0x0801 {
        return Err(bad(&labels_path, "not an IDX file of 8-bit labels".into()));
    }
    let (n, rows, cols) = (
        header(&images, 1) as usize,
        header(&images, 2),
        header(&images, 3),
    );
    if (rows, cols) != (28, 28) || images.len() != 16 + n * 784 {
        return Err(bad(
            &images_path,
            format!("expected {n} images of 28x28 in {} bytes", images.len()),
        ));
    }
    if header(&labels, 1) as usize != n || labels.len() != 8 + n {
        return Err(bad(&labels_path, format!("expected {n} labels")));
    }
    images[16..]
        .chunks_exact(784)
        .zip(&labels[8..])
        .enumerate()
        .map(|(i, (pixels, &label))| {
            if label > 9 {
                return Err(bad(&labels_path, format!("label {label} of digit {i}")));
            }
            Ok(Digit {
                pixels: pixels.to_vec(),
                label,
                path: PathBuf::from(format!("{}#{i}", images_path.display())),
            })
        })
        .collect()
}

/// Reads `dir/name.gz` (gunzipped) or `dir/name`.
fn read_idx(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>), CameraError> {
    let path = find(dir, name).ok_or_else(|| CameraError::Empty {
        path: dir.to_path_buf(),
        what: "MNIST test files (t10k-*-ubyte.gz)",
    })?;
    let io = |source| CameraError::Io {
        path: path.clone(),
        source,
    };
    let raw = std::fs::read(&path).map_err(io)?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok((path, raw));
    }
    let mut bytes = Vec::with_capacity(raw.len() * 5);
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok((path, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn reads_gzipped_and_raw_idx_files_and_refuses_bad_ones() {
        let data = std::env::temp_dir().join(format!("plastic-sim-idx-{}", std::process::id()));
        let dir = data.join("mnist");
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!has_test_set(&data));
        let mut pixels = vec![0u8; 2 * 784];
        pixels[784 + 3] = 200;
        let images = idx(0x0803, &[2, 28, 28], &pixels);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&images).unwrap();
        std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), gz.finish().unwrap()).unwrap();
        std::fs::write(dir.join(TEST_LABELS), idx(0x0801, &[2], &[7, 2])).unwrap();
        assert!(has_test_set(&data));

        let digits = load_test_set(&dir).unwrap();
        assert_eq!(digits.len(), 2);
        assert_eq!((digits[0].label, digits[1].label), (7, 2));
        assert_eq!(digits[1].pixels[3], 200);
        assert!(digits[1].path.to_string_lossy().ends_with("#1"));

        std::fs::write(dir.join(TEST_LABELS), idx(0x0801, &[3], &[7, 2, 1])).unwrap();
        let err = load_test_set(&dir).unwrap_err().to_string();
        assert!(err.contains("expected 2 labels"), "{err}");
        std::fs::write(dir.join(TEST_LABELS), b"garbage").unwrap();
        assert!(load_test_set(&dir).is_err());
        std::fs::remove_dir_all(&data).unwrap();
    }
}
