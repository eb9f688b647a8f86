//! A model that keeps learning on the device: a [`PlasticLayer`] (Krotov-Hopfield, learning
//! from every frame without labels) feeding a readout that learns with the delta rule when a
//! label arrives.
//!
//! Inference reads the plastic layer's int8 copy (exact i32 sums) and the readout in f32 (it is
//! small: `classes x hidden`), so what the device runs is what it learns. [`AdaptiveModel::
//! checkpoint`] turns the current state back into a `plastic/1` checkpoint for persistence;
//! what is learned besides the weights (the hidden code's running means, which units the frames
//! still use) goes into its `train` metadata under `on_device` and comes back with it.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use plastic_models::{Activation, Checkpoint, LayerKind, LayerTensors, ModelSpec, Weights};

use crate::align::{DEFAULT_CALIBRATION_FRAMES, DEFAULT_HORIZON_FRAMES, HiddenAlignment};
use crate::balance::LabelBalance;
use crate::digit_align::{DEFAULT_DIGIT_HORIZON_FRAMES, DigitAlignment};
use crate::digit_view::DigitView;
use crate::digit_warp::Warp;
use crate::guard::{Answer, Arbiter, Guard, GuardStats, Judgement};
use crate::kernels::{self, Kernels};
use crate::learn::delta::{delta_update, one_hot};
use crate::learn::krotov::KrotovParams;
use crate::model::{apply_activation, predict};
use crate::orientation::{Orientation, OrientationFinder, OrientationReport};
use crate::plastic::{Guards, MasterPrecision, PlasticLayer, StepOutcome};
use crate::policy::LearningPolicy;
use crate::quant::{dequantize_rows, quantize_vector};
use crate::usage::UnitUsage;
use crate::{Error, Model, Prediction, Result};

/// Key of the on-device state in a checkpoint's `train` metadata.
pub const ON_DEVICE: &str = "on_device";

/// `train` (made an object if it is not one) with `state` under [`ON_DEVICE`]: what a learning
/// model writes into its state checkpoint.
pub(crate) fn with_on_device(
    mut train: serde_json::Value,
    state: serde_json::Value,
) -> serde_json::Value {
    if !train.is_object() {
        train = serde_json::Value::Object(serde_json::Map::new());
    }
    train[ON_DEVICE] = state;
    train
}

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
    /// The latest hidden code before the correction (what the running means take in).
    raw_hidden: Vec<f32>,
    recruited: u64,
    /// The shipped model beside the adapted one, and who decides whose answer counts.
    anchor: Option<Box<Anchor>>,
    /// The classes' shares of the recent labels, which weigh each label step.
    balance: LabelBalance,
    /// The guard saved in the state this model was built from (`Null` if none), taken back by
    /// [`AdaptiveModel::enable_guard`].
    saved_guard: serde_json::Value,
    /// The digit warp (see [`DigitView`]), on once
    /// [`AdaptiveModel::enable_digit_alignment`] has been called.
    view: DigitView,
    /// The anchor's input when it differs from the adapted model's (a warped digit).
    anchor_xq: Vec<i8>,
}

/// The rates of the steps a label brings (see [`AdaptiveModel::learn_label`]); the default is
/// the measured one (see [`crate::policy`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelRates {
    /// The readout's delta rule.
    pub eta: f32,
    /// The Krotov layer's supervised step (0: none).
    pub eps: f32,
    /// Whether a label the model got wrong recruits a unit.
    pub recruit: bool,
}

/// The model the device shipped with: its int8 plastic layer and its readout, frozen, with
/// the buffers of its forward pass (see [`crate::guard`]).
#[derive(Debug, Clone)]
struct Anchor {
    q: Vec<i8>,
    scale: Vec<f32>,
    readout: Vec<f32>,
    bias: Option<Vec<f32>>,
    hidden: Vec<f32>,
    outputs: Vec<f32>,
    guard: Guard,
}

impl AdaptiveModel {
    /// Builds from a two-layer checkpoint whose first layer is a Krotov layer (f32 or int8).
    pub fn from_checkpoint(
        ckpt: &Checkpoint,
        precision: MasterPrecision,
        guards: Guards,
    ) -> Result<Self> {
        ckpt.validate()?;
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
                second.outputs,
                DEFAULT_CALIBRATION_FRAMES,
                DEFAULT_HORIZON_FRAMES,
            ),
            raw_hidden: vec![0.0; units],
            aligning: false,
            recruited: saved["recruited_units"].as_u64().unwrap_or(0),
            anchor: None,
            balance: LabelBalance::new(second.outputs),
            saved_guard: saved["guard"].clone(),
            view: DigitView::restored(&saved["digits"], &saved["orientation"], second.outputs),
            anchor_xq: vec![0; first.inputs],
        })
    }

    /// The arbiter this learner's guard runs under: with labels, the model right more often
    /// on the recent labels ([`Arbiter::Labels`]); without, the surer model frame by frame
    /// ([`Arbiter::Confidence`]), because a Krotov layer's unsupervised steps change its code
    /// unit by unit and a frame the anchor is sure of is the check that they did no harm. The
    /// firmware and any app call this rather than choosing, so they behave alike.
    pub fn arbiter(labelled: bool) -> Arbiter {
        if labelled {
            Arbiter::Labels
        } else {
            Arbiter::Confidence
        }
    }

    /// From now on, `shipped` (the model the device shipped with, of the same shape) runs
    /// beside this one as its anchor, and `arbiter` decides whose answer [`AdaptiveModel::
    /// infer`] gives and when the learned weights roll back (see [`crate::guard`]). A guard
    /// saved in the state this model came from goes on where it was (its threshold, rate
    /// factor and records; see [`Guard::to_json`]); a damaged one starts afresh.
    pub fn enable_guard(&mut self, shipped: &AdaptiveModel, arbiter: Arbiter) -> Result<()> {
        let (q, scale) = shipped.plastic.int8();
        if shipped.plastic.shape() != self.plastic.shape()
            || shipped.readout.len() != self.readout.len()
        {
            return Err(Error::WrongLength {
                what: "anchor model weights",
                expected: self.readout.len(),
                found: shipped.readout.len(),
            });
        }
        self.anchor = Some(Box::new(Anchor {
            q: q.to_vec(),
            scale: scale.to_vec(),
            readout: shipped.readout.clone(),
            bias: shipped.bias.clone(),
            hidden: vec![0.0; self.hidden.len()],
            outputs: vec![0.0; self.outputs.len()],
            guard: Guard::new(arbiter),
        }));
        if let Some(anchor) = self.anchor.as_mut()
            && !self.saved_guard.is_null()
        {
            anchor.guard.restore_json(&self.saved_guard);
        }
        Ok(())
    }

    /// Puts the anchor's weights back (plastic layer, readout, bias) and forgets the hidden
    /// code's recent means; nothing without an anchor. What the guard does when the learned
    /// weights disagree with the anchor where it is sure (see [`crate::guard`]).
    pub fn roll_back(&mut self) -> Result<()> {
        let Some(anchor) = self.anchor.as_ref() else {
            return Ok(());
        };
        self.plastic.restore_int8(&anchor.q, &anchor.scale)?;
        self.readout.copy_from_slice(&anchor.readout);
        if let (Some(b), Some(shipped)) = (self.bias.as_mut(), anchor.bias.as_ref()) {
            b.copy_from_slice(shipped);
        }
        if let Some(alignment) = self.alignment.as_mut() {
            alignment.reset_recent();
        }
        Ok(())
    }

    /// The guard's counters, when an anchor runs.
    pub fn guard_stats(&self) -> Option<GuardStats> {
        self.anchor.as_ref().map(|a| a.guard.stats())
    }

    /// Both models' answers on the latest frame, when an anchor runs.
    pub fn last_judgement(&self) -> Option<Judgement> {
        self.anchor.as_ref().and_then(|a| a.guard.last_judgement())
    }

    /// Factor on the learning rates: 1 without an anchor, halved at every roll-back.
    pub fn rate_scale(&self) -> f32 {
        self.anchor.as_ref().map_or(1.0, |a| a.guard.rate_scale())
    }

    /// Bytes of the anchor: the shipped weights, which a device reads from flash or a
    /// memory-mapped file, plus its buffers.
    pub fn anchor_bytes(&self) -> usize {
        self.anchor.as_ref().map_or(0, |a| {
            a.q.len()
                + (a.scale.len() + a.readout.len() + a.hidden.len() + a.outputs.len()) * 4
                + a.bias.as_ref().map_or(0, |b| b.len() * 4)
        })
    }

    /// Tells the guard the true label of the latest inferred frame, so that in labelled mode
    /// it knows which model has been right (call before any label step changes the model).
    pub fn observe_label(&mut self, label: usize) {
        if let Some(anchor) = self.anchor.as_mut() {
            anchor.guard.observe_label(label);
        }
    }

    /// The spec the model was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The plastic layer (for its counters and memory).
    pub fn plastic(&self) -> &PlasticLayer {
        &self.plastic
    }

    /// The hidden code the readout read on the latest [`AdaptiveModel::infer`] (after the
    /// drift correction, when it is on).
    pub fn hidden(&self) -> &[f32] {
        &self.hidden
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
            + units * 8 // usage (u64)
            + self.alignment.as_ref().map_or(0, |_| units * (8 * self.outputs.len() + 8))
            + self.row.len() * 4
            + self.anchor_xq.len()
            + self.view.memory_bytes()
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
            None => HiddenAlignment::new(units, self.outputs.len(), calibration, horizon),
        });
        self.aligning = true;
    }

    /// Turns on what `policy` asks of a Krotov device: the hidden code's drift correction
    /// (when its horizon is above 0) and the digit warp (28x28 digit models), each over the
    /// first [`DEFAULT_CALIBRATION_FRAMES`] frames' reference. Errors, changing nothing, when
    /// it asks for a convolution's rule: this model learns through its Krotov layer.
    pub fn enable_policy(&mut self, policy: &LearningPolicy) -> Result<()> {
        if policy.conv_rate != 0.0 {
            return Err(Error::NotLearnable(
                "this model learns through a Krotov layer, not a convolution",
            ));
        }
        if policy.align_horizon > 0 {
            self.enable_alignment(DEFAULT_CALIBRATION_FRAMES, policy.align_horizon);
        }
        if policy.warp_digits {
            self.enable_digit_alignment(DEFAULT_CALIBRATION_FRAMES, DEFAULT_DIGIT_HORIZON_FRAMES);
        }
        Ok(())
    }

    /// The hidden code's running means, when inference corrects the code.
    pub fn alignment(&self) -> Option<&HiddenAlignment> {
        self.alignment.as_ref().filter(|_| self.aligning)
    }

    /// From now on, [`AdaptiveModel::warp_digit`] turns and thins framed digits to undo a
    /// new camera's tilt or pen (see [`DigitAlignment`]): the reference is the first
    /// `calibration` digits, the recent means span `horizon` frames. Statistics restored from
    /// a state go on. Only a model of 28x28 gray digits warps; for others this does nothing.
    pub fn enable_digit_alignment(&mut self, calibration: u64, horizon: u32) {
        let classes = self.outputs.len();
        self.view
            .enable(&self.spec.input, classes, calibration, horizon);
    }

    /// The framed digits' statistics, when digits are warped.
    pub fn digit_alignment(&self) -> Option<&DigitAlignment> {
        self.view.alignment()
    }

    /// The warp [`AdaptiveModel::warp_digit`] applies now (none when digits are not warped).
    pub fn digit_warp(&self) -> Warp {
        self.view.warp()
    }

    /// From now on [`AdaptiveModel::orient_digit`] reads framed digits in the camera's orientation as
    /// the `shipped` model finds it (see [`crate::orientation`]). False, and nothing on, for a
    /// model that does not read 28x28 gray digits.
    pub fn enable_orientation(&mut self, shipped: Model) -> Result<bool> {
        self.view.enable_orientation(shipped)
    }

    /// Turns the framed `digit` in place into the camera's orientation as found so far, before
    /// [`AdaptiveModel::warp_digit`]; `None` when orientation is off (see [`DigitView::orient_digit`]).
    /// Coming back to the frames as they come from a turn held long, the guard forgets what
    /// the labels said of the two models on the turned view ([`Guard::forget_label_records`]).
    pub fn orient_digit(&mut self, digit: &mut [u8; 784]) -> Option<Orientation> {
        let found = self.view.orient_digit(digit);
        if self.view.came_back_from_held_turn()
            && let Some(anchor) = self.anchor.as_mut()
        {
            anchor.guard.forget_label_records();
        }
        found
    }

    /// From now on the model learns without labels from digits only: a frame whose framed
    /// picture does not have a digit's shape (see [`crate::digit_shape`]) is no evidence of
    /// the camera's orientation or view and takes no unsupervised step. For models of digits
    /// framed as MNIST's.
    pub fn learn_from_digits_only(&mut self) {
        self.view.learn_from_digits_only();
    }

    /// Whether the latest [`AdaptiveModel::orient_digit`] saw a digit; `None` unless the model
    /// [`AdaptiveModel::learn_from_digits_only`].
    pub fn saw_a_digit(&self) -> Option<bool> {
        self.view.judged_digit()
    }

    /// The camera's orientation as found, with the turns taken and refused; `None` when off.
    pub fn orientation(&self) -> Option<OrientationReport> {
        self.view.orientation().map(OrientationFinder::report)
    }

    /// Writes into `out` the framed `digit` as the model should see it: warped by
    /// [`AdaptiveModel::digit_warp`], or copied when that is none. Returns the warp applied,
    /// `None` when the digit was copied. The digit's statistics enter the running means with
    /// the class the next [`AdaptiveModel::infer`] answers. Allocates nothing.
    pub fn warp_digit(&mut self, digit: &[u8; 784], out: &mut [u8; 784]) -> Option<Warp> {
        self.view.warp_digit(digit, out)
    }

    /// Units recruited by labels so far (see [`AdaptiveModel::recruit`]), over the state's
    /// whole life.
    pub fn recruited_units(&self) -> u64 {
        self.recruited
    }

    /// Classifies a preprocessed input. Allocates nothing. With alignment on, the frame's
    /// hidden code also enters the running means before it is corrected.
    pub fn infer(&mut self, v: &[f32]) -> Result<Prediction> {
        self.forward(v, true, None)
    }

    /// [`AdaptiveModel::infer`] where the anchor reads `anchor_input` instead of `v`: the
    /// digit as framed, when the adapted model reads it warped. The anchor is the device as
    /// it shipped, so a warp that makes things worse is caught by it like a weight change.
    pub fn infer_beside_anchor(&mut self, v: &[f32], anchor_input: &[f32]) -> Result<Prediction> {
        self.forward(v, true, Some(anchor_input))
    }

    /// [`AdaptiveModel::infer`]; `observe` says whether the frame counts as a new one (its code
    /// enters the running means and the guard judges it), which it does not when the same frame
    /// is run again after a recruitment.
    fn forward(
        &mut self,
        v: &[f32],
        observe: bool,
        anchor_input: Option<&[f32]>,
    ) -> Result<Prediction> {
        let rows = self.check_input(v)?;
        if let Some(a) = anchor_input {
            self.check_input(a)?;
        }
        if v.iter()
            .chain(anchor_input.unwrap_or(&[]))
            .any(|x| !x.is_finite())
        {
            return Err(Error::NonFiniteInput);
        }
        let sx = quantize_vector(v, &mut self.xq);
        let (q, scale) = self.plastic.int8();
        hidden_from_int8(
            &self.kernels,
            (q, scale),
            (&self.xq, sx),
            &mut self.acc,
            &self.spec.layers[0].activation,
            &mut self.hidden[..rows],
        );
        if let Some(alignment) = self.alignment.as_ref().filter(|_| self.aligning) {
            self.raw_hidden.copy_from_slice(&self.hidden);
            alignment.apply(&mut self.hidden);
        }
        let adapted = read_out(
            &self.kernels,
            (&self.readout, self.bias.as_deref()),
            &self.hidden,
            &self.spec.layers[1].activation,
            &mut self.outputs,
        );
        if !observe {
            return Ok(adapted);
        }
        let answer = self.judge(sx, adapted, anchor_input)?;
        // A frame without a digit says nothing of the digits' view.
        if !self.view.saw_a_digit() {
            return Ok(answer);
        }
        if let Some(alignment) = self.alignment.as_mut().filter(|_| self.aligning) {
            alignment.observe(&self.raw_hidden, answer.class);
        }
        self.view.observe(answer.class);
        Ok(answer)
    }

    /// Runs the anchor on the input quantized by the latest forward pass (scale `sx`), or on
    /// `anchor_input` when given, and lets the guard decide whose answer counts; rolls the
    /// plastic layer back when it says so.
    fn judge(
        &mut self,
        sx: f32,
        adapted: Prediction,
        anchor_input: Option<&[f32]>,
    ) -> Result<Prediction> {
        let Some(anchor) = self.anchor.as_mut() else {
            return Ok(adapted);
        };
        let xq = match anchor_input {
            Some(a) => {
                let sa = quantize_vector(a, &mut self.anchor_xq);
                (&self.anchor_xq[..], sa)
            }
            None => (&self.xq[..], sx),
        };
        hidden_from_int8(
            &self.kernels,
            (&anchor.q, &anchor.scale),
            xq,
            &mut self.acc,
            &self.spec.layers[0].activation,
            &mut anchor.hidden,
        );
        let shipped = read_out(
            &self.kernels,
            (&anchor.readout, anchor.bias.as_deref()),
            &anchor.hidden,
            &self.spec.layers[1].activation,
            &mut anchor.outputs,
        );
        // A warped digit counts toward a roll-back like any frame, though the two models read
        // it differently. Left out of the count (tried), the weights rolled back 3 times in
        // 200,000 frames of `synthetic:mnist-drift` instead of 325, and four 2000-frame windows
        // before the shift fell 0.5 to 1.3 points below a frozen device (none counted): the
        // roll-backs, and the rate they halve, are the brake a long run needs.
        let verdict = anchor.guard.judge(
            (shipped.class, shipped.confidence),
            (adapted.class, adapted.confidence),
        );
        if verdict.roll_back {
            self.roll_back()?;
        }
        Ok(match verdict.answer {
            Answer::Anchor => shipped,
            Answer::Adapted => adapted,
        })
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

    /// One unsupervised step of the plastic layer on `v`; the winner counts as used. Skipped
    /// when the latest [`AdaptiveModel::orient_digit`] saw no digit (see
    /// [`crate::digit_shape`]): the units learn digits, not the desk between two cards.
    pub fn adapt_unsupervised(&mut self, v: &[f32], eps: f32) -> Result<StepOutcome> {
        if !self.view.saw_a_digit() {
            return Ok(StepOutcome::Skipped);
        }
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
        self.forward(v, false, None)?;
        Ok(Some(unit))
    }

    /// Everything a label brings, from the latest [`AdaptiveModel::infer`] on `v`: the guard
    /// learns which model was right; when `rates.recruit` is set and the model answered wrong,
    /// a unit is recruited for the frame ([`AdaptiveModel::recruit`]); the Krotov layer takes
    /// its supervised step ([`AdaptiveModel::adapt_label_plastic`]) and the readout its
    /// delta-rule step ([`AdaptiveModel::adapt_label`]), both weighed by the label's class
    /// balance (see [`crate::balance`]). The policy lives here, not in an app, so that every
    /// device that learns from labels learns the same way.
    pub fn learn_label(&mut self, v: &[f32], label: usize, rates: LabelRates) -> Result<()> {
        self.check_label(label)?;
        self.check_input(v)?;
        self.observe_label(label);
        let weight = self.balance.weigh(label);
        if rates.recruit {
            self.recruit(v, label)?;
        }
        self.adapt_label_plastic(v, label, rates.eps * weight)?;
        self.adapt_label(label, rates.eta * weight)
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
    pub fn checkpoint(&self, train: serde_json::Value, metrics: serde_json::Value) -> Checkpoint {
        let train = with_on_device(
            train,
            serde_json::json!({
                "usage": self.usage.to_json(),
                "alignment": self.alignment.as_ref().map(HiddenAlignment::to_json),
                "digits": self.view.to_json(),
                "orientation": self.view.orientation_json(),
                "recruited_units": self.recruited,
                "guard": self.anchor.as_ref().map_or(self.saved_guard.clone(), |a| a.guard.to_json()),
            }),
        );
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

/// The hidden code of an int8 layer `(q, scale)` for an input quantized as `(xq, sx)`:
/// `activation(scale * sx * q xq)`, through the fastest int8 kernel.
fn hidden_from_int8(
    kernels: &Kernels,
    (q, scale): (&[i8], &[f32]),
    (xq, sx): (&[i8], f32),
    acc: &mut [i32],
    activation: &Activation,
    hidden: &mut [f32],
) {
    kernels.matvec_i8(q, xq, acc);
    for ((h, &a), &s) in hidden.iter_mut().zip(acc.iter()).zip(scale) {
        *h = a as f32 * s * sx;
    }
    apply_activation(activation, hidden);
}

/// The answer of a readout `(weights, bias)` with `activation` on `hidden`, its outputs in
/// `outputs`.
pub(crate) fn read_out(
    kernels: &Kernels,
    (readout, bias): (&[f32], Option<&[f32]>),
    hidden: &[f32],
    activation: &Activation,
    outputs: &mut [f32],
) -> Prediction {
    kernels.matvec_f32(readout, hidden, outputs);
    if let Some(b) = bias {
        outputs.iter_mut().zip(b).for_each(|(o, b)| *o += b);
    }
    apply_activation(activation, outputs);
    predict(outputs, Some(activation))
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
    use crate::digit_align::digit_stats;

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

    /// k = 33 of 400 units passed the old spec check; the first learning step overran the
    /// ranking's buffer. Now the model does not build.
    #[test]
    fn a_krotov_rank_beyond_the_limit_does_not_build() {
        let (mut ckpt, _) = default_model();
        let LayerKind::Krotov { k, .. } = &mut ckpt.spec.layers[0].kind else {
            panic!("the default model is a Krotov model")
        };
        *k = plastic_models::MAX_KROTOV_K + 1;
        let built = AdaptiveModel::from_checkpoint(&ckpt, MasterPrecision::Q16, Guards::default());
        assert!(matches!(
            built,
            Err(Error::Checkpoint(plastic_models::Error::InvalidSpec(_)))
        ));
        // The layer refuses it too when built directly.
        let params = KrotovParams {
            p: 3.0,
            k: 33,
            delta: 0.4,
        };
        let w = vec![0.1f32; 64 * 4];
        let layer = PlasticLayer::new(&w, 64, 4, params, MasterPrecision::F32, Guards::default());
        assert!(matches!(layer, Err(Error::KrotovRank { k: 33, most: 32 })));
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
    fn with_a_horizon_of_one_frame_per_class_a_frame_reads_as_the_class_reference() {
        // Calibration on ten copies of v1 sets its class's reference to v1's code. v2 (v1
        // with a few pixels cleared) is answered as the same class; with one recent frame per
        // class (horizon 10, ten classes) the correction is code(v1) - code(v2) once v2 has
        // been seen five times, so v2 then reads exactly as v1.
        let (_, mut plain) = default_model();
        let (_, mut aligned) = default_model();
        let v1 = input(1);
        let mut v2 = v1.clone();
        let lit: Vec<usize> = (0..784).filter(|&i| v1[i] > 0.0).take(12).collect();
        lit.iter().for_each(|&i| v2[i] = 0.0);
        let class = plain.infer(&v1).unwrap().class;
        let first = plain.outputs().to_vec();
        plain.infer(&v2).unwrap();
        assert_ne!(plain.outputs(), &first[..], "two different frames");
        assert_eq!(
            plain.infer(&v2).unwrap().class,
            class,
            "v2 reads as v1's class"
        );

        aligned.enable_alignment(10, 10);
        for _ in 0..10 {
            aligned.infer(&v1).unwrap();
        }
        for _ in 0..6 {
            aligned.infer(&v2).unwrap();
        }
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

    #[test]
    fn a_roll_back_puts_the_shipped_weights_back_and_the_anchor_is_judged() {
        let ckpt = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
        let shipped =
            AdaptiveModel::from_checkpoint(&ckpt, MasterPrecision::F32, Guards::default()).unwrap();
        let mut m = shipped.clone();
        m.enable_guard(&shipped, Arbiter::Confidence).unwrap();
        assert!(m.anchor_bytes() > 400 * 784);
        for seed in 0..20 {
            m.infer(&input(seed)).unwrap();
            m.adapt_unsupervised(&input(seed), 0.05).unwrap();
            m.adapt_label(seed % 10, 0.1).unwrap();
        }
        let stats = m.guard_stats().unwrap();
        assert_eq!(
            stats.rollbacks, 0,
            "20 frames do not complete a check window"
        );
        let row = |model: &AdaptiveModel, mu| {
            let mut r = [0.0; 784];
            model.plastic().master_row(mu, &mut r);
            r
        };
        let moved = (0..400)
            .filter(|&mu| row(&m, mu) != row(&shipped, mu))
            .count();
        assert!(moved > 0 && m.readout != shipped.readout);
        m.roll_back().unwrap();
        assert!((0..400).all(|mu| row(&m, mu) == row(&shipped, mu)));
        assert_eq!(m.readout, shipped.readout);
        let v = input(3);
        let (mut a, mut b) = (m.clone(), shipped.clone());
        assert_eq!(a.infer(&v).unwrap(), b.infer(&v).unwrap());

        // An anchor of another shape is refused.
        let mut other = shipped.clone();
        other.readout.pop();
        assert!(m.enable_guard(&other, Arbiter::Labels).is_err());
    }

    #[test]
    fn the_guard_comes_back_from_a_saved_state() {
        let ckpt = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
        let shipped =
            AdaptiveModel::from_checkpoint(&ckpt, MasterPrecision::F32, Guards::default()).unwrap();
        let mut m = shipped.clone();
        m.enable_guard(&shipped, Arbiter::Labels).unwrap();
        for seed in 0..30 {
            m.infer(&input(seed)).unwrap();
            m.observe_label(seed % 10);
        }
        let saved = m.checkpoint(serde_json::json!({}), serde_json::Value::Null);
        let expected = m.anchor.as_ref().unwrap().guard.to_json();
        assert_eq!(saved.train["on_device"]["guard"], expected);

        let mut back =
            AdaptiveModel::from_checkpoint(&saved, MasterPrecision::F32, Guards::default())
                .unwrap();
        back.enable_guard(&shipped, Arbiter::Labels).unwrap();
        assert_eq!(back.anchor.as_ref().unwrap().guard.to_json(), expected);
        // Saved again without an anchor, the guard is kept for the next run that has one.
        let plain = AdaptiveModel::from_checkpoint(&saved, MasterPrecision::F32, Guards::default())
            .unwrap();
        let again = plain.checkpoint(serde_json::json!({}), serde_json::Value::Null);
        assert_eq!(again.train["on_device"]["guard"], expected);
        // A fresh model saves no guard.
        let fresh = shipped.checkpoint(serde_json::json!({}), serde_json::Value::Null);
        assert!(fresh.train["on_device"]["guard"].is_null());
    }

    #[test]
    fn a_label_step_is_weighed_down_for_a_class_that_fills_the_labels() {
        let (_, mut balanced) = default_model();
        let (_, mut flooded) = default_model();
        let rates = LabelRates {
            eta: 0.05,
            eps: 0.0,
            recruit: false,
        };
        // Twenty labels of class 3 on the flooded model, round-robin on the other; then one
        // more 3 on each: the flooded model's step is a fraction of the balanced one's.
        for i in 0..20 {
            let v = input(i);
            flooded.infer(&v).unwrap();
            flooded.learn_label(&v, 3, rates).unwrap();
            balanced.infer(&v).unwrap();
            balanced.learn_label(&v, i % 10, rates).unwrap();
        }
        let v = input(40);
        let gain = |m: &mut AdaptiveModel| {
            m.infer(&v).unwrap();
            let before = m.outputs()[3];
            m.learn_label(&v, 3, rates).unwrap();
            m.infer(&v).unwrap();
            m.outputs()[3] - before
        };
        let (g_balanced, g_flooded) = (gain(&mut balanced), gain(&mut flooded));
        assert!(g_balanced > 0.0, "{g_balanced}");
        assert!(g_flooded < 0.3 * g_balanced, "{g_flooded} vs {g_balanced}");
        assert!(balanced.learn_label(&v, 10, rates).is_err());
        assert!(balanced.learn_label(&v[..10], 1, rates).is_err());
    }

    /// Three framed digits the shipped model answers as 1, 2 and 3, upright and leaning by
    /// 0.2 pixels per row away from the middle row: a stroke 3 pixels wide, a "7"-like bar
    /// and diagonal, and a "3" of three bars and a spine.
    fn framed_digit(kind: usize, lean: f32) -> [u8; 784] {
        let mut d = [0u8; 784];
        for y in 4..24usize {
            let shift = libm::roundf(lean * (y as f32 - 13.5)) as isize;
            for x in 4..24usize {
                let ink = match kind {
                    0 => (13..16).contains(&x),
                    1 => {
                        (y < 7 && (8..20).contains(&x))
                            || (y >= 7 && (17..20).contains(&(x + (y - 4) / 2)))
                    }
                    _ => {
                        ((y < 7 || (12..15).contains(&y) || y >= 21) && (8..20).contains(&x))
                            || (17..20).contains(&x)
                    }
                };
                let tx = x as isize + shift;
                if ink && (0..28).contains(&tx) {
                    d[y * 28 + tx as usize] = 255;
                }
            }
        }
        d
    }

    fn normalised(digit: &[u8; 784]) -> Vec<f32> {
        let v: Vec<f32> = digit.iter().map(|&b| f32::from(b) / 255.0).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn a_model_learning_from_digits_only_learns_nothing_from_a_frame_without_one() {
        let (_, mut m) = default_model();
        m.enable_digit_alignment(3, 30);
        m.learn_from_digits_only();
        assert_eq!(
            m.saw_a_digit(),
            Some(true),
            "a digit until a picture says otherwise"
        );
        // A speck of ink framed large: ink, but not a digit's shape.
        let mut speck = [0u8; 784];
        for y in 10..16 {
            speck[y * 28 + 10..y * 28 + 16].fill(255);
        }
        let mut out = [0u8; 784];
        let mut show = |m: &mut AdaptiveModel, picture: &[u8; 784]| {
            let mut picture = *picture;
            m.orient_digit(&mut picture);
            m.warp_digit(&picture, &mut out);
            let v = normalised(&out);
            m.infer(&v).unwrap();
            m.adapt_unsupervised(&v, 0.02).unwrap()
        };
        for _ in 0..5 {
            assert_eq!(show(&mut m, &speck), StepOutcome::Skipped);
            assert_eq!(m.saw_a_digit(), Some(false));
        }
        assert_eq!(m.plastic().stats().updates, 0);
        assert!(
            !m.digit_alignment().unwrap().calibrated(),
            "no statistics taken"
        );
        for k in 0..3 {
            let outcome = show(&mut m, &framed_digit(k, 0.0));
            assert_eq!(m.saw_a_digit(), Some(true), "digit {k}");
            assert!(
                matches!(outcome, StepOutcome::Updated { .. }),
                "{outcome:?}"
            );
        }
        assert!(m.digit_alignment().unwrap().calibrated());
        // A model not told to learn from digits only learns from every picture.
        let (_, mut plain) = default_model();
        assert!(matches!(
            show(&mut plain, &speck),
            StepOutcome::Updated { .. }
        ));
        assert_eq!(plain.saw_a_digit(), None);
    }

    #[test]
    fn digits_are_warped_once_enabled_and_the_statistics_live_in_the_state() {
        let (_, mut m) = default_model();
        let upright = [0, 1, 2].map(|k| framed_digit(k, 0.0));
        let leaning = [0, 1, 2].map(|k| framed_digit(k, 0.2));
        let mut out = [0u8; 784];
        assert!(
            m.warp_digit(&leaning[0], &mut out).is_none(),
            "off until enabled"
        );
        assert_eq!(out, leaning[0]);
        assert!(m.digit_alignment().is_none());

        // Each digit keeps its class when it leans, so every class has a reference.
        let class_of =
            |m: &mut AdaptiveModel, d: &[u8; 784]| m.infer(&normalised(d)).unwrap().class;
        for (u, l) in upright.iter().zip(&leaning) {
            assert_eq!(class_of(&mut m, u), class_of(&mut m, l));
        }
        m.enable_digit_alignment(30, 30);
        let mut run = |m: &mut AdaptiveModel, digit: &[u8; 784]| {
            let warped = m.warp_digit(digit, &mut out).is_some();
            m.infer(&normalised(&out)).unwrap();
            warped
        };
        for i in 0..30 {
            assert!(!run(&mut m, &upright[i % 3]), "no warp while calibrating");
        }
        for i in 0..300 {
            run(&mut m, &leaning[i % 3]);
        }
        // The warp turns back by the digits' mean lean: per class, and pooled over the three
        // with each angle weighed by its digit's elongation; the smaller of the two. Per class
        // is per class answered, and a warped digit may be answered as another class, so the
        // warp is held to between half and all of that lean.
        let stats = |d: &[u8; 784]| digit_stats(d).unwrap();
        let per_class: f32 = (0..3)
            .map(|k| stats(&leaning[k]).angle - stats(&upright[k]).angle)
            .sum::<f32>()
            / 3.0;
        let pooled = |ds: &[[u8; 784]; 3]| {
            let (a, w) = ds.iter().map(stats).fold((0.0, 0.0), |(a, w), s| {
                (a + s.elongation * s.angle, w + s.elongation)
            });
            a / w
        };
        let lean = per_class.min(pooled(&leaning) - pooled(&upright));
        let warp = m.digit_warp();
        assert!(lean > 0.1, "{lean}");
        assert!(
            -warp.angle > 0.5 * lean && -warp.angle <= lean + 1e-3,
            "{warp:?} against a lean of {lean}"
        );
        let angle = |d: &[u8; 784]| stats(d).angle;
        assert_eq!(m.warp_digit(&leaning[0], &mut out), Some(warp));
        let before = angle(&leaning[0]) - angle(&upright[0]);
        let after = angle(&out) - angle(&upright[0]);
        assert!(
            after.abs() < 0.5 * before.abs(),
            "the 1 leans {after}, from {before}"
        );

        let state = m.checkpoint(serde_json::Value::Null, serde_json::Value::Null);
        let mut back =
            AdaptiveModel::from_checkpoint(&state, MasterPrecision::F16, Guards::default())
                .unwrap();
        assert!(back.digit_alignment().is_none(), "off until enabled");
        back.enable_digit_alignment(30, 30);
        assert_eq!(back.digit_alignment(), m.digit_alignment());
        assert_eq!(back.digit_warp(), warp);
    }

    #[test]
    fn the_anchor_reads_its_own_input_beside_a_warped_one() {
        let ckpt = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
        let shipped =
            AdaptiveModel::from_checkpoint(&ckpt, MasterPrecision::F32, Guards::default()).unwrap();
        let mut m = shipped.clone();
        m.enable_guard(&shipped, Arbiter::Confidence).unwrap();
        let (v1, v2) = (input(1), input(2));
        m.infer_beside_anchor(&v1, &v2).unwrap();
        let (mut a, mut b) = (shipped.clone(), shipped.clone());
        a.infer(&v1).unwrap();
        b.infer(&v2).unwrap();
        assert_eq!(m.outputs(), a.outputs(), "the learning model read v1");
        let anchor = m.anchor.as_ref().unwrap();
        assert_eq!(anchor.outputs, b.outputs(), "the anchor read v2");
        assert!(m.infer_beside_anchor(&v1, &v2[..10]).is_err());
        let mut nan = v2.clone();
        nan[3] = f32::NAN;
        assert!(matches!(
            m.infer_beside_anchor(&v1, &nan),
            Err(Error::NonFiniteInput)
        ));
    }
}
