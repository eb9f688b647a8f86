//! CIFAR-10 binary batches: records of 1 label byte and 3072 pixel bytes (1024 R, 1024 G,
//! 1024 B), 10000 per file; `data_batch_1..5.bin` for training, `test_batch.bin` for test.

use std::path::Path;

use super::{DataError, Dataset, Split, read_maybe_gz};

const RECORD: usize = 1 + 3072;

/// Parses the records of one batch file into `images` and `labels`.
pub fn parse_batch(
    bytes: &[u8],
    path: &Path,
    images: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<(), DataError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::WrongSize {
            path: path.to_path_buf(),
            what: format!(
                "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records",
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
        labels.push(record[0]);
        images.extend_from_slice(&record[1..]);
    }
    Ok(())
}

fn load_files(dir: &Path, names: &[&str]) -> Result<Dataset, DataError> {
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for name in names {
        let (path, bytes) = read_maybe_gz(&dir.join(name))?;
        parse_batch(&bytes, &path, &mut images, &mut labels)?;
    }
    Ok(Dataset {
        images,
        labels,
        width: 32,
        height: 32,
        channels: 3,
    })
}

/// Loads the five training batches and the test batch.
pub fn load(dir: &Path) -> Result<Split, DataError> {
    let train = [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
    ];
    Ok(Split {
        train: load_files(dir, &train)?,
        test: load_files(dir, &["test_batch.bin"])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_and_partial_records_are_refused() {
        let mut bytes = vec![0u8; 2 * RECORD];
        bytes[0] = 3;
        bytes[RECORD] = 9;
        bytes[RECORD + 1] = 200;
        let (mut im, mut lb) = (Vec::new(), Vec::new());
        parse_batch(&bytes, Path::new("b"), &mut im, &mut lb).unwrap();
        assert_eq!(lb, [3, 9]);
        assert_eq!((im.len(), im[3072]), (6144, 200));
        let err = parse_batch(&bytes[..RECORD + 5], Path::new("b"), &mut im, &mut lb);
        assert!(matches!(err, Err(DataError::WrongSize { .. })));
        bytes[0] = 11;
        let err = parse_batch(&bytes, Path::new("b"), &mut im, &mut lb);
        assert!(matches!(
            err,
            Err(DataError::BadLabel {
                index: 0,
                label: 11,
                ..
            })
        ));
    }
}
