//! The IDX format of MNIST and Fashion-MNIST: a big-endian magic (`0x00000803` for images,
//! `0x00000801` for labels), the dimensions as big-endian u32 (`n, rows, cols` for images,
//! `n` for labels), then one byte per pixel or label.
//!
//! Sizes claimed by the header are checked against the bytes actually present, in `u128`
//! arithmetic, before anything is allocated: a header claiming 2^32 images is
//! [`DataError::Truncated`], not an overflow or a huge allocation.

use std::path::Path;

use super::{DataError, Dataset, read_maybe_gz};

/// Magic of an IDX file of unsigned bytes with 3 dimensions (images).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of unsigned bytes with 1 dimension (labels).
const LABELS_MAGIC: u32 = 0x0000_0801;

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The file length an IDX header claims (header plus `product(dims)` bytes), from the first
/// bytes of the file; `None` when they do not hold a whole header of `magic`.
fn declared_len<const D: usize>(prefix: &[u8], magic: u32) -> Option<u64> {
    if be_u32(prefix, 0)? != magic {
        return None;
    }
    // At most 3 factors below 2^32: cannot overflow u128.
    let mut payload = 1u128;
    for d in 0..D {
        payload *= u128::from(be_u32(prefix, 4 + 4 * d)?);
    }
    u64::try_from(payload + (4 + 4 * D) as u128).ok()
}

/// Checks the magic and that the header's `product(dims)` bytes follow it exactly; returns
/// the dimensions and the payload's byte range.
fn check<const D: usize>(
    bytes: &[u8],
    path: &Path,
    magic: u32,
) -> Result<([usize; D], std::ops::Range<usize>), DataError> {
    let header = 4 + 4 * D;
    let truncated = |expected: u128| DataError::Truncated {
        path: path.to_path_buf(),
        expected_bytes: u64::try_from(expected).unwrap_or(u64::MAX),
        found_bytes: bytes.len() as u64,
    };
    let found = be_u32(bytes, 0).ok_or_else(|| truncated(header as u128))?;
    if found != magic {
        return Err(DataError::WrongMagic {
            path: path.to_path_buf(),
            found,
            expected: magic,
        });
    }
    let mut dims = [0u32; D];
    for (d, dim) in dims.iter_mut().enumerate() {
        *dim = be_u32(bytes, 4 + 4 * d).ok_or_else(|| truncated(header as u128))?;
    }
    // At most 3 factors below 2^32 plus a small header: cannot overflow u128.
    let needed = dims.iter().map(|&d| d as u128).product::<u128>() + header as u128;
    let len = bytes.len() as u128;
    if len < needed {
        return Err(truncated(needed));
    }
    if len > needed {
        return Err(DataError::WrongSize {
            path: path.to_path_buf(),
            what: format!(
                "the header says {dims:?} ({needed} bytes) but the file has {len} bytes: it is damaged or not an IDX file; download it again"
            ),
        });
    }
    // needed == bytes.len() here, so every conversion fits in usize.
    Ok((dims.map(|d| d as usize), header..bytes.len()))
}

fn check_labels(labels: &[u8], path: &Path) -> Result<(), DataError> {
    match labels.iter().position(|&l| l >= 10) {
        Some(index) => Err(DataError::BadLabel {
            path: path.to_path_buf(),
            index,
            label: labels[index],
        }),
        None => Ok(()),
    }
}

/// Parses the (already gunzipped) bytes of an IDX images file into
/// `(pixels, count, rows, cols)`; `source` names the file in errors. Kept separate from the
/// file reading so tests and callers with in-memory data can use it.
pub fn parse_idx_images(
    bytes: &[u8],
    source: &str,
) -> Result<(Vec<u8>, usize, usize, usize), DataError> {
    let ([n, rows, cols], range) = check::<3>(bytes, Path::new(source), IMAGES_MAGIC)?;
    Ok((bytes[range].to_vec(), n, rows, cols))
}

/// Parses the (already gunzipped) bytes of an IDX labels file; every label must be a class
/// index below 10. `source` names the file in errors.
pub fn parse_idx_labels(bytes: &[u8], source: &str) -> Result<Vec<u8>, DataError> {
    let path = Path::new(source);
    let (_, range) = check::<1>(bytes, path, LABELS_MAGIC)?;
    check_labels(&bytes[range.clone()], path)?;
    Ok(bytes[range].to_vec())
}

/// Reads `<base>[.gz]` as IDX images without copying the payload: `(path read, pixels, n,
/// rows, cols)`.
fn read_images(
    base: &Path,
) -> Result<(std::path::PathBuf, Vec<u8>, usize, usize, usize), DataError> {
    let (path, mut bytes) = read_maybe_gz(base, |p| declared_len::<3>(p, IMAGES_MAGIC))?;
    let ([n, rows, cols], range) = check::<3>(&bytes, &path, IMAGES_MAGIC)?;
    bytes.drain(..range.start);
    Ok((path, bytes, n, rows, cols))
}

/// Reads `<base>[.gz]` as IDX labels: `(path read, labels)`.
fn read_labels(base: &Path) -> Result<(std::path::PathBuf, Vec<u8>), DataError> {
    let (path, mut bytes) = read_maybe_gz(base, |p| declared_len::<1>(p, LABELS_MAGIC))?;
    let (_, range) = check::<1>(&bytes, &path, LABELS_MAGIC)?;
    check_labels(&bytes[range.clone()], &path)?;
    bytes.drain(..range.start);
    Ok((path, bytes))
}

/// Reads an IDX images file into `(pixels, count, rows, cols)`: `<path>.gz` if it exists,
/// else `<path>`; either may be gzipped or raw (detected by the gzip magic, not the name).
pub fn read_idx_images(path: &Path) -> Result<(Vec<u8>, usize, usize, usize), DataError> {
    read_images(path).map(|(_, px, n, rows, cols)| (px, n, rows, cols))
}

/// Reads an IDX labels file, each label below 10: `<path>.gz` if it exists, else `<path>`;
/// either may be gzipped or raw.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    read_labels(path).map(|(_, labels)| labels)
}

/// Reads `<dir>/<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]` (prefix
/// `train` or `t10k`) into a 28x28 gray [`Dataset`], checking that the two files agree.
pub(crate) fn load_pair(dir: &Path, prefix: &str) -> Result<Dataset, DataError> {
    let (ipath, images, count, rows, cols) =
        read_images(&dir.join(format!("{prefix}-images-idx3-ubyte")))?;
    if (rows, cols) != (28, 28) {
        return Err(DataError::WrongSize {
            path: ipath,
            what: format!(
                "images are {rows}x{cols}, MNIST and Fashion-MNIST images are 28x28: point --data-dir at the original files"
            ),
        });
    }
    if count == 0 {
        return Err(DataError::WrongSize {
            path: ipath,
            what: "the file holds no images: download it again".to_string(),
        });
    }
    let (_, labels) = read_labels(&dir.join(format!("{prefix}-labels-idx1-ubyte")))?;
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

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    /// A fresh, empty folder for one test.
    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("plastic-idx-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&d).ok();
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A gzip bomb behind a valid header: 10 images declared, 64 MB of zeros after them. It
    /// grew to gigabytes before its size was checked; decoding now stops one byte past the
    /// declared size and the size check names the file.
    #[test]
    fn a_gzip_bomb_decodes_no_further_than_its_header_declares() {
        let dir = temp_dir("bomb");
        let mut bomb = images(10, 28, 28);
        let declared = bomb.len();
        bomb.resize(declared + (64 << 20), 0);
        let packed = gzip(&bomb);
        assert!(packed.len() < 1 << 20, "{}", packed.len());
        let path = dir.join("train-images-idx3-ubyte.gz");
        let decoded = super::super::gunzip_if_needed(&path, packed.clone(), |p| {
            declared_len::<3>(p, IMAGES_MAGIC)
        })
        .unwrap();
        assert_eq!(decoded.len(), declared + 1);
        std::fs::write(&path, packed).unwrap();
        let err = read_idx_images(&dir.join("train-images-idx3-ubyte")).unwrap_err();
        assert!(matches!(err, DataError::WrongSize { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn small_raw_bytes_parse() {
        let (px, n, r, c) = parse_idx_images(&images(2, 2, 3), "x").unwrap();
        assert_eq!((n, r, c), (2, 2, 3));
        assert_eq!(px, (0..12).collect::<Vec<u8>>());
        assert_eq!(parse_idx_labels(&labels(&[3, 9]), "y").unwrap(), [3, 9]);
        assert_eq!(parse_idx_images(&images(0, 28, 28), "z").unwrap().1, 0);
    }

    #[test]
    fn raw_and_gzipped_files_read_the_same() {
        let dir = temp_dir("read");
        std::fs::write(dir.join("a"), images(3, 4, 5)).unwrap();
        std::fs::write(dir.join("b.gz"), gzip(&images(3, 4, 5))).unwrap();
        // Gzip is told by its magic, not its name.
        std::fs::write(dir.join("c"), gzip(&labels(&[0, 9, 4]))).unwrap();
        std::fs::write(dir.join("d.gz"), labels(&[0, 9, 4])).unwrap();
        let a = read_idx_images(&dir.join("a")).unwrap();
        assert_eq!(a, read_idx_images(&dir.join("b")).unwrap());
        assert_eq!((a.0.len(), a.1, a.2, a.3), (60, 3, 4, 5));
        assert_eq!(read_idx_labels(&dir.join("c")).unwrap(), [0, 9, 4]);
        assert_eq!(read_idx_labels(&dir.join("d")).unwrap(), [0, 9, 4]);
        assert!(matches!(
            read_idx_labels(&dir.join("e")),
            Err(DataError::Missing { .. })
        ));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn wrong_magic_is_named() {
        assert!(matches!(
            parse_idx_images(&labels(&[1]), "f"),
            Err(DataError::WrongMagic {
                found: 0x0801,
                expected: 0x0803,
                ..
            })
        ));
        assert!(matches!(
            parse_idx_labels(&images(1, 1, 1), "f"),
            Err(DataError::WrongMagic {
                found: 0x0803,
                expected: 0x0801,
                ..
            })
        ));
    }

    #[test]
    fn every_prefix_of_a_valid_file_is_an_error() {
        for full in [images(2, 2, 3), labels(&[1, 2, 3])] {
            let is_images = full[3] == 3;
            for len in 0..full.len() {
                let err = if is_images {
                    parse_idx_images(&full[..len], "x").map(|_| ()).unwrap_err()
                } else {
                    parse_idx_labels(&full[..len], "x").map(|_| ()).unwrap_err()
                };
                assert!(
                    matches!(err, DataError::Truncated { .. }),
                    "len {len}: {err}"
                );
            }
        }
    }

    #[test]
    fn every_prefix_of_a_gzipped_file_is_an_error() {
        let dir = temp_dir("gzprefix");
        let full = gzip(&images(2, 2, 3));
        for len in 0..full.len() {
            std::fs::write(dir.join("f"), &full[..len]).unwrap();
            assert!(read_idx_images(&dir.join("f")).is_err(), "len {len}");
        }
        std::fs::write(dir.join("f"), &full).unwrap();
        assert!(read_idx_images(&dir.join("f")).is_ok());
        std::fs::write(dir.join("f"), [0x1f, 0x8b, 1, 2, 3]).unwrap();
        assert!(matches!(
            read_idx_images(&dir.join("f")),
            Err(DataError::BadGzip { .. })
        ));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn trailing_bytes_are_a_wrong_size() {
        let mut b = labels(&[1, 2]);
        b.push(3);
        assert!(matches!(
            parse_idx_labels(&b, "x"),
            Err(DataError::WrongSize { .. })
        ));
    }

    #[test]
    fn hostile_counts_are_truncated_not_allocated() {
        for dims in [
            [u32::MAX, 28, 28],
            [u32::MAX, u32::MAX, u32::MAX],
            [1 << 31, 1 << 31, 2],
        ] {
            let mut hostile = images(1, 2, 2);
            for (d, v) in dims.iter().enumerate() {
                hostile[4 + 4 * d..8 + 4 * d].copy_from_slice(&v.to_be_bytes());
            }
            let err = parse_idx_images(&hostile, "h").unwrap_err();
            assert!(matches!(err, DataError::Truncated { .. }), "{err}");
        }
        let mut hostile = labels(&[1]);
        hostile[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            parse_idx_labels(&hostile, "h"),
            Err(DataError::Truncated {
                expected_bytes: 4_294_967_303,
                found_bytes: 9,
                ..
            })
        ));
    }

    #[test]
    fn labels_of_10_or_more_are_bad() {
        let err = parse_idx_labels(&labels(&[1, 10]), "l").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadLabel {
                    index: 1,
                    label: 10,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn pairs_load_and_must_agree() {
        let dir = temp_dir("pair");
        std::fs::write(
            dir.join("train-images-idx3-ubyte.gz"),
            gzip(&images(2, 28, 28)),
        )
        .unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte"), labels(&[1, 2])).unwrap();
        let d = load_pair(&dir, "train").unwrap();
        assert_eq!(
            (d.len(), d.sample_len(), &d.labels[..]),
            (2, 784, &[1, 2][..])
        );
        assert_eq!(d.image(1)[0], (784 % 256) as u8);

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
            gzip(&images(2, 27, 28)),
        )
        .unwrap();
        assert!(matches!(
            load_pair(&dir, "train"),
            Err(DataError::WrongSize { .. })
        ));

        std::fs::remove_file(dir.join("train-labels-idx1-ubyte")).unwrap();
        std::fs::write(
            dir.join("train-images-idx3-ubyte.gz"),
            gzip(&images(2, 28, 28)),
        )
        .unwrap();
        let err = load_pair(&dir, "train").unwrap_err();
        assert!(matches!(err, DataError::Missing { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("train-labels-idx1-ubyte.gz and") && msg.contains("--data-dir"),
            "{msg}"
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
