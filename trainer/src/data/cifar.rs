//! CIFAR-10 binary batches: records of 1 label byte and 3072 pixel bytes (1024 R, 1024 G,
//! 1024 B, each plane row-major), 10000 per file in the official release (any whole, non-zero
//! number of records is accepted); `data_batch_1..5.bin` for training, `test_batch.bin` for
//! test, each raw or gzipped.

use std::path::Path;

use rayon::prelude::*;

use super::{DataError, Dataset, read_maybe_gz};

/// Pixel bytes of one image: 32x32, 3 planes.
const IMAGE: usize = 32 * 32 * 3;
/// One record: the label byte, then the image.
const RECORD: usize = 1 + IMAGE;

/// The training batches, in order.
pub(crate) const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch.
pub(crate) const TEST_FILE: &str = "test_batch.bin";

/// Checks one batch file's (gunzipped) bytes: a whole, non-zero number of records, each
/// label below 10. Returns the number of records.
fn check_batch(bytes: &[u8], path: &Path) -> Result<usize, DataError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::WrongSize {
            path: path.to_path_buf(),
            what: format!(
                "{} bytes is not a whole, non-zero number of {RECORD}-byte CIFAR-10 records: the file is damaged, or not the binary version; download cifar-10-binary.tar.gz again",
                bytes.len()
            ),
        });
    }
    for (index, record) in bytes.chunks_exact(RECORD).enumerate() {
        if record[0] >= 10 {
            return Err(DataError::BadLabel {
                path: path.to_path_buf(),
                index,
                label: record[0],
            });
        }
    }
    Ok(bytes.len() / RECORD)
}

/// Parses one batch file's (gunzipped) bytes, appending to `images` and `labels`.
pub(crate) fn parse_batch(
    bytes: &[u8],
    path: &Path,
    images: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<(), DataError> {
    let n = check_batch(bytes, path)?;
    images.reserve(n * IMAGE);
    labels.reserve(n);
    for record in bytes.chunks_exact(RECORD) {
        labels.push(record[0]);
        images.extend_from_slice(&record[1..]);
    }
    Ok(())
}

/// Parses the (already gunzipped) bytes of one batch file into `(pixels, labels)`, 32x32x3
/// planar images; `source` names the file in errors. Kept separate from the file reading so
/// tests and callers with in-memory data can use it, as [`super::idx::parse_idx_images`].
pub fn parse_cifar_batch(bytes: &[u8], source: &str) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    parse_batch(bytes, Path::new(source), &mut images, &mut labels)?;
    Ok((images, labels))
}

/// Reads and gunzips the batch files `<dir>/<name>[.gz]` in parallel, then joins them in order
/// into one 32x32x3 [`Dataset`].
pub(crate) fn load_files(dir: &Path, names: &[&str]) -> Result<Dataset, DataError> {
    let files = names
        .par_iter()
        .map(|name| {
            let (path, bytes) = read_maybe_gz(&dir.join(name), |_| None)?;
            check_batch(&bytes, &path)?;
            Ok((path, bytes))
        })
        .collect::<Result<Vec<_>, DataError>>()?;
    let total: usize = files.iter().map(|(_, b)| b.len() / RECORD).sum();
    let mut images = Vec::with_capacity(total * IMAGE);
    let mut labels = Vec::with_capacity(total);
    for (path, bytes) in &files {
        parse_batch(bytes, path, &mut images, &mut labels)?;
    }
    Ok(Dataset {
        images,
        labels,
        width: 32,
        height: 32,
        channels: 3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn batch(labels: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0u8; labels.len() * RECORD];
        for (i, &l) in labels.iter().enumerate() {
            bytes[i * RECORD] = l;
            bytes[i * RECORD + 1] = 100 + i as u8;
        }
        bytes
    }

    #[test]
    fn records_parse() {
        let (mut im, mut lb) = (Vec::new(), Vec::new());
        parse_batch(&batch(&[3, 9]), Path::new("b"), &mut im, &mut lb).unwrap();
        assert_eq!(lb, [3, 9]);
        assert_eq!((im.len(), im[0], im[IMAGE]), (2 * IMAGE, 100, 101));
    }

    #[test]
    fn lengths_not_a_multiple_of_3073_are_a_wrong_size() {
        let bytes = batch(&[1, 2]);
        for len in [0, 1, RECORD - 1, RECORD + 1, 2 * RECORD - 1, 2 * RECORD + 1] {
            let bytes = if len <= bytes.len() {
                bytes[..len].to_vec()
            } else {
                [&bytes[..], &[0]].concat()
            };
            let err = parse_batch(&bytes, Path::new("b"), &mut Vec::new(), &mut Vec::new());
            assert!(matches!(err, Err(DataError::WrongSize { .. })), "len {len}");
        }
    }

    #[test]
    fn labels_of_10_or_more_are_bad() {
        let err = parse_batch(
            &batch(&[4, 11]),
            Path::new("b"),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        assert!(matches!(
            err,
            Err(DataError::BadLabel {
                index: 1,
                label: 11,
                ..
            })
        ));
    }

    #[test]
    fn gzipped_and_raw_batches_load_in_order() {
        let dir = std::env::temp_dir().join(format!("plastic-cifar-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&batch(&[7, 8])).unwrap();
        std::fs::write(dir.join("data_batch_1.bin.gz"), gz.finish().unwrap()).unwrap();
        std::fs::write(dir.join("data_batch_2.bin"), batch(&[5])).unwrap();
        let d = load_files(&dir, &TRAIN_FILES[..2]).unwrap();
        assert_eq!(
            (d.len(), d.sample_len(), &d.labels[..]),
            (3, IMAGE, &[7, 8, 5][..])
        );
        assert_eq!(d.image(2)[0], 100);
        let err = load_files(&dir, &TRAIN_FILES).unwrap_err();
        assert!(matches!(err, DataError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("fetch --dataset cifar10"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }
}
