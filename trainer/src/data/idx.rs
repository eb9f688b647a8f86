//! The IDX format of MNIST and Fashion-MNIST: a big-endian magic (`0x00000803` for images,
//! `0x00000801` for labels), the dimensions as big-endian u32, then the bytes.

use std::path::Path;

use super::{DataError, Dataset, read_maybe_gz};

const IMAGES_MAGIC: u32 = 0x0803;
const LABELS_MAGIC: u32 = 0x0801;

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Checks the magic and that `header + count * item` bytes are present; returns the payload.
fn payload<'a>(
    bytes: &'a [u8],
    path: &Path,
    magic: u32,
    dims: usize,
) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let header = 4 + 4 * dims;
    let truncated = |expected: u64| DataError::Truncated {
        path: path.to_path_buf(),
        expected_bytes: expected,
        found_bytes: bytes.len() as u64,
    };
    let found = be_u32(bytes, 0).ok_or_else(|| truncated(header as u64))?;
    if found != magic {
        return Err(DataError::WrongMagic {
            path: path.to_path_buf(),
            found,
            expected: magic,
        });
    }
    let shape: Vec<usize> = (0..dims)
        .map(|d| be_u32(bytes, 4 + 4 * d).map(|v| v as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| truncated(header as u64))?;
    // u64 arithmetic: 3 dimensions of up to 2^32 cannot overflow what we compare against.
    let needed = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|n| n.checked_add(header as u64))
        .unwrap_or(u64::MAX);
    if (bytes.len() as u64) < needed {
        return Err(truncated(needed));
    }
    Ok((shape, &bytes[header..needed as usize]))
}

/// Parses IDX image bytes: `(pixels, count, rows, cols)`.
pub fn parse_idx_images(
    bytes: &[u8],
    path: &Path,
) -> Result<(Vec<u8>, usize, usize, usize), DataError> {
    let (shape, data) = payload(bytes, path, IMAGES_MAGIC, 3)?;
    Ok((data.to_vec(), shape[0], shape[1], shape[2]))
}

/// Parses IDX label bytes; every label must be a class index below 10.
pub fn parse_idx_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let (_, data) = payload(bytes, path, LABELS_MAGIC, 1)?;
    if let Some(index) = data.iter().position(|&l| l >= 10) {
        return Err(DataError::BadLabel {
            path: path.to_path_buf(),
            index,
            label: data[index],
        });
    }
    Ok(data.to_vec())
}

/// Reads `<dir>/<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]`.
pub fn load_pair(dir: &Path, prefix: &str) -> Result<Dataset, DataError> {
    let (ipath, ibytes) = read_maybe_gz(&dir.join(format!("{prefix}-images-idx3-ubyte")))?;
    let (images, count, rows, cols) = parse_idx_images(&ibytes, &ipath)?;
    let (lpath, lbytes) = read_maybe_gz(&dir.join(format!("{prefix}-labels-idx1-ubyte")))?;
    let labels = parse_idx_labels(&lbytes, &lpath)?;
    if (rows, cols) != (28, 28) {
        return Err(DataError::WrongSize {
            path: ipath,
            what: format!("images are {rows}x{cols}, MNIST-style sets are 28x28"),
        });
    }
    if count != labels.len() {
        return Err(DataError::CountMismatch {
            images: count,
            labels: labels.len(),
        });
    }
    Ok(Dataset {
        images,
        labels,
        width: cols,
        height: rows,
        channels: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn images(count: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut b = vec![0, 0, 8, 3];
        for d in [count, rows, cols] {
            b.extend(d.to_be_bytes());
        }
        b.extend((0..count * rows * cols).map(|i| i as u8));
        b
    }

    fn labels(values: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, 1];
        b.extend((values.len() as u32).to_be_bytes());
        b.extend(values);
        b
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("plastic-idx-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn small_files_parse() {
        let (px, n, r, c) = parse_idx_images(&images(2, 2, 3), Path::new("x")).unwrap();
        assert_eq!((n, r, c), (2, 2, 3));
        assert_eq!(px, (0..12).collect::<Vec<u8>>());
        assert_eq!(
            parse_idx_labels(&labels(&[3, 9]), Path::new("y")).unwrap(),
            [3, 9]
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let full = images(2, 2, 3);
        for len in 0..full.len() {
            assert!(
                matches!(
                    parse_idx_images(&full[..len], Path::new("x")),
                    Err(DataError::Truncated { .. })
                ),
                "len {len}"
            );
        }
    }

    #[test]
    fn wrong_magic_hostile_count_and_bad_label_are_named() {
        let p = Path::new("f");
        assert!(matches!(
            parse_idx_images(&labels(&[1]), p),
            Err(DataError::WrongMagic { found: 0x0801, .. })
        ));
        let mut hostile = images(1, 2, 2);
        hostile[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        hostile[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            parse_idx_images(&hostile, p),
            Err(DataError::Truncated { .. })
        ));
        assert!(matches!(
            parse_idx_labels(&labels(&[1, 10]), p),
            Err(DataError::BadLabel {
                index: 1,
                label: 10,
                ..
            })
        ));
    }

    #[test]
    fn gzipped_and_raw_files_load_and_counts_must_agree() {
        let dir = temp_dir("pair");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&images(2, 28, 28)).unwrap();
        std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gz.finish().unwrap()).unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte"), labels(&[1, 2])).unwrap();
        let d = load_pair(&dir, "train").unwrap();
        assert_eq!(
            (d.len(), d.sample_len(), d.labels.clone()),
            (2, 784, vec![1, 2])
        );
        std::fs::write(dir.join("train-labels-idx1-ubyte"), labels(&[1, 2, 3])).unwrap();
        assert!(matches!(
            load_pair(&dir, "train"),
            Err(DataError::CountMismatch {
                images: 2,
                labels: 3
            })
        ));
        std::fs::write(
            dir.join("train-images-idx3-ubyte.gz"),
            [0x1f, 0x8b, 1, 2, 3],
        )
        .unwrap();
        assert!(matches!(
            load_pair(&dir, "train"),
            Err(DataError::BadGzip { .. })
        ));
        std::fs::remove_dir_all(dir).ok();
    }
}
