//! Dataset loaders: MNIST and Fashion-MNIST (IDX files), CIFAR-10 (binary batches), each file
//! raw or gzipped.
//!
//! Files are read whole, gunzipped when they start with the gzip magic, and checked against
//! their real length before anything is allocated from their headers, so a truncated or
//! hostile file is a [`DataError`] naming the file and the fix, never a panic or a huge
//! allocation.

pub mod cifar;
mod error;
pub mod idx;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use error::DataError;

/// Which dataset: picks the file layout, the image geometry and the class names.
///
/// A [`clap::ValueEnum`], so every command line that takes a dataset lists the names in its
/// `--help` and refuses an unknown one with the choices (exit code 2), spelled as
/// [`DatasetKind::parse`] spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetKind {
    /// MNIST handwritten digits, 28x28 gray: the reference benchmark of the plastic models.
    #[value(name = "mnist")]
    Mnist,
    /// Zalando's Fashion-MNIST clothes, 28x28 gray: same layout as MNIST, harder.
    #[value(
        name = "fashion-mnist",
        alias = "fashion_mnist",
        alias = "fashionmnist"
    )]
    FashionMnist,
    /// CIFAR-10 small natural images, 32x32 RGB: colour and real-world texture.
    #[value(name = "cifar10", alias = "cifar-10", alias = "cifar_10")]
    Cifar10,
}

impl DatasetKind {
    /// Parses a dataset name as the command line spells it (`mnist`, `fashion-mnist`,
    /// `cifar10`; also `fashion_mnist`, `cifar-10`; any case), so that flags and config files
    /// share one spelling; an unknown name is an error listing the valid ones.
    pub fn parse(name: &str) -> Result<Self, DataError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "mnist" => Ok(Self::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fashionmnist" => Ok(Self::FashionMnist),
            "cifar10" | "cifar-10" | "cifar_10" => Ok(Self::Cifar10),
            _ => Err(DataError::UnknownDataset(name.to_string())),
        }
    }

    /// The canonical name (`mnist`, `fashion-mnist`, `cifar10`), as written into checkpoints
    /// and reports so that [`DatasetKind::parse`] reads it back.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
            Self::Cifar10 => "cifar10",
        }
    }

    /// The dataset's folder name under the data folder (`<data>/<subdir>`), where
    /// [`shared_data_dir`] and `--data-dir` expect its files.
    pub fn subdir(self) -> &'static str {
        self.name()
    }

    /// The names of the 10 classes, indexed by label, for reports and demos.
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

    /// `(width, height, channels)` of one image, to size models before any file is read:
    /// `(28, 28, 1)` for the MNIST sets, `(32, 32, 3)` for CIFAR-10.
    pub fn geometry(self) -> (usize, usize, usize) {
        match self {
            Self::Mnist | Self::FashionMnist => (28, 28, 1),
            Self::Cifar10 => (32, 32, 3),
        }
    }
}

/// Images as raw bytes, one row of `width * height * channels` bytes per sample, so that
/// preprocessing can stream them without a decode step; colour images are channel-planar
/// (R plane, G plane, B plane), as CIFAR-10 stores them.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// All images, back to back: `len() * sample_len()` bytes.
    pub images: Vec<u8>,
    /// One label per image, each a class index below 10.
    pub labels: Vec<u8>,
    /// Image width in pixels.
    pub width: usize,
    /// Image height in pixels.
    pub height: usize,
    /// 1 (gray) or 3 (RGB, planar).
    pub channels: usize,
}

impl Dataset {
    /// Number of samples (one per label).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image: `width * height * channels`, the stride of [`Dataset::images`].
    pub fn sample_len(&self) -> usize {
        self.width * self.height * self.channels
    }

    /// The bytes of image `i`, without copying.
    ///
    /// # Panics
    /// If `i >= self.len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.sample_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// A copy of the first `n` samples (all of them if there are fewer), for quick runs and
    /// tests on a subset.
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

/// The training and the test set of one dataset, kept apart so that test accuracy is honest.
#[derive(Debug, Clone)]
pub struct Split {
    /// Training samples.
    pub train: Dataset,
    /// Test samples.
    pub test: Dataset,
}

/// Loads the train and test sets of `kind` from `dir`, the dataset's own folder (for example
/// `<data>/mnist`), so that callers get checked, ready-to-use bytes or a [`DataError`] saying
/// which file is wrong and how to fix it. Train and test are read in parallel.
pub fn load(kind: DatasetKind, dir: &Path) -> Result<Split, DataError> {
    let (train, test) = rayon::join(|| load_train(kind, dir), || load_test(kind, dir));
    Ok(Split {
        train: train?,
        test: test?,
    })
}

/// The training set of `kind` from `dir`.
fn load_train(kind: DatasetKind, dir: &Path) -> Result<Dataset, DataError> {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => idx::load_pair(dir, "train"),
        DatasetKind::Cifar10 => cifar::load_files(dir, &cifar::TRAIN_FILES),
    }
}

/// Loads only the test set of `kind` from `dir`, as [`load`] does: a test set on its own (a
/// device's recorded inputs, which have no training half) is enough to score a model, and
/// reading MNIST's 60,000 training images only to drop them costs most of an evaluation.
pub fn load_test(kind: DatasetKind, dir: &Path) -> Result<Dataset, DataError> {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => idx::load_pair(dir, "t10k"),
        DatasetKind::Cifar10 => cifar::load_files(dir, &[cifar::TEST_FILE]),
    }
}

/// The shared data folder, so that tests and tools find the datasets without flags:
/// `$PLASTIC_DATA` if set, else `../shared/data` relative to the current folder, else
/// `../../shared/data` (tests run from a crate's folder); `None` unless the folder exists.
/// A `PLASTIC_DATA` that is set but does not exist gives `None` rather than a silent fallback.
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

/// The folder holding `kind`'s files: `dir` (or [`shared_data_dir`] when `dir` is `None`) if
/// it is the dataset's folder itself, or `dir/<subdir>` when that exists. Lets `--data-dir`
/// name either the data folder or the dataset's own folder.
pub fn dataset_folder(kind: DatasetKind, dir: Option<&Path>) -> Result<PathBuf, DataError> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => shared_data_dir().ok_or(DataError::NoDataDir(kind.subdir()))?,
    };
    let nested = dir.join(kind.subdir());
    Ok(if nested.is_dir() { nested } else { dir })
}

/// Largest dataset file, raw or decoded, in bytes: the largest real one (a training set of
/// MNIST or CIFAR-10) is under 200 MB.
const MAX_FILE_BYTES: u64 = 1 << 30;

/// The most bytes one compressed byte of a deflate stream decodes to (258-byte matches coded
/// in about two bits each: 1032:1), rounded up.
const MAX_DEFLATE_RATIO: u64 = 1040;

/// Decoded bytes handed to a reader's `declared` function: enough for any header it parses.
const HEADER_PEEK: u64 = 64;

/// Reads `<base>.gz` if it exists, else `<base>`, and gunzips it if it starts with the gzip
/// magic; returns the path actually read and the decoded bytes. `declared` gives the size the
/// file's own header claims, from its first decoded bytes (`None`: no limit but
/// [`MAX_FILE_BYTES`]); decoding stops one byte past it (see [`gunzip_if_needed`]). Only a
/// regular file is read (a device or a FIFO is refused).
pub(crate) fn read_maybe_gz(
    base: &Path,
    declared: impl Fn(&[u8]) -> Option<u64>,
) -> Result<(PathBuf, Vec<u8>), DataError> {
    let mut gz = base.as_os_str().to_owned();
    gz.push(".gz");
    for path in [PathBuf::from(gz), base.to_path_buf()] {
        match plastic_runtime::input_file::read_regular_file(&path, MAX_FILE_BYTES) {
            Ok(raw) => {
                let bytes = gunzip_if_needed(&path, raw, &declared)?;
                return Ok((path, bytes));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(DataError::Io { path, source }),
        }
    }
    Err(DataError::Missing {
        path: base.to_path_buf(),
    })
}

/// Gunzips `bytes` when they start with the gzip magic `1f 8b` (the name does not matter);
/// returns them unchanged otherwise. Concatenated gzip members are all decoded, as `gunzip`
/// does.
///
/// Why decoding is capped: a 5 MB gzip bomb behind a valid IDX header grew to 2.1 GB before
/// its size was checked. Decoding stops one byte past what the header declares (`declared`,
/// given the first decoded bytes), so the caller's size check still sees a file too long, and
/// never past [`MAX_FILE_BYTES`].
pub(crate) fn gunzip_if_needed(
    path: &Path,
    bytes: Vec<u8>,
    declared: impl Fn(&[u8]) -> Option<u64>,
) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let bad = |e: std::io::Error| DataError::BadGzip {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut decoder = flate2::read::MultiGzDecoder::new(&bytes[..]);
    let mut out = Vec::new();
    (&mut decoder)
        .take(HEADER_PEEK)
        .read_to_end(&mut out)
        .map_err(bad)?;
    let cap = declared(&out).unwrap_or(MAX_FILE_BYTES).min(MAX_FILE_BYTES);
    // The gzip trailer holds the decoded size mod 2^32: a good hint, but the file may lie.
    // Deflate expands at most about 1032:1, so no more is reserved than the compressed bytes
    // could decode to: a 100-byte file claiming 4 GB reserved 1 GiB before decoding a byte.
    let trailer = bytes
        .len()
        .checked_sub(4)
        .and_then(|at| bytes.get(at..))
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64);
    let possible = (bytes.len() as u64).saturating_mul(MAX_DEFLATE_RATIO);
    out.reserve(trailer.min(cap + 1).min(possible) as usize);
    decoder
        .take((cap + 1).saturating_sub(out.len() as u64))
        .read_to_end(&mut out)
        .map_err(bad)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for kind in [
            DatasetKind::Mnist,
            DatasetKind::FashionMnist,
            DatasetKind::Cifar10,
        ] {
            assert_eq!(DatasetKind::parse(kind.name()).unwrap(), kind);
            assert_eq!(kind.subdir(), kind.name());
        }
        assert_eq!(
            DatasetKind::parse("fashion_mnist").unwrap(),
            DatasetKind::FashionMnist
        );
        assert_eq!(
            DatasetKind::parse("cifar-10").unwrap(),
            DatasetKind::Cifar10
        );
        let err = DatasetKind::parse("imagenet").unwrap_err();
        assert!(matches!(err, DataError::UnknownDataset(_)));
        let msg = err.to_string();
        assert!(msg.contains("mnist, fashion-mnist or cifar10"), "{msg}");
    }

    #[test]
    fn classes_and_geometry() {
        assert_eq!(DatasetKind::Mnist.classes()[7], "7");
        assert_eq!(DatasetKind::FashionMnist.classes()[9], "Ankle boot");
        assert_eq!(DatasetKind::Cifar10.classes()[3], "cat");
        assert_eq!(DatasetKind::FashionMnist.geometry(), (28, 28, 1));
        assert_eq!(DatasetKind::Cifar10.geometry(), (32, 32, 3));
    }

    #[test]
    fn take_and_image_slice_samples() {
        let d = Dataset {
            images: (0..12).collect(),
            labels: vec![1, 2, 3],
            width: 2,
            height: 2,
            channels: 1,
        };
        assert_eq!((d.len(), d.is_empty(), d.sample_len()), (3, false, 4));
        assert_eq!(d.image(1), [4, 5, 6, 7]);
        let t = d.take(2);
        assert_eq!((t.images.len(), &t.labels[..]), (8, &[1, 2][..]));
        assert_eq!(d.take(10).len(), 3);
        assert!(d.take(0).is_empty());
    }

    #[test]
    fn a_missing_folder_is_missing_and_names_the_files_tried() {
        for kind in [
            DatasetKind::Mnist,
            DatasetKind::FashionMnist,
            DatasetKind::Cifar10,
        ] {
            let err = load(kind, Path::new("/no/such/dir")).unwrap_err();
            assert!(matches!(err, DataError::Missing { .. }), "{err}");
            let msg = err.to_string();
            assert!(msg.contains(".gz and /no/such/dir/"), "{msg}");
            assert!(msg.contains("--data-dir"), "{msg}");
        }
    }

    fn real(kind: DatasetKind) -> Option<Split> {
        let Some(dir) = shared_data_dir() else {
            eprintln!("skipped: no shared data (set PLASTIC_DATA)");
            return None;
        };
        let started = std::time::Instant::now();
        let split = load(kind, &dir.join(kind.subdir())).unwrap();
        eprintln!("{} loaded in {:?}", kind.name(), started.elapsed());
        Some(split)
    }

    #[test]
    fn real_mnist_has_the_canonical_sizes_and_first_labels() {
        let Some(s) = real(DatasetKind::Mnist) else {
            return;
        };
        assert_eq!((s.train.len(), s.test.len()), (60_000, 10_000));
        for d in [&s.train, &s.test] {
            assert_eq!((d.width, d.height, d.channels), (28, 28, 1));
            assert_eq!(d.images.len(), d.len() * 784);
        }
        assert_eq!((s.train.labels[0], s.test.labels[0]), (5, 7));
    }

    #[test]
    fn real_fashion_mnist_loads() {
        let Some(s) = real(DatasetKind::FashionMnist) else {
            return;
        };
        assert_eq!((s.train.len(), s.test.len()), (60_000, 10_000));
        assert_eq!(s.test.sample_len(), 784);
    }

    #[test]
    fn real_cifar10_loads_with_balanced_test_classes() {
        let Some(s) = real(DatasetKind::Cifar10) else {
            return;
        };
        assert_eq!((s.train.len(), s.test.len()), (50_000, 10_000));
        for d in [&s.train, &s.test] {
            assert_eq!((d.width, d.height, d.channels), (32, 32, 3));
            assert_eq!(d.images.len(), d.len() * 3072);
        }
        // Records 0..1000 of each file are in canonical position.
        assert_eq!(s.train.labels[..10], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
        assert_eq!(s.test.labels[..10], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
        let mut counts = [0; 10];
        s.test.labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert_eq!(counts, [1000; 10]);
    }
}
