//! A model that keeps learning on the device: a [`PlasticLayer`] (Krotov-Hopfield, learning
//! from every frame without labels) feeding a readout that learns with the delta rule when a
//! label arrives.
//!
//! Inference reads the plastic layer's int8 copy (exact i32 sums) and the readout in f32 (it is
//! small: `classes x hidden`), so what the device runs is what it learns. [`AdaptiveModel::
//! checkpoint`] turns the current state back into a `plastic/1` checkpoint for persistence;
//! what is learned besides the weights (the hidden code's running means, which units the frames
//! still use) goes into its `train` metadata under `on_device` and comes back with it.

use alloc::vec;
use alloc::vec::Vec;
use plastic_models::{Activation, Checkpoint, LayerKind, LayerTensors, ModelSpec, Weights};

use crate::align::{DEFAULT_CALIBRATION_FRAMES, DEFAULT_HORIZON_FRAMES, HiddenAlignment};
use crate::kernels::{self, Kernels};
use crate::learn::delta::{delta_update, one_hot};
use crate::learn::krotov::KrotovParams;
use crate::model::{apply_activation, predict};
use crate::plastic::{Guards, MasterPrecision, PlasticLayer, StepOutcome};
use crate::quant::{dequantize_rows, quantize_vector};
use crate::usage::UnitUsage;
use crate::{Error, Prediction, Result};

/// Key of the on-device state in a checkpoint's `train` metadata.
const ON_DEVICE: &str = "on_device";

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
    /// Lebesgue exponent of the plastic layer (a recruited unit's row has p-norm 1).
    p: f32,
    /// A recruited unit's row, before it is stored.
    row: Vec<f32>,
    usage: UnitUsage,
    /// The hidden code's running means (restored from a state, or since
    /// [`AdaptiveModel::enable_alignment`]).
    alignment: Option<HiddenAlignment>,
    /// Whether inference corrects the hidden code (see [`HiddenAlignment`]).
    aligning: bool,
    recruited: u64,
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
        let saved = &ckpt.train[ON_DEVICE];
        let units = first.outputs;
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
            p,
            row: vec![0.0; first.inputs],
            usage: UnitUsage::from_json(&saved["usage"], units)
                .unwrap_or_else(|| UnitUsage::new(units)),
            alignment: HiddenAlignment::from_json(
                &saved["alignment"],
                units,
                DEFAULT_CALIBRATION_FRAMES,
                DEFAULT_HORIZON_FRAMES,
            ),
            aligning: false,
            recruited: saved["recruited_units"].as_u64().unwrap_or(0),
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

    /// Bytes of weights held: the plastic layer's master and int8 copies plus the readout,
    /// and the on-device statistics (running means, unit usage).
    pub fn memory_bytes(&self) -> usize {
        let units = self.hidden.len();
        self.plastic.memory_bytes()
            + self.readout.len() * 4
            + self.bias.as_ref().map_or(0, |b| b.len() * 4)
            + units * 16 // running means (f32) and usage (u64)
            + self.row.len() * 4
    }

    /// From now on, inference corrects the hidden code for the camera's drift (see
    /// [`HiddenAlignment`]): the reference is the mean code of the first `calibration`
    /// frames, the recent mean spans `horizon` frames. Statistics restored from a state go
    /// on; otherwise they start now. A frozen device never calls this, so that it answers
    /// exactly as the shipped checkpoint does.
    pub fn enable_alignment(&mut self, calibration: u64, horizon: u32) {
        let units = self.hidden.len();
        self.alignment = Some(match self.alignment.take() {
            Some(restored) => restored.with_schedule(calibration, horizon),
            None => HiddenAlignment::new(units, calibration, horizon),
        });
        self.aligning = true;
    }

    /// The hidden code's running means, when inference corrects the code.
    pub fn alignment(&self) -> Option<&HiddenAlignment> {
        self.alignment.as_ref().filter(|_| self.aligning)
    }

    /// Units recruited by labels so far (see [`AdaptiveModel::recruit`]), over the state's
    /// whole life.
    pub fn recruited_units(&self) -> u64 {
        self.recruited
    }

    /// Classifies a preprocessed input. Allocates nothing. With alignment on, the frame's
    /// hidden code also enters the running means before it is corrected.
    pub fn infer(&mut self, v: &[f32]) -> Result<Prediction> {
        self.forward(v, true)
    }

    /// [`AdaptiveModel::infer`]; `observe` says whether the code enters the running means (not
    /// when the same frame is run again after a recruitment).
    fn forward(&mut self, v: &[f32], observe: bool) -> Result<Prediction> {
        let rows = self.check_input(v)?;
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
        if let Some(alignment) = self.alignment.as_mut().filter(|_| self.aligning) {
            if observe {
                alignment.observe(&self.hidden);
            }
            alignment.apply(&mut self.hidden);
        }
        self.kernels
            .matvec_f32(&self.readout, &self.hidden, &mut self.outputs);
        if let Some(b) = &self.bias {
            self.outputs.iter_mut().zip(b).for_each(|(o, b)| *o += b);
        }
        let last = &self.spec.layers[1].activation;
        apply_activation(last, &mut self.outputs);
        Ok(predict(&self.outputs, Some(last)))
    }

    /// Checks that `v` is as wide as the plastic layer's input; returns the layer's units.
    fn check_input(&self, v: &[f32]) -> Result<usize> {
        let (rows, cols) = self.plastic.shape();
        if v.len() != cols {
            return Err(Error::WrongLength {
                what: "model input",
                expected: cols,
                found: v.len(),
            });
        }
        Ok(rows)
    }

    /// Checks that `label` names one of the readout's classes; returns the number of classes.
    fn check_label(&self, label: usize) -> Result<usize> {
        let classes = self.outputs.len();
        if label >= classes {
            return Err(Error::WrongLength {
                what: "label",
                expected: classes,
                found: label,
            });
        }
        Ok(classes)
    }

    /// One unsupervised step of the plastic layer on `v`; the winner counts as used.
    pub fn adapt_unsupervised(&mut self, v: &[f32], eps: f32) -> Result<StepOutcome> {
        let outcome = self.plastic.learn(v, eps)?;
        if let StepOutcome::Updated { winner } = outcome {
            self.usage.record(winner);
        }
        Ok(outcome)
    }

    /// When the latest [`AdaptiveModel::infer`] on `v` answered something else than `label`,
    /// recruits a unit for `v`: the unit that has gone longest without winning a frame gets
    /// `v` scaled to p-norm 1 as its weights, and a readout column that reads it as `label`
    /// alone, with the weight the label's strongest unit on `v` has. Returns the unit; `None`
    /// when the answer was right (or no unit is read as `label`, or the row was refused).
    /// The frame is run again, so the label steps that follow see the new unit.
    ///
    /// Why: after a camera change the Krotov units move toward the new view a small step per
    /// frame, and a label only nudges one of them, so a few labels win back little (a quarter
    /// to a third of what the change cost on `mnist-drift`). A missed, labelled frame is the
    /// best prototype of what the model lacks, and the idle units (most of the demo model's,
    /// through this camera) cost nothing to give up; the unsupervised steps that follow pull
    /// the new unit to the centre of the frames it wins. Growing prototypes where the
    /// classifier errs is what incremental LVQ and ART networks do.
    pub fn recruit(&mut self, v: &[f32], label: usize) -> Result<Option<usize>> {
        let classes = self.check_label(label)?;
        let rows = self.check_input(v)?;
        let last = &self.spec.layers[1].activation;
        if predict(&self.outputs, Some(last)).class == label {
            return Ok(None);
        }
        let readout = &self.readout;
        let strongest = (0..rows)
            .filter(|&mu| readout_class(readout, rows, classes, mu) == label)
            .max_by(|&a, &b| self.hidden[a].total_cmp(&self.hidden[b]));
        let (Some(strongest), Some(unit)) = (strongest, self.usage.least_recent()) else {
            return Ok(None);
        };
        let weight = readout[label * rows + strongest];
        let p = self.p;
        let norm = libm::powf(v.iter().map(|&x| libm::powf(x.abs(), p)).sum(), 1.0 / p);
        if !(norm > 0.0 && norm.is_finite()) {
            return Ok(None);
        }
        for (w, &x) in self.row.iter_mut().zip(v) {
            *w = x / norm;
        }
        if self.plastic.replace_row(unit, &self.row)? == StepOutcome::RolledBack {
            return Ok(None);
        }
        for c in 0..classes {
            self.readout[c * rows + unit] = if c == label { weight } else { 0.0 };
        }
        self.usage.mark(unit);
        self.recruited += 1;
        self.forward(v, false)?;
        Ok(Some(unit))
    }

    /// One delta-rule step of the readout toward `label`, using the hidden activity and the
    /// outputs of the latest [`AdaptiveModel::infer`].
    pub fn adapt_label(&mut self, label: usize, eta: f32) -> Result<()> {
        self.check_label(label)?;
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
        self.plastic.learn_supervised(v, eps, |mu| {
            readout_class(readout, hidden, classes, mu) == label
        })
    }

    /// The current state as an f32 checkpoint (the plastic layer from its master copy), with
    /// `train` and `metrics` as given and the on-device statistics added to `train` (an
    /// object; any other value is replaced by one).
    pub fn checkpoint(
        &self,
        mut train: serde_json::Value,
        metrics: serde_json::Value,
    ) -> Checkpoint {
        if !train.is_object() {
            train = serde_json::Value::Object(serde_json::Map::new());
        }
        train[ON_DEVICE] = serde_json::json!({
            "usage": self.usage.to_json(),
            "alignment": self.alignment.as_ref().map(HiddenAlignment::to_json),
            "recruited_units": self.recruited,
        });
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

/// The class whose readout weight from unit `mu` is largest: what the readout reads the unit as.
fn readout_class(readout: &[f32], hidden: usize, classes: usize, mu: usize) -> usize {
    (0..classes)
        .max_by(|&a, &b| readout[a * hidden + mu].total_cmp(&readout[b * hidden + mu]))
        .unwrap_or(0)
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

    #[test]
    fn a_wrong_answer_recruits_the_idle_unit_as_a_prototype_of_the_label() {
        let (_, mut m) = default_model();
        let mut won = Vec::new();
        for seed in 10..20 {
            m.infer(&input(seed)).unwrap();
            if let StepOutcome::Updated { winner } =
                m.adapt_unsupervised(&input(seed), 0.02).unwrap()
            {
                won.push(winner);
            }
        }
        let idle = (0..400).find(|mu| !won.contains(mu)).unwrap();

        let v = input(3);
        let predicted = m.infer(&v).unwrap().class;
        let label = (predicted + 1) % 10;
        let before = m.outputs()[label];
        assert_eq!(m.recruit(&v, label).unwrap(), Some(idle));
        assert_eq!(m.recruited_units(), 1);

        // Its weights are the frame at p-norm 1 (p = 3; f16 master).
        let norm = v.iter().map(|x| x.abs().powi(3)).sum::<f32>().cbrt();
        let mut row = [0.0; 784];
        m.plastic().master_row(idle, &mut row);
        for (w, x) in row.iter().zip(&v) {
            assert!((w - x / norm).abs() < 2e-3, "{w} vs {}", x / norm);
        }
        // The readout reads it as the label alone.
        let column: Vec<f32> = (0..10).map(|c| m.readout[c * 400 + idle]).collect();
        for (c, &w) in column.iter().enumerate() {
            assert_eq!(w > 0.0, c == label, "{column:?}");
            assert!(c == label || w == 0.0, "{column:?}");
        }
        assert!(
            m.outputs()[label] > before,
            "{} <= {before}",
            m.outputs()[label]
        );

        // A right answer recruits nothing; a label out of range is an error.
        let w = input(4);
        let right = m.infer(&w).unwrap().class;
        assert_eq!(m.recruit(&w, right).unwrap(), None);
        assert!(m.recruit(&w, 10).is_err());
        assert_eq!(m.recruited_units(), 1);
    }

    #[test]
    fn with_one_calibration_frame_and_a_horizon_of_one_every_frame_reads_as_the_first() {
        // Reference = code of frame 1, recent = code of the current frame: the correction
        // `reference - recent` turns every code into frame 1's.
        let (_, mut plain) = default_model();
        let (_, mut aligned) = default_model();
        plain.infer(&input(1)).unwrap();
        let first = plain.outputs().to_vec();
        plain.infer(&input(2)).unwrap();
        assert_ne!(plain.outputs(), &first[..], "two different frames");

        aligned.enable_alignment(1, 1);
        aligned.infer(&input(1)).unwrap();
        aligned.infer(&input(2)).unwrap();
        for (a, b) in aligned.outputs().iter().zip(&first) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn recruits_and_running_means_come_back_from_a_checkpoint() {
        let (_, mut m) = default_model();
        m.enable_alignment(2, 3);
        for seed in 0..5 {
            m.infer(&input(seed)).unwrap();
            m.adapt_unsupervised(&input(seed), 0.02).unwrap();
        }
        let v = input(7);
        let label = (m.infer(&v).unwrap().class + 1) % 10;
        let unit = m.recruit(&v, label).unwrap();
        assert!(unit.is_some());

        let ckpt = m.checkpoint(
            serde_json::json!({"frames_seen": 6}),
            serde_json::Value::Null,
        );
        assert_eq!(ckpt.train["frames_seen"], 6);
        let bytes = ckpt.to_bytes().unwrap();
        let mut back = AdaptiveModel::from_checkpoint(
            &Checkpoint::from_bytes(&bytes).unwrap(),
            MasterPrecision::F16,
            Guards::default(),
        )
        .unwrap();
        assert_eq!(back.alignment(), None, "off until enabled");
        back.enable_alignment(2, 3);
        assert_eq!(back.alignment(), m.alignment());
        assert_eq!(back.usage, m.usage);
        assert_eq!(back.recruited_units(), 1);
        let w = input(9);
        m.infer(&w).unwrap();
        back.infer(&w).unwrap();
        for (a, b) in m.outputs().iter().zip(back.outputs()) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }

        // A damaged record starts afresh instead of refusing the weights.
        let mut damaged = ckpt.clone();
        damaged.train["on_device"]["usage"]["last_win"] = serde_json::json!([1, 2]);
        damaged.train["on_device"]["alignment"]["recent"] = serde_json::json!("x");
        let fresh =
            AdaptiveModel::from_checkpoint(&damaged, MasterPrecision::F16, Guards::default())
                .unwrap();
        assert_eq!(fresh.usage, UnitUsage::new(400));
        assert!(fresh.alignment.is_none());
    }
}
