//! What each downloadable dataset file must hold: the length and SHA-256 of its contents
//! after gunzip.
//!
//! The digest is of the decompressed bytes, not of the `.gz` file, because mirrors pack the
//! same canonical files differently (a re-compressed copy of MNIST has other `.gz` bytes but
//! the same IDX bytes, and the loaders gunzip anyway). A file whose contents hash to the
//! value below is exactly the canonical file, whoever compressed it. The values are those of
//! the canonical IDX files (their MD5s match the ones the dataset authors publish).

use plastic_trainer::data::DatasetKind;

/// One file of a dataset, as it is stored under `<data-dir>/<dataset folder>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSum {
    /// The file name the loaders read and mirrors serve (`train-images-idx3-ubyte.gz`).
    pub name: &'static str,
    /// Length of the contents after gunzip, in bytes.
    pub len: u64,
    /// SHA-256 of the contents after gunzip, lower-case hex.
    pub sha256: &'static str,
}

const MNIST: [FileSum; 4] = [
    FileSum {
        name: "train-images-idx3-ubyte.gz",
        len: 47_040_016,
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    FileSum {
        name: "train-labels-idx1-ubyte.gz",
        len: 60_008,
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    FileSum {
        name: "t10k-images-idx3-ubyte.gz",
        len: 7_840_016,
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    FileSum {
        name: "t10k-labels-idx1-ubyte.gz",
        len: 10_008,
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

const FASHION_MNIST: [FileSum; 4] = [
    FileSum {
        name: "train-images-idx3-ubyte.gz",
        len: 47_040_016,
        sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    },
    FileSum {
        name: "train-labels-idx1-ubyte.gz",
        len: 60_008,
        sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
    FileSum {
        name: "t10k-images-idx3-ubyte.gz",
        len: 7_840_016,
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
    FileSum {
        name: "t10k-labels-idx1-ubyte.gz",
        len: 10_008,
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
];

/// A dataset published as one archive: the archive's own length and SHA-256 (of the
/// compressed bytes, as published), and the members to take out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveSum {
    /// The archive's file name on the mirrors.
    pub name: &'static str,
    /// Its length in bytes.
    pub len: u64,
    /// SHA-256 of the archive file, lower-case hex.
    pub sha256: &'static str,
    /// The folder inside the archive that holds the members.
    pub folder: &'static str,
    /// The members written to the dataset's folder, with their length.
    pub members: &'static [(&'static str, u64)],
}

/// CIFAR-10's binary release, `cifar-10-binary.tar.gz` (Krizhevsky; its published MD5 is
/// c32a1d4ab5d03f1284b67883e8d87530): six batches of 10,000 records of 3073 bytes.
pub const CIFAR10: ArchiveSum = ArchiveSum {
    name: "cifar-10-binary.tar.gz",
    len: 170_052_171,
    sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    folder: "cifar-10-batches-bin",
    members: &[
        ("data_batch_1.bin", 30_730_000),
        ("data_batch_2.bin", 30_730_000),
        ("data_batch_3.bin", 30_730_000),
        ("data_batch_4.bin", 30_730_000),
        ("data_batch_5.bin", 30_730_000),
        ("test_batch.bin", 30_730_000),
    ],
};

/// The files `plastic fetch` downloads one by one for `kind`; `None` for CIFAR-10, which
/// upstream publishes only as one archive ([`archive`]).
pub fn files(kind: DatasetKind) -> Option<&'static [FileSum]> {
    match kind {
        DatasetKind::Mnist => Some(&MNIST),
        DatasetKind::FashionMnist => Some(&FASHION_MNIST),
        DatasetKind::Cifar10 => None,
    }
}

/// The archive `plastic fetch` unpacks for `kind`, for datasets published as one.
pub fn archive(kind: DatasetKind) -> Option<&'static ArchiveSum> {
    match kind {
        DatasetKind::Cifar10 => Some(&CIFAR10),
        DatasetKind::Mnist | DatasetKind::FashionMnist => None,
    }
}

/// The entry for file `name` of `kind`, if `plastic fetch` knows it.
#[cfg(test)]
pub fn lookup(kind: DatasetKind, name: &str) -> Option<&'static FileSum> {
    files(kind)?.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_each_file_of_its_own_dataset() {
        let sum = lookup(DatasetKind::Mnist, "t10k-labels-idx1-ubyte.gz").unwrap();
        assert_eq!(sum.len, 10_008);
        assert!(sum.sha256.starts_with("ff7bcfd4"));
        let fashion = lookup(DatasetKind::FashionMnist, "t10k-labels-idx1-ubyte.gz").unwrap();
        assert_ne!(
            fashion.sha256, sum.sha256,
            "the two sets share names, not bytes"
        );
        assert_eq!(lookup(DatasetKind::Mnist, "t10k-labels-idx1-ubyte"), None);
        assert_eq!(lookup(DatasetKind::Mnist, "data_batch_1.bin.gz"), None);
        assert_eq!(lookup(DatasetKind::Cifar10, "data_batch_1.bin.gz"), None);
    }

    #[test]
    fn table_is_well_formed() {
        for kind in [DatasetKind::Mnist, DatasetKind::FashionMnist] {
            let files = files(kind).unwrap();
            assert_eq!(files.len(), 4);
            for f in files {
                assert_eq!(f.sha256.len(), 64, "{}", f.name);
                assert!(
                    f.sha256
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                    "{}",
                    f.name
                );
                // IDX: 8-byte labels header or 16-byte images header, then 28x28 bytes each.
                let samples = if f.name.contains("images") {
                    (f.len - 16) / 784
                } else {
                    f.len - 8
                };
                let expected = if f.name.starts_with("train") {
                    60_000
                } else {
                    10_000
                };
                assert_eq!(samples, expected, "{}", f.name);
            }
        }
        assert!(files(DatasetKind::Cifar10).is_none());
    }
}
