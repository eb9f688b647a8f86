//! Dataset loaders: MNIST and Fashion-MNIST (IDX), CIFAR-10 (binary batches), raw or gzipped.
//!
//! Files are read whole and checked before anything is allocated from their headers, so a
//! truncated or hostile file is a [`DataError`], never a panic or a huge allocation.

mod cifar;
mod error;
pub mod idx;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use error::DataError;

/// Which dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetKind {
    /// Handwritten digits, 28x28 gray.
    Mnist,
    /// Zalando's clothes, 28x28 gray.
    FashionMnist,
    /// Small natural images, 32x32 RGB.
    Cifar10,
}

impl DatasetKind {
    /// Parses a dataset name as the command line spells it.
    pub fn parse(name: &str) -> Result<Self, DataError> {
        match name.to_ascii_lowercase().as_str() {
            "mnist" => Ok(Self::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fashionmnist" => Ok(Self::FashionMnist),
            "cifar10" | "cifar-10" => Ok(Self::Cifar10),
            _ => Err(DataError::UnknownDataset(name.to_string())),
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
            Self::Cifar10 => "cifar10",
        }
    }

    /// The folder name under the data folder.
    pub fn subdir(self) -> &'static str {
        self.name()
    }

    /// Class names.
    pub fn classes(self) -> [&'static str; 10] {
        match self {
            Self::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Self::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
            Self::Cifar10 => [
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ],
        }
    }

    /// `(width, height, channels)` of an image.
    pub fn geometry(self) -> (usize, usize, usize) {
        match self {
            Self::Mnist | Self::FashionMnist => (28, 28, 1),
            Self::Cifar10 => (32, 32, 3),
        }
    }
}

/// Images as raw bytes, one row of `width * height * channels` per sample; colour images are
/// channel-planar (R plane, G plane, B plane), as CIFAR-10 stores them.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// All images, back to back.
    pub images: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
    /// Image width.
    pub width: usize,
    /// Image height.
    pub height: usize,
    /// 1 (gray) or 3 (RGB).
    pub channels: usize,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image.
    pub fn sample_len(&self) -> usize {
        self.width * self.height * self.channels
    }

    /// The bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.sample_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// The first `n` samples (all if fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            images: self.images[..n * self.sample_len()].to_vec(),
            labels: self.labels[..n].to_vec(),
            width: self.width,
            height: self.height,
            channels: self.channels,
        }
    }
}

/// A training and a test set.
#[derive(Debug, Clone)]
pub struct Split {
    /// Training samples.
    pub train: Dataset,
    /// Test samples.
    pub test: Dataset,
}

/// Loads the train and test sets of `kind` from `dir`, the dataset's own folder.
pub fn load(kind: DatasetKind, dir: &Path) -> Result<Split, DataError> {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => Ok(Split {
            train: idx::load_pair(dir, "train")?,
            test: idx::load_pair(dir, "t10k")?,
        }),
        DatasetKind::Cifar10 => cifar::load(dir),
    }
}

/// The shared data folder: `$PLASTIC_DATA`, else `../shared/data`, else `../../shared/data`
/// (tests run from a crate's folder), if it exists.
pub fn shared_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PLASTIC_DATA") {
        let dir = PathBuf::from(dir);
        return dir.is_dir().then_some(dir);
    }
    ["../shared/data", "../../shared/data"]
        .iter()
        .map(PathBuf::from)
        .find(|d| d.is_dir())
}

/// Reads `base.gz` (gunzipped) or `base`, whichever exists first.
pub(crate) fn read_maybe_gz(base: &Path) -> Result<(PathBuf, Vec<u8>), DataError> {
    let gz = PathBuf::from(format!("{}.gz", base.display()));
    let path = if gz.is_file() {
        gz
    } else if base.is_file() {
        base.to_path_buf()
    } else {
        return Err(DataError::Missing {
            path: base.to_path_buf(),
            tried: format!("{} and {}", gz.display(), base.display()),
        });
    };
    let raw = std::fs::read(&path).map_err(|source| DataError::Io {
        path: path.clone(),
        source,
    })?;
    Ok((path.clone(), gunzip_if_needed(&path, raw)?))
}

/// Gunzips `bytes` when they start with the gzip magic `1f 8b`.
pub(crate) fn gunzip_if_needed(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if bytes.len() < 2 || bytes[..2] != [0x1f, 0x8b] {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|e| DataError::BadGzip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_unknown_names_list_the_valid_ones() {
        assert_eq!(
            DatasetKind::parse("Fashion_MNIST").unwrap(),
            DatasetKind::FashionMnist
        );
        assert_eq!(
            DatasetKind::parse("cifar-10").unwrap(),
            DatasetKind::Cifar10
        );
        let err = DatasetKind::parse("imagenet").unwrap_err().to_string();
        assert!(err.contains("mnist, fashion-mnist or cifar10"), "{err}");
    }

    #[test]
    fn a_missing_folder_names_the_files_tried() {
        let err = load(DatasetKind::Mnist, Path::new("/no/such/dir")).unwrap_err();
        assert!(matches!(err, DataError::Missing { .. }));
        assert!(
            err.to_string().contains("train-images-idx3-ubyte.gz"),
            "{err}"
        );
    }

    fn real(kind: DatasetKind) -> Option<Split> {
        let Some(dir) = shared_data_dir() else {
            eprintln!("skipped: no shared data (set PLASTIC_DATA)");
            return None;
        };
        Some(load(kind, &dir.join(kind.subdir())).unwrap())
    }

    #[test]
    fn real_mnist_has_the_canonical_sizes_and_first_labels() {
        let Some(s) = real(DatasetKind::Mnist) else {
            return;
        };
        assert_eq!((s.train.len(), s.test.len()), (60_000, 10_000));
        assert_eq!(
            (s.train.width, s.train.height, s.train.channels),
            (28, 28, 1)
        );
        assert_eq!((s.train.labels[0], s.test.labels[0]), (5, 7));
    }

    #[test]
    fn real_fashion_mnist_loads() {
        let Some(s) = real(DatasetKind::FashionMnist) else {
            return;
        };
        assert_eq!((s.train.len(), s.test.len()), (60_000, 10_000));
    }

    #[test]
    fn real_cifar10_loads_with_balanced_test_classes() {
        let Some(s) = real(DatasetKind::Cifar10) else {
            return;
        };
        assert_eq!((s.train.len(), s.test.len()), (50_000, 10_000));
        assert_eq!(s.train.sample_len(), 3072);
        let mut counts = [0; 10];
        s.test.labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert_eq!(counts, [1000; 10]);
    }
}
