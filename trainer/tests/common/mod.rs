//! Helpers shared by the trainer's integration tests: real MNIST (skipping without the shared
//! data folder) and the accuracy the runtime gets from a checkpoint.
#![allow(dead_code)] // each test file uses a different subset

use plastic_runtime::Model;
use plastic_trainer::data::{self, Dataset, DatasetKind, Split};
use plastic_trainer::features::runtime_correct_count;

/// All of MNIST, or `None` (with a message) without the shared data folder.
pub fn mnist() -> Option<Split> {
    let Some(dir) = data::shared_data_dir() else {
        eprintln!("skipped: no shared data (set PLASTIC_DATA)");
        return None;
    };
    Some(data::load(DatasetKind::Mnist, &dir.join("mnist")).expect("MNIST loads"))
}

/// The first `train` training and `test` test digits of MNIST.
pub fn mnist_slice(train: usize, test: usize) -> Option<Split> {
    let split = mnist()?;
    Some(Split {
        train: split.train.take(train),
        test: split.test.take(test),
    })
}

/// Test accuracy of the checkpoint `bytes` as the runtime computes it.
pub fn runtime_accuracy(bytes: &[u8], test: &Dataset) -> f64 {
    let model = Model::from_bytes(bytes).unwrap();
    runtime_correct_count(&model, test).unwrap() as f64 / test.len() as f64
}
