//! A model that keeps learning on the device: a [`PlasticLayer`] (Krotov-Hopfield, learning
//! from every frame without labels) feeding a readout that learns with the delta rule when a
//! label arrives.
//!
//! Inference reads the plastic layer's int8 copy (exact i32 sums) and the readout in f32 (it is
//! small: `classes x hidden`), so what the device runs is what it learns. [`AdaptiveModel::
//! checkpoint`] turns the current state back into a `plastic/1` checkpoint for persistence.

use alloc::vec;
use alloc::vec::Vec;
use plastic_models::{Activation, Checkpoint, LayerKind, LayerTensors, ModelSpec, Weights};

use crate::kernels::{self, Kernels};
use crate::learn::delta::{delta_update, one_hot};
use crate::learn::krotov::KrotovParams;
use crate::model::{apply_activation, predict};
use crate::plastic::{Guards, MasterPrecision, PlasticLayer, StepOutcome};
use crate::quant::{dequantize_rows, quantize_vector};
use crate::{Error, Prediction, Result};

/// A plastic layer and its readout, with every buffer preallocated.
#[derive(Debug, Clone)]
pub struct AdaptiveModel {
    spec: ModelSpec,
    plastic: PlasticLayer,
    readout: Vec<f32>,
    bias: Option<Vec<f32>>,
    xq: Vec<i8>,
    acc: Vec<i32>,
    hidden: Vec<f32>,
    outputs: Vec<f32>,
    targets: Vec<f32>,
    kernels: Kernels,
}

impl AdaptiveModel {
    /// Builds from a two-layer checkpoint whose first layer is a Krotov layer (f32 or int8).
    pub fn from_checkpoint(
        ckpt: &Checkpoint,
        precision: MasterPrecision,
        guards: Guards,
    ) -> Result<Self> {
        let not_adaptive = || {
            Error::Checkpoint(plastic_models::Error::InvalidSpec(
                "on-device learning needs a Krotov layer followed by one readout layer".into(),
            ))
        };
        let [first, second] = ckpt.spec.layers.as_slice() else {
            return Err(not_adaptive());
        };
        let LayerKind::Krotov { p, k, delta } = first.kind else {
            return Err(not_adaptive());
        };
        if second.conv.is_some() {
            return Err(not_adaptive());
        }
        let params = KrotovParams { p, k, delta };
        let plastic = match &ckpt.layers[0].weight {
            Weights::F32(w) => {
                PlasticLayer::new(w, first.outputs, first.inputs, params, precision, guards)?
            }
            Weights::Int8 { q, scale } => {
                PlasticLayer::from_int8(q, scale, first.inputs, params, precision, guards)?
            }
        };
        let readout = match &ckpt.layers[1].weight {
            Weights::F32(w) => w.clone(),
            Weights::Int8 { q, scale } => dequantize_rows(q, scale, second.inputs),
        };
        Ok(Self {
            spec: ckpt.spec.clone(),
            plastic,
            readout,
            bias: ckpt.layers[1].bias.clone(),
            xq: vec![0; first.inputs],
            acc: vec![0; first.outputs],
            hidden: vec![0.0; first.outputs],
            outputs: vec![0.0; second.outputs],
            targets: vec![0.0; second.outputs],
            kernels: kernels::best(),
        })
    }

    /// The spec the model was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The plastic layer (for its counters and memory).
    pub fn plastic(&self) -> &PlasticLayer {
        &self.plastic
    }

    /// Outputs of the readout after the latest [`AdaptiveModel::infer`].
    pub fn outputs(&self) -> &[f32] {
        &self.outputs
    }

    /// Bytes of weights held: the plastic layer's master and int8 copies plus the readout.
    pub fn memory_bytes(&self) -> usize {
        self.plastic.memory_bytes()
            + self.readout.len() * 4
            + self.bias.as_ref().map_or(0, |b| b.len() * 4)
    }

    /// Classifies a preprocessed input. Allocates nothing.
    pub fn infer(&mut self, v: &[f32]) -> Result<Prediction> {
        let (rows, cols) = self.plastic.shape();
        if v.len() != cols {
            return Err(Error::WrongLength {
                what: "model input",
                expected: cols,
                found: v.len(),
            });
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(Error::NonFiniteInput);
        }
        let sx = quantize_vector(v, &mut self.xq);
        let (q, scale) = self.plastic.int8();
        self.kernels.matvec_i8(q, &self.xq, &mut self.acc);
        for ((h, &a), &s) in self.hidden.iter_mut().zip(&self.acc).zip(scale) {
            *h = a as f32 * s * sx;
        }
        apply_activation(&self.spec.layers[0].activation, &mut self.hidden[..rows]);
        self.kernels
            .matvec_f32(&self.readout, &self.hidden, &mut self.outputs);
        if let Some(b) = &self.bias {
            self.outputs.iter_mut().zip(b).for_each(|(o, b)| *o += b);
        }
        let last = &self.spec.layers[1].activation;
        apply_activation(last, &mut self.outputs);
        Ok(predict(&self.outputs, Some(last)))
    }

    /// One unsupervised step of the plastic layer on `v`.
    pub fn adapt_unsupervised(&mut self, v: &[f32], eps: f32) -> Result<StepOutcome> {
        self.plastic.learn(v, eps)
    }

    /// One delta-rule step of the readout toward `label`, using the hidden activity and the
    /// outputs of the latest [`AdaptiveModel::infer`].
    pub fn adapt_label(&mut self, label: usize, eta: f32) -> Result<()> {
        if label >= self.outputs.len() {
            return Err(Error::WrongLength {
                what: "label",
                expected: self.outputs.len(),
                found: label,
            });
        }
        let (hi, lo) = match self.spec.layers[1].activation {
            Activation::Tanh { .. } => (1.0, -1.0),
            _ => (1.0, 0.0),
        };
        one_hot(label, hi, lo, &mut self.targets);
        delta_update(
            &mut self.readout,
            self.bias.as_deref_mut(),
            &self.hidden,
            &self.outputs,
            &self.targets,
            eta,
        )
    }

    /// One supervised step of the plastic layer on `v` toward `label` (see
    /// [`PlasticLayer::learn_supervised`]): the best-matching unit among those the readout
    /// reads as `label` (its largest weight from the unit is the label's) moves toward `v`,
    /// and the winner, if the readout reads it as another class, away from it.
    ///
    /// Why: a label through the delta rule alone only re-weighs units that already answer
    /// for `v`. After a camera shift those are often units of other classes, and the few labels
    /// a user gives cannot re-label enough of them. Moving a unit of the right class toward the
    /// new view makes it win such frames, and the unsupervised steps that follow refine it from
    /// unlabelled ones (learning vector quantization, Kohonen, in the Krotov rule's terms).
    pub fn adapt_label_plastic(
        &mut self,
        v: &[f32],
        label: usize,
        eps: f32,
    ) -> Result<StepOutcome> {
        let hidden = self.hidden.len();
        let classes = self.outputs.len();
        let readout = &self.readout;
        let class_of = |mu: usize| {
            (0..classes)
                .max_by(|&a, &b| readout[a * hidden + mu].total_cmp(&readout[b * hidden + mu]))
                .unwrap_or(0)
        };
        self.plastic
            .learn_supervised(v, eps, |mu| class_of(mu) == label)
    }

    /// The current state as an f32 checkpoint (the plastic layer from its master copy), with
    /// `train` and `metrics` as given.
    pub fn checkpoint(&self, train: serde_json::Value, metrics: serde_json::Value) -> Checkpoint {
        let (rows, cols) = self.plastic.shape();
        let mut w = vec![0.0f32; rows * cols];
        for (mu, row) in w.chunks_exact_mut(cols).enumerate() {
            self.plastic.master_row(mu, row);
        }
        Checkpoint {
            spec: self.spec.clone(),
            layers: vec![
                LayerTensors {
                    weight: Weights::F32(w),
                    bias: None,
                    feedback: None,
                },
                LayerTensors {
                    weight: Weights::F32(self.readout.clone()),
                    bias: self.bias.clone(),
                    feedback: None,
                },
            ],
            train,
            metrics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Model;

    fn default_model() -> (Checkpoint, AdaptiveModel) {
        let ckpt = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
        let m =
            AdaptiveModel::from_checkpoint(&ckpt, MasterPrecision::F16, Guards::default()).unwrap();
        (ckpt, m)
    }

    fn input(seed: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..784)
            .map(|i| {
                if (i * 7 + seed * 13).is_multiple_of(5) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    #[test]
    fn before_learning_it_answers_like_the_runtime_model() {
        let (ckpt, mut adaptive) = default_model();
        let model = Model::from_checkpoint(&ckpt).unwrap();
        let mut ws = model.workspace();
        for seed in 0..5 {
            let v = input(seed);
            let a = adaptive.infer(&v).unwrap();
            let b = model.infer(&v, &mut ws).unwrap();
            assert_eq!(a.class, b.class);
            // The readout is dequantized to f32 here, int8 in the model: close, not equal.
            for (x, y) in adaptive.outputs().iter().zip(ws.outputs(&model)) {
                assert!((x - y).abs() < 0.05, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn labels_move_the_readout_toward_the_label() {
        let (_, mut m) = default_model();
        let v = input(1);
        m.infer(&v).unwrap();
        let before = m.outputs()[3];
        for _ in 0..20 {
            m.infer(&v).unwrap();
            m.adapt_label(3, 0.05).unwrap();
        }
        m.infer(&v).unwrap();
        assert!(m.outputs()[3] > before, "{} <= {before}", m.outputs()[3]);
        assert_eq!(m.infer(&v).unwrap().class, 3);
        assert!(m.adapt_label(10, 0.1).is_err());
    }

    #[test]
    fn a_label_teaches_a_unit_that_the_readout_reads_as_that_label() {
        let (_, mut m) = default_model();
        let v = input(2);
        let predicted = m.infer(&v).unwrap().class;
        let label = (predicted + 1) % 10;
        let before = m.outputs()[label];
        let out = m.adapt_label_plastic(&v, label, 0.05).unwrap();
        let StepOutcome::Updated { winner: teacher } = out else {
            panic!("{out:?}");
        };
        // The readout's largest weight from the unit that learned is the label's.
        let hidden = m.plastic().shape().0;
        let column: Vec<f32> = (0..10).map(|c| m.readout[c * hidden + teacher]).collect();
        let read_as = (0..10).max_by(|&a, &b| column[a].total_cmp(&column[b]));
        assert_eq!(read_as, Some(label), "{column:?}");
        m.infer(&v).unwrap();
        assert!(
            m.outputs()[label] > before,
            "{} <= {before}",
            m.outputs()[label]
        );
        assert_eq!(
            m.adapt_label_plastic(&v, 10, 0.05).unwrap(),
            StepOutcome::Skipped
        );
    }

    #[test]
    fn unsupervised_steps_update_and_the_state_round_trips_as_a_checkpoint() {
        let (_, mut m) = default_model();
        for seed in 0..10 {
            let out = m.adapt_unsupervised(&input(seed), 0.02).unwrap();
            assert!(matches!(out, StepOutcome::Updated { .. }), "{out:?}");
        }
        assert_eq!(m.plastic().stats().updates, 10);
        let ckpt = m.checkpoint(serde_json::Value::Null, serde_json::Value::Null);
        let bytes = ckpt.to_bytes().unwrap();
        let back = AdaptiveModel::from_checkpoint(
            &Checkpoint::from_bytes(&bytes).unwrap(),
            MasterPrecision::F32,
            Guards::default(),
        )
        .unwrap();
        let (mut r1, mut r2) = ([0.0; 784], [0.0; 784]);
        m.plastic().master_row(5, &mut r1);
        back.plastic().master_row(5, &mut r2);
        assert_eq!(r1, r2);
    }
}
