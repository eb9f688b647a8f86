//! Which dataset a checkpoint is tested on: the one its provenance records (`train.dataset`,
//! written by `plastic-train`), unless the command line names another. Testing a
//! Fashion-MNIST model on MNIST digits gives a number that looks like a result and is not one,
//! so the recorded dataset is the default and overriding it is said aloud.

use std::path::Path;

use plastic_models::Checkpoint;
use plastic_runtime::Model;
use plastic_trainer::data::{self, Dataset, DatasetKind};
use plastic_trainer::features::runtime_correct_count;

/// The dataset to use and, when the choice deserves a word on stderr, that word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The dataset to test on.
    pub kind: DatasetKind,
    /// A warning or note for stderr (an override that disagrees with the provenance, a guess
    /// for a checkpoint that records nothing).
    pub note: Option<String>,
}

/// The training dataset `ckpt` records, if any; an error when it records one this build does
/// not know.
pub fn recorded(ckpt: &Checkpoint) -> anyhow::Result<Option<DatasetKind>> {
    match ckpt.train.get("dataset").and_then(|d| d.as_str()) {
        None => Ok(None),
        Some(name) => DatasetKind::parse(name).map(Some).map_err(|e| {
            anyhow::anyhow!("the checkpoint records training dataset `{name}`: {e}; pass --dataset")
        }),
    }
}

/// `flag` (the `--dataset` value) if given, else the recorded dataset, else the dataset whose
/// images have the model's input geometry (MNIST for 28x28 gray, CIFAR-10 for 32x32 RGB).
pub fn choose(ckpt: &Checkpoint, flag: Option<DatasetKind>) -> anyhow::Result<Choice> {
    let recorded = recorded(ckpt);
    if let Some(kind) = flag {
        let note = match recorded {
            Ok(Some(trained)) if trained != kind => Some(format!(
                "warning: the model was trained on {}, evaluating on {} as --dataset says",
                trained.name(),
                kind.name()
            )),
            _ => None,
        };
        return Ok(Choice { kind, note });
    }
    if let Some(kind) = recorded? {
        return Ok(Choice { kind, note: None });
    }
    let input = &ckpt.spec.input;
    let geometry = (input.width, input.height, input.channels);
    let kind = [DatasetKind::Mnist, DatasetKind::Cifar10]
        .into_iter()
        .find(|k| k.geometry() == geometry)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the checkpoint records no training dataset and no dataset has its {}x{}x{} \
                 images; pass --dataset",
                geometry.0,
                geometry.1,
                geometry.2
            )
        })?;
    Ok(Choice {
        kind,
        note: Some(format!(
            "note: the checkpoint records no training dataset; evaluating on {} (its image \
             size), pass --dataset to choose",
            kind.name()
        )),
    })
}

/// What the runtime scores on a test set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Test samples answered right.
    pub correct: usize,
    /// Test samples seen.
    pub samples: usize,
}

impl Score {
    /// `correct / samples` (0 on an empty set).
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.samples.max(1) as f64
    }
}

/// The first `limit` (all without one) test samples of `kind`, read from `data_dir` (or the
/// default data folder), after checking that their images fit `model`.
pub fn test_set(
    model: &Model,
    kind: DatasetKind,
    data_dir: Option<&Path>,
    limit: Option<usize>,
) -> anyhow::Result<Dataset> {
    check_geometry(model, kind)?;
    let test = data::load_test(kind, &data::dataset_folder(kind, data_dir)?)?;
    Ok(match limit {
        Some(limit) => test.take(limit),
        None => test,
    })
}

/// The first `limit` training samples of `kind`, as [`test_set`] reads the test samples.
pub fn train_set(
    model: &Model,
    kind: DatasetKind,
    data_dir: Option<&Path>,
    limit: usize,
) -> anyhow::Result<Dataset> {
    Ok(split(model, kind, data_dir)?.train.take(limit))
}

/// `kind`'s training and test samples, after checking that their images fit `model`.
fn split(model: &Model, kind: DatasetKind, data_dir: Option<&Path>) -> anyhow::Result<data::Split> {
    check_geometry(model, kind)?;
    Ok(data::load(kind, &data::dataset_folder(kind, data_dir)?)?)
}

/// Refuses a dataset whose images do not fit `model`'s input.
fn check_geometry(model: &Model, kind: DatasetKind) -> anyhow::Result<()> {
    let (w, h, c) = kind.geometry();
    if w * h * c != model.spec().input_len() {
        anyhow::bail!(
            "the model takes {} inputs but {} images have {}; pass --dataset",
            model.spec().input_len(),
            kind.name(),
            w * h * c
        );
    }
    Ok(())
}

/// What `model` scores on `test` as the device computes it: raw bytes through the spec's
/// preprocessing, in the model's precision.
pub fn score(model: &Model, test: &Dataset) -> anyhow::Result<Score> {
    Ok(Score {
        correct: runtime_correct_count(model, test)?,
        samples: test.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use plastic_models::{
        Activation, InputSpec, LayerKind, LayerSpec, LayerTensors, ModelSpec, Preprocess, Weights,
    };

    fn checkpoint(train: serde_json::Value, side: usize, channels: usize) -> Checkpoint {
        let n = side * side * channels;
        Checkpoint {
            spec: ModelSpec {
                name: "t".into(),
                input: InputSpec {
                    width: side,
                    height: side,
                    channels,
                    preprocess: Preprocess::Scale01,
                },
                layers: vec![LayerSpec {
                    kind: LayerKind::Dense,
                    inputs: n,
                    outputs: 2,
                    bias: false,
                    activation: Activation::Identity,
                    conv: None,
                }],
                classes: vec![],
            },
            layers: vec![LayerTensors {
                weight: Weights::F32(vec![0.0; 2 * n]),
                bias: None,
                feedback: None,
            }],
            train,
            metrics: serde_json::Value::Null,
        }
    }

    #[test]
    fn the_recorded_dataset_is_the_default() {
        let fashion = checkpoint(serde_json::json!({"dataset": "fashion-mnist"}), 28, 1);
        let choice = choose(&fashion, None).unwrap();
        assert_eq!(choice.kind, DatasetKind::FashionMnist);
        assert_eq!(choice.note, None);
    }

    #[test]
    fn an_override_that_disagrees_is_warned_about() {
        let fashion = checkpoint(serde_json::json!({"dataset": "fashion-mnist"}), 28, 1);
        let choice = choose(&fashion, Some(DatasetKind::Mnist)).unwrap();
        assert_eq!(choice.kind, DatasetKind::Mnist);
        let note = choice.note.unwrap();
        assert!(
            note.contains("trained on fashion-mnist, evaluating on mnist"),
            "{note}"
        );
        // Naming the recorded dataset itself is no news.
        assert_eq!(
            choose(&fashion, Some(DatasetKind::FashionMnist))
                .unwrap()
                .note,
            None
        );
    }

    #[test]
    fn without_a_record_the_image_size_decides_and_says_so() {
        let bare = checkpoint(serde_json::Value::Null, 32, 3);
        let choice = choose(&bare, None).unwrap();
        assert_eq!(choice.kind, DatasetKind::Cifar10);
        assert!(choice.note.unwrap().contains("records no training dataset"));
        let odd = checkpoint(serde_json::Value::Null, 5, 1);
        assert!(
            choose(&odd, None)
                .unwrap_err()
                .to_string()
                .contains("pass --dataset")
        );
    }

    #[test]
    fn an_unknown_recorded_dataset_is_an_error_unless_overridden() {
        let svhn = checkpoint(serde_json::json!({"dataset": "svhn"}), 32, 3);
        let err = choose(&svhn, None).unwrap_err().to_string();
        assert!(
            err.contains("`svhn`") && err.contains("pass --dataset"),
            "{err}"
        );
        assert_eq!(
            choose(&svhn, Some(DatasetKind::Cifar10)).unwrap().kind,
            DatasetKind::Cifar10
        );
    }
}
