//! On-device learning for any model whose last layer is a dense readout: the layers before it
//! stay as shipped (a convolutional front end, say SoftHebb's blocks), the readout learns from
//! labels with the delta rule, and the shipped readout stays beside it as the anchor.
//!
//! Why a second learner beside [`crate::AdaptiveModel`]: that one needs a Krotov layer, whose
//! units learn from every frame. A convolutional front end carries a new view much better than
//! 400 fully connected units do (its filters are local and its pooling tolerates a stroke or a
//! pixel of offset), so what a new view needs there is mostly a readout that re-maps the
//! features it already computes: few weights, one step per label, and nothing the front end
//! has to recompute. The anchor, the readout the device shipped with, costs one more
//! `classes x features` product per frame (the front end is shared), and the guard
//! ([`crate::guard`]) decides whose answer counts exactly as it does for the Krotov device.
//! What the readout learned goes back into a checkpoint ([`AdaptiveReadout::checkpoint`]) with
//! the guard's state, so a device that reboots goes on from it; the anchor always comes from
//! the shipped model, never from a saved state.
//!
//! The step is the normalised delta rule (NLMS, Nagumo & Noda 1967) on the readout's own
//! output error, `dW = eta w (t - y) h^T / (|h|^2 + 1)` with `y` the readout's probabilities
//! (softmax of logits; for a `tanh` head its outputs), `t` the label's one-hot targets and `w`
//! the class-balance weight ([`crate::balance`]). Dividing by `|h|^2 + 1` makes `eta` what one
//! step moves the frame's own logits per unit of error (`eta e_c |h|^2 / (|h|^2 + 1)`), whatever
//! the scale of the features: one rate serves every model, which is what a device that meets
//! shifts nobody tuned it for needs. Each label is followed by steps on stored labelled frames
//! ([`crate::replay`]): a few labels move a readout trained on 60,000 images little, and the
//! replay lets each keep teaching while it is in memory.
//!
//! A model of 28x28 digits also warps each digit before its front end, as the Krotov device
//! does ([`crate::digit_view`]): that part needs no labels, and the anchor then reads the digit
//! unwarped (the front end runs twice while a warp is in force).
//!
//! How the rate and the replay were chosen, and what they give against the Krotov device on the
//! bank of shifts: docs/RESULTS.md, "A device model that learns through its readout".

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use plastic_models::{Activation, Checkpoint, ModelSpec, Weights};

use crate::adaptive::{ON_DEVICE, read_out, with_on_device};
use crate::align::DEFAULT_CALIBRATION_FRAMES;
use crate::balance::LabelBalance;
use crate::channel_stats::ChannelAlignment;
use crate::conv_learning::{HebbianConv, softhebb_convolution};
use crate::digit_align::{DEFAULT_DIGIT_HORIZON_FRAMES, DigitAlignment};
use crate::digit_view::DigitView;
use crate::digit_warp::Warp;
use crate::guard::{Answer, Arbiter, Guard, GuardStats, Judgement};
use crate::kernels::Kernels;
use crate::learn::delta::{delta_update, one_hot};
use crate::model::class_confidences;
use crate::orientation::{Orientation, OrientationFinder, OrientationReport};
use crate::policy::LearningPolicy;
use crate::quant::dequantize_rows;
use crate::replay::{DEFAULT_REPLAY_CAPACITY, DEFAULT_REPLAY_PER_LABEL, ReplayMemory};
use crate::{Error, Model, Prediction, Result, Workspace};

/// How far one step moves a labelled frame's own logits per unit of its error (before the
/// class balance and the guard's rate factor), for logits that spread as the SoftHebb
/// device's do ([`REFERENCE_LOGIT_SPREAD`]). Chosen on seed 0 of `tilt` and `thick-pen`
/// among 0.2, 0.5, 1, 2, 5 and 20 (20 forgot up to a point on the return).
pub const DEFAULT_READOUT_RATE: f32 = 5.0;

/// The spread of the logits (their standard deviation over the classes, averaged over
/// frames) that [`DEFAULT_READOUT_RATE`] was chosen at: the SoftHebb device's shipped readout
/// on the simulated camera (31 on the original view). A softmax readout whose logits spread
/// less (a Fashion-MNIST CNN's: 3.4) takes proportionally smaller steps, so a label moves
/// every model's answers alike: at the device's rate such a readout jumped a whole spread per
/// label, and its answers alone fell from 82 % to 73 % on a stream with no shift.
pub const REFERENCE_LOGIT_SPREAD: f32 = 30.0;

/// A frozen front end, a readout that learns from labels, and the shipped readout as anchor.
#[derive(Debug, Clone)]
pub struct AdaptiveReadout {
    /// The checkpoint's model; inference runs all its layers but the last.
    model: Model,
    workspace: Workspace,
    /// Width of the front end's output (the readout's input).
    features: usize,
    /// The learning readout `[classes, features]` and bias.
    readout: Vec<f32>,
    bias: Option<Vec<f32>>,
    activation: Activation,
    /// The learning readout's outputs on the latest frame, and its probabilities.
    adapted: Vec<f32>,
    probabilities: Vec<f32>,
    targets: Vec<f32>,
    /// What the device answered on the latest frame (the anchor's or the readout's outputs).
    outputs: Vec<f32>,
    balance: LabelBalance,
    anchor: Option<Anchor>,
    /// The guard saved in the state this model was built from (`Null` if none), taken back by
    /// [`AdaptiveReadout::enable_guard`].
    saved_guard: serde_json::Value,
    replay: ReplayMemory,
    /// The digit warp (see [`DigitView`]), on once
    /// [`AdaptiveReadout::enable_digit_alignment`] has been called.
    view: DigitView,
    /// The convolutions' input statistics, aligned once
    /// [`AdaptiveReadout::enable_channel_alignment`] has been called.
    channels: Option<ChannelAlignment>,
    /// What the checkpoint this model was built from saved of them (`Null` if nothing).
    saved_channels: serde_json::Value,
    /// Base rate of the last convolution's SoftHebb steps (0: it stays as shipped; see
    /// [`AdaptiveReadout::enable_conv_learning`]).
    conv_rate: f32,
    /// The last convolution's learner, made once the channels' reference is known.
    conv: Option<HebbianConv>,
    /// The shipped readout's logit spread on the labelled frames so far (see
    /// [`AdaptiveReadout::logit_spread`]).
    spread: LogitSpread,
}

/// The running mean of a readout's logit spread (standard deviation over the classes) on the
/// frames it has taken labels on.
#[derive(Debug, Clone, Default)]
struct LogitSpread {
    mean: f32,
    frames: u32,
}

impl LogitSpread {
    /// Takes in the logits of one more frame; returns the mean so far.
    fn observe(&mut self, logits: &[f32]) -> f32 {
        let n = logits.len().max(1) as f32;
        let mean = logits.iter().sum::<f32>() / n;
        let spread = libm::sqrtf(logits.iter().map(|z| (z - mean) * (z - mean)).sum::<f32>() / n);
        if spread.is_finite() {
            self.frames = self.frames.saturating_add(1);
            self.mean += (spread - self.mean) / self.frames as f32;
        }
        self.mean
    }
}

/// The shipped readout (what a roll-back restores), its outputs, and the guard.
#[derive(Debug, Clone)]
struct Anchor {
    readout: Vec<f32>,
    bias: Option<Vec<f32>>,
    /// The front end as shipped, when the learning model's is not (its last convolution learns,
    /// or learned before the state it was built from was saved); else the anchor shares it.
    front: Option<Box<Model>>,
    outputs: Vec<f32>,
    guard: Guard,
}

impl AdaptiveReadout {
    /// Builds from a checkpoint of at least two layers whose last layer is dense (f32 or int8).
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<Self> {
        let model = Model::from_checkpoint(ckpt)?;
        let (Some(last), Some(tensors), true) = (
            ckpt.spec.layers.last(),
            ckpt.layers.last(),
            ckpt.spec.layers.len() >= 2,
        ) else {
            return Err(not_a_readout());
        };
        if last.conv.is_some() {
            return Err(not_a_readout());
        }
        let readout = match &tensors.weight {
            Weights::F32(w) => w.clone(),
            Weights::Int8 { q, scale } => dequantize_rows(q, scale, last.inputs),
        };
        let classes = last.outputs;
        Ok(Self {
            workspace: model.workspace(),
            model,
            features: last.inputs,
            readout,
            bias: tensors.bias.clone(),
            activation: last.activation.clone(),
            adapted: vec![0.0; classes],
            probabilities: vec![0.0; classes],
            targets: vec![0.0; classes],
            outputs: vec![0.0; classes],
            balance: LabelBalance::new(classes),
            anchor: None,
            saved_guard: ckpt.train[ON_DEVICE]["guard"].clone(),
            saved_channels: ckpt.train[ON_DEVICE]["channels"].clone(),
            channels: None,
            conv_rate: 0.0,
            conv: None,
            spread: LogitSpread::default(),
            view: DigitView::restored(
                &ckpt.train[ON_DEVICE]["digits"],
                &ckpt.train[ON_DEVICE]["orientation"],
                classes,
            ),
            replay: ReplayMemory::new(
                last.inputs,
                DEFAULT_REPLAY_CAPACITY,
                DEFAULT_REPLAY_PER_LABEL,
            ),
        })
    }

    /// The arbiter this learner's guard runs under: with labels, the model right more often
    /// on the recent labels ([`Arbiter::Labels`]); without, the model that has been the surer
    /// over the recent frames answers them all, and the learning model any frame it alone is
    /// clearly surer of ([`Arbiter::RecentConfidence`]). Why not frame by frame as for the
    /// Krotov device: without labels what changes here is the alignment of the channels (and
    /// the digit warp), which acts on every frame alike, and choosing frame by frame kept the
    /// anchor's answer on every frame it was confidently wrong on (24 % of the bank's drops won
    /// back against 41 %; docs/RESULTS.md). The firmware and any app call this rather than
    /// choosing, so they behave alike.
    pub fn arbiter(labelled: bool) -> Arbiter {
        if labelled {
            Arbiter::Labels
        } else {
            Arbiter::RecentConfidence
        }
    }

    /// From now on `shipped`'s readout (the model the device shipped with, of the same shape)
    /// answers beside the learning one, `arbiter` decides whose answer counts and when the
    /// learned readout rolls back to it (see [`crate::guard`]). A guard saved in the state this
    /// model was built from is taken back when it was saved under the same arbiter.
    pub fn enable_guard(&mut self, shipped: &AdaptiveReadout, arbiter: Arbiter) -> Result<()> {
        if shipped.readout.len() != self.readout.len()
            || shipped.bias.as_ref().map(Vec::len) != self.bias.as_ref().map(Vec::len)
        {
            return Err(Error::WrongLength {
                what: "shipped readout",
                expected: self.readout.len(),
                found: shipped.readout.len(),
            });
        }
        let mut guard = Guard::new(arbiter);
        if !self.saved_guard.is_null() {
            guard.restore_json(&self.saved_guard);
        }
        let depth = self.model.spec().layers.len() - 1;
        let front = (self.conv_rate > 0.0 || !self.model.same_layers(&shipped.model, depth))
            .then(|| Box::new(shipped.model.clone()));
        self.anchor = Some(Anchor {
            readout: shipped.readout.clone(),
            bias: shipped.bias.clone(),
            front,
            outputs: vec![0.0; self.adapted.len()],
            guard,
        });
        Ok(())
    }

    /// Sets the replay memory: `capacity` labelled frames kept, `per_label` of them replayed
    /// after each label's own step (0 and 0: the delta rule alone). Empties it.
    pub fn set_replay(&mut self, capacity: usize, per_label: usize) {
        self.replay = ReplayMemory::new(self.features, capacity, per_label);
    }

    /// The model's spec.
    pub fn spec(&self) -> &ModelSpec {
        self.model.spec()
    }

    /// The precision the front end and the anchor run in.
    pub fn precision(&self) -> crate::Precision {
        self.model.precision()
    }

    /// Bytes of weights and learning state held: the checkpoint's model, the learning
    /// readout's f32 copy and the anchor's, and the replay memory when full.
    pub fn memory_bytes(&self) -> usize {
        let anchor = self.anchor.as_ref().map_or(0, |a| {
            4 * a.readout.len() + a.front.as_ref().map_or(0, |m| m.weight_bytes())
        });
        self.model.weight_bytes()
            + 4 * self.readout.len()
            + anchor
            + self.conv.as_ref().map_or(0, HebbianConv::memory_bytes)
            + self.replay.bytes()
            + self.view.memory_bytes()
            + self
                .channels
                .as_ref()
                .map_or(0, ChannelAlignment::memory_bytes)
    }

    /// The readout's input (the front end's features) after the latest inference.
    pub fn features(&self) -> &[f32] {
        self.workspace.activations(self.features)
    }

    /// The outputs the device answered with on the latest frame.
    pub fn outputs(&self) -> &[f32] {
        &self.outputs
    }

    /// The guard's counters, when the anchor runs.
    pub fn guard_stats(&self) -> Option<GuardStats> {
        self.anchor.as_ref().map(|a| a.guard.stats())
    }

    /// Both models' answers on the latest frame, when the anchor runs.
    pub fn last_judgement(&self) -> Option<Judgement> {
        self.anchor.as_ref().and_then(|a| a.guard.last_judgement())
    }

    /// Factor on the learning rate: halved at each roll-back.
    pub fn rate_scale(&self) -> f32 {
        self.anchor.as_ref().map_or(1.0, |a| a.guard.rate_scale())
    }

    /// Runs the front end and both readouts on a preprocessed input; answers with the one the
    /// guard picks (the learning readout without a guard), and rolls the readout back to the
    /// shipped one when the guard says so.
    pub fn infer(&mut self, input: &[f32]) -> Result<Prediction> {
        self.forward(input, None)
    }

    /// [`AdaptiveReadout::infer`] where the anchor reads `anchor_input` instead of `input`:
    /// the digit as framed, when the learning model reads it warped (the front end then runs
    /// twice). The anchor is the device as it shipped, so a warp that makes things worse is
    /// caught by it like a weight change.
    pub fn infer_beside_anchor(
        &mut self,
        input: &[f32],
        anchor_input: &[f32],
    ) -> Result<Prediction> {
        self.forward(input, Some(anchor_input))
    }

    fn forward(&mut self, input: &[f32], anchor_input: Option<&[f32]>) -> Result<Prediction> {
        let depth = self.model.spec().layers.len() - 1;
        let kernels = self.model.kernels();
        let mut shipped = None;
        // The anchor reads the frame as shipped: its own pass when the learning model reads
        // it warped or with its channels aligned.
        let aligned = self
            .channels
            .as_ref()
            .is_some_and(|c| !c.measuring_reference());
        let own_front = self.anchor.as_ref().is_some_and(|a| a.front.is_some());
        let anchor_input = anchor_input.or((aligned || own_front).then_some(input));
        if let (Some(a), Some(anchor)) = (anchor_input, self.anchor.as_mut()) {
            let front = anchor.front.as_deref().unwrap_or(&self.model);
            let width = front.forward_to(a, depth, &mut self.workspace)?;
            shipped = Some(read_out(
                &kernels,
                (&anchor.readout, anchor.bias.as_deref()),
                self.workspace.activations(width),
                &self.activation,
                &mut anchor.outputs,
            ));
        }
        let conv = &mut self.conv;
        let width = match &mut self.channels {
            Some(channels) => {
                self.model
                    .forward_with(input, depth, &mut self.workspace, |l, x| {
                        channels.observe_and_align(l, x);
                        if let Some(c) = conv.as_mut().filter(|c| c.layer() == l) {
                            c.capture(x);
                        }
                    })?
            }
            None => self.model.forward_to(input, depth, &mut self.workspace)?,
        };
        let features = self.workspace.activations(width);
        let adapted = read_out(
            &kernels,
            (&self.readout, self.bias.as_deref()),
            features,
            &self.activation,
            &mut self.adapted,
        );
        let Some(anchor) = &mut self.anchor else {
            self.outputs.copy_from_slice(&self.adapted);
            self.observe_answer(adapted.class);
            return Ok(adapted);
        };
        let shipped = shipped.unwrap_or_else(|| {
            read_out(
                &kernels,
                (&anchor.readout, anchor.bias.as_deref()),
                features,
                &self.activation,
                &mut anchor.outputs,
            )
        });
        let verdict = anchor.guard.judge(
            (shipped.class, shipped.confidence),
            (adapted.class, adapted.confidence),
        );
        if verdict.roll_back {
            self.readout.copy_from_slice(&anchor.readout);
            self.bias.clone_from(&anchor.bias);
            if let Some(front) = &anchor.front {
                self.model.clone_from(&**front);
                self.conv = None;
            }
        }
        let answer = match verdict.answer {
            Answer::Anchor => {
                self.outputs.copy_from_slice(&anchor.outputs);
                shipped
            }
            Answer::Adapted => {
                self.outputs.copy_from_slice(&self.adapted);
                adapted
            }
        };
        self.observe_answer(answer.class);
        Ok(answer)
    }

    /// The statistics kept per answered class take the latest frame in as `class`, unless
    /// the latest [`AdaptiveReadout::orient_digit`] saw no digit (see [`crate::digit_shape`]).
    fn observe_answer(&mut self, class: usize) {
        if !self.view.saw_a_digit() {
            return;
        }
        self.view.observe(class);
        if let Some(channels) = &mut self.channels {
            channels.commit(class);
        }
    }

    /// Turns on what `policy` asks of a learning readout: the channel alignment (a
    /// convolutional front end, when its horizon is above 0), the last convolution's own rule
    /// (when its rate is not 0) and the digit warp (28x28 digit models, over the first
    /// [`DEFAULT_CALIBRATION_FRAMES`] frames' reference). Errors when the convolution cannot
    /// learn (see [`AdaptiveReadout::enable_conv_learning`]); what came before stays on.
    pub fn enable_policy(&mut self, policy: &LearningPolicy) -> Result<()> {
        if policy.channel_horizon > 0 {
            self.enable_channel_alignment(policy.channel_horizon);
        }
        if policy.conv_rate != 0.0 {
            self.enable_conv_learning(policy.conv_rate)?;
        }
        if policy.warp_digits {
            self.enable_digit_alignment(DEFAULT_CALIBRATION_FRAMES, DEFAULT_DIGIT_HORIZON_FRAMES);
        }
        Ok(())
    }

    /// From now on [`AdaptiveReadout::warp_digit`] turns and thins framed digits to undo a new
    /// view's tilt and pen, as the Krotov device does (see [`DigitView::enable`]).
    pub fn enable_digit_alignment(&mut self, calibration: u64, horizon: u32) {
        let classes = self.adapted.len();
        self.view
            .enable(&self.model.spec().input, classes, calibration, horizon);
    }

    /// From now on the inputs of the front end's convolutions are brought back to their
    /// reference statistics before each convolution (see [`crate::channel_stats`]), the
    /// running statistics averaged over about `horizon` frames: the reference saved with the
    /// model (or in the state it was built from), else the first frames' statistics. The
    /// anchor keeps reading the front end as shipped. No-op for a front end without
    /// convolutions.
    pub fn enable_channel_alignment(&mut self, horizon: u32) {
        self.channels = ChannelAlignment::new(self.model.spec(), &self.saved_channels);
        if let Some(c) = &mut self.channels {
            c.set_horizon(horizon);
        }
    }

    /// From now on the front end's last layer, a SoftHebb convolution, keeps learning from
    /// every frame by its own rule at base rate `rate` (see [`crate::conv_learning`]); the
    /// anchor keeps the front end as shipped. Needs the channel alignment on
    /// ([`AdaptiveReadout::enable_channel_alignment`], whose reference moments are the rule's
    /// coordinates): the steps start once the reference is known. Errors, changing nothing,
    /// when the layer before the readout is not a SoftHebb convolution, the channels are not
    /// aligned, or `rate` is not a finite rate above 0.
    pub fn enable_conv_learning(&mut self, rate: f32) -> Result<()> {
        softhebb_convolution(self.model.spec(), self.before_readout()).map_err(|_| {
            Error::NotLearnable("the layer before the readout is not a SoftHebb convolution")
        })?;
        if self.channels.is_none() {
            return Err(Error::NotLearnable(
                "a convolution learns on the device only with its channels aligned (their \
                 reference moments are the rule's coordinates)",
            ));
        }
        if !(rate.is_finite() && rate > 0.0) {
            return Err(Error::NotLearnable(
                "a convolution's rate must be finite and above 0",
            ));
        }
        self.conv_rate = rate;
        if let Some(anchor) = &mut self.anchor {
            anchor
                .front
                .get_or_insert_with(|| Box::new(self.model.clone()));
        }
        Ok(())
    }

    /// One step of the last convolution's rule on the latest inferred frame, when it learns
    /// ([`AdaptiveReadout::enable_conv_learning`]) and the frame had a digit's shape (see
    /// [`crate::digit_shape`]). Returns whether it stepped.
    pub fn adapt_features(&mut self) -> Result<bool> {
        if self.conv_rate == 0.0 || !self.view.saw_a_digit() {
            return Ok(false);
        }
        let Some(conv) = &mut self.conv else {
            let layer = self.before_readout();
            if let Some(reference) = self.channels.as_ref().and_then(|c| c.reference(layer)) {
                self.conv = Some(HebbianConv::new(
                    &self.model,
                    layer,
                    reference,
                    self.conv_rate,
                )?);
            }
            return Ok(false);
        };
        conv.learn(&mut self.model)
    }

    /// Index of the layer the readout reads (a model here has at least two layers).
    fn before_readout(&self) -> usize {
        self.model.spec().layers.len() - 2
    }

    /// The convolutions' input statistics, when they are aligned.
    pub fn channel_alignment(&self) -> Option<&ChannelAlignment> {
        self.channels.as_ref()
    }

    /// The framed digits' statistics, when digits are warped.
    pub fn digit_alignment(&self) -> Option<&DigitAlignment> {
        self.view.alignment()
    }

    /// From now on [`AdaptiveReadout::orient_digit`] reads framed digits in the camera's orientation as
    /// the `shipped` model finds it (see [`crate::orientation`]). False, and nothing on, for a
    /// model that does not read 28x28 gray digits.
    pub fn enable_orientation(&mut self, shipped: Model) -> Result<bool> {
        self.view.enable_orientation(shipped)
    }

    /// Turns the framed `digit` in place into the camera's orientation as found so far, before
    /// [`AdaptiveReadout::warp_digit`]; `None` when orientation is off (see [`DigitView::orient_digit`]).
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

    /// Whether the latest [`AdaptiveReadout::orient_digit`] saw a digit; `None` unless the model
    /// [`AdaptiveReadout::learn_from_digits_only`].
    pub fn saw_a_digit(&self) -> Option<bool> {
        self.view.judged_digit()
    }

    /// The camera's orientation as found, with the turns taken and refused; `None` when off.
    pub fn orientation(&self) -> Option<OrientationReport> {
        self.view.orientation().map(OrientationFinder::report)
    }

    /// Writes into `out` the framed `digit` as the model should see it (see
    /// [`DigitView::warp_digit`]); the statistics enter the means with the class the next
    /// inference answers.
    pub fn warp_digit(&mut self, digit: &[u8; 784], out: &mut [u8; 784]) -> Option<Warp> {
        self.view.warp_digit(digit, out)
    }

    /// What a label brings, from the latest inferred frame: the guard learns who was right;
    /// the readout takes one normalised delta-rule step toward `label` at `eta` times the class
    /// balance and the guard's rate factor; the frame goes into the replay memory, and
    /// [`crate::replay::DEFAULT_REPLAY_PER_LABEL`] stored frames take the same step toward
    /// their own labels (weighed by their class's current share).
    pub fn learn_label(&mut self, label: usize, eta: f32) -> Result<()> {
        let classes = self.adapted.len();
        if label >= classes {
            return Err(Error::WrongLength {
                what: "label",
                expected: classes,
                found: label,
            });
        }
        if let Some(anchor) = &mut self.anchor {
            anchor.guard.observe_label(label);
        }
        let eta = eta * self.logit_spread() / REFERENCE_LOGIT_SPREAD;
        let scale = self.rate_scale();
        let weight = self.balance.weigh(label) * scale;
        let features = self.workspace.activations(self.features);
        let mut step = Step {
            kernels: self.model.kernels(),
            readout: &mut self.readout,
            bias: self.bias.as_deref_mut(),
            activation: &self.activation,
            outputs: &mut self.adapted,
            probabilities: &mut self.probabilities,
            targets: &mut self.targets,
        };
        step.toward(features, label, eta * weight)?;
        self.replay.push(features, label);
        let fair = 1.0 / classes as f32;
        for _ in 0..self.replay.per_label() {
            let Some((h, label)) = self.replay.draw() else {
                break;
            };
            let share = self.balance.shares()[label].max(f32::MIN_POSITIVE);
            step.toward(h, label, eta * (fair / share).min(1.0) * scale)?;
        }
        Ok(())
    }

    /// The logit spread the label steps are scaled by, with the latest frame taken in: the
    /// shipped readout's (the anchor's) mean spread over the labelled frames so far, or,
    /// without an anchor, the learning readout's own before each frame's step. A `tanh`
    /// head's outputs are bounded, so its steps are not scaled: it reports
    /// [`REFERENCE_LOGIT_SPREAD`]. At least a hundredth of it, so a readout of flat logits
    /// still learns.
    fn logit_spread(&mut self) -> f32 {
        if matches!(self.activation, Activation::Tanh { .. }) {
            return REFERENCE_LOGIT_SPREAD;
        }
        let logits = self.anchor.as_ref().map_or(&self.adapted, |a| &a.outputs);
        self.spread
            .observe(logits)
            .max(REFERENCE_LOGIT_SPREAD / 100.0)
    }
}

/// The readout and the buffers of one normalised delta-rule step.
struct Step<'a> {
    kernels: Kernels,
    readout: &'a mut [f32],
    bias: Option<&'a mut [f32]>,
    activation: &'a Activation,
    outputs: &'a mut [f32],
    probabilities: &'a mut [f32],
    targets: &'a mut [f32],
}

impl Step<'_> {
    /// `dW = rate (t - y) h^T / (|h|^2 + 1)` (and the bias alike) on the readout's answer `y`
    /// to `h` (probabilities; a `tanh` head's outputs) for the targets of `label`.
    fn toward(&mut self, h: &[f32], label: usize, rate: f32) -> Result<()> {
        read_out(
            &self.kernels,
            (self.readout, self.bias.as_deref()),
            h,
            self.activation,
            self.outputs,
        );
        let (hi, lo) = match self.activation {
            Activation::Tanh { .. } => {
                self.probabilities.copy_from_slice(self.outputs);
                (1.0, -1.0)
            }
            _ => {
                class_confidences(self.outputs, None, self.probabilities);
                (1.0, 0.0)
            }
        };
        one_hot(label, hi, lo, self.targets);
        let norm: f32 = h.iter().map(|v| v * v).sum::<f32>() + 1.0;
        delta_update(
            self.readout,
            self.bias.as_deref_mut(),
            h,
            self.probabilities,
            self.targets,
            rate / norm,
        )
    }
}

impl AdaptiveReadout {
    /// The current state as a checkpoint: the shipped layers as they were, the learned readout
    /// in f32, `train` and `metrics` as given, and the guard's state under `train.on_device`
    /// (`train` made an object if it is not one).
    pub fn checkpoint(&self, train: serde_json::Value, metrics: serde_json::Value) -> Checkpoint {
        let guard = self
            .anchor
            .as_ref()
            .map_or(self.saved_guard.clone(), |a| a.guard.to_json());
        let channels = self
            .channels
            .as_ref()
            .map_or(self.saved_channels.clone(), ChannelAlignment::to_json);
        let train = with_on_device(
            train,
            serde_json::json!({
                "guard": guard,
                "digits": self.view.to_json(),
                "orientation": self.view.orientation_json(),
                "channels": channels,
            }),
        );
        let mut layers = self.model.layer_tensors();
        if let Some(last) = layers.last_mut() {
            last.weight = Weights::F32(self.readout.clone());
            last.bias.clone_from(&self.bias);
        }
        Checkpoint {
            spec: self.model.spec().clone(),
            layers,
            train,
            metrics,
        }
    }
}

fn not_a_readout() -> Error {
    Error::Checkpoint(plastic_models::Error::InvalidSpec(
        "readout learning needs a model of at least two layers whose last layer is dense".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use plastic_models::{InputSpec, LayerKind, LayerSpec, LayerTensors, Preprocess};

    /// Input 2 -> identity layer 2 -> readout 2 classes (logits), readout `w`, bias `b`.
    fn identity_front(w: [f32; 4], b: [f32; 2]) -> Checkpoint {
        let dense = |activation| LayerSpec {
            kind: LayerKind::Dense,
            inputs: 2,
            outputs: 2,
            bias: true,
            activation,
            conv: None,
        };
        Checkpoint {
            spec: ModelSpec {
                name: "t".into(),
                input: InputSpec {
                    width: 2,
                    height: 1,
                    channels: 1,
                    preprocess: Preprocess::Scale01,
                },
                layers: vec![dense(Activation::Identity), dense(Activation::Identity)],
                classes: vec![],
            },
            layers: vec![
                LayerTensors {
                    weight: Weights::F32(vec![1.0, 0.0, 0.0, 1.0]),
                    bias: Some(vec![0.0, 0.0]),
                    feedback: None,
                },
                LayerTensors {
                    weight: Weights::F32(w.to_vec()),
                    bias: Some(b.to_vec()),
                    feedback: None,
                },
            ],
            train: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_label_step_is_the_normalised_delta_rule() {
        // h = [1, 2], logits [1, 2], p = softmax = [1 / (1 + e), e / (1 + e)]; label 0:
        // errors [1 - p0, -p1]; |h|^2 + 1 = 6; the first label of two classes weighs
        // 0.5 / 0.505 (the share of class 0 after one step of 0.01 from 0.5); the logits
        // spread by 0.5 (their standard deviation), so the rate 3 is taken at 0.5 / 30.
        let ckpt = identity_front([1.0, 0.0, 0.0, 1.0], [0.0, 0.0]);
        let mut m = AdaptiveReadout::from_checkpoint(&ckpt).unwrap();
        m.set_replay(0, 0);
        let p = m.infer(&[1.0, 2.0]).unwrap();
        assert_eq!(p.class, 1);
        m.learn_label(0, 3.0).unwrap();
        let e = core::f32::consts::E;
        let (p0, p1) = (1.0 / (1.0 + e), e / (1.0 + e));
        let step = 3.0 * (0.5 / REFERENCE_LOGIT_SPREAD) * (0.5 / 0.505) / 6.0;
        let expected = [
            1.0 + step * (1.0 - p0),
            step * (1.0 - p0) * 2.0,
            -step * p1,
            1.0 - step * p1 * 2.0,
        ];
        for (got, want) in m.readout.iter().zip(expected) {
            assert!(
                (got - want).abs() < 1e-6,
                "{:?} against {expected:?}",
                m.readout
            );
        }
        let bias = m.bias.as_deref().unwrap();
        assert!((bias[0] - step * (1.0 - p0)).abs() < 1e-6);
        assert!((bias[1] + step * p1).abs() < 1e-6);
        // On the same frame the logits' gap moves by |h|^2 + 1 times the step per unit of
        // error: z0 - z1 = -1 + 6 step ((1 - p0) + p1).
        m.infer(&[1.0, 2.0]).unwrap();
        let gap = m.outputs()[0] - m.outputs()[1];
        assert!(
            (gap - (-1.0 + 6.0 * step * (1.0 - p0 + p1))).abs() < 1e-5,
            "{gap}"
        );
    }

    #[test]
    fn labels_teach_a_new_mapping_and_the_anchor_keeps_the_old_answers_until_then() {
        // The shipped readout reads feature 0 as class 0; the camera now shows class 1 there.
        let ckpt = identity_front([1.0, 0.0, 0.0, 1.0], [0.0, 0.0]);
        let shipped = AdaptiveReadout::from_checkpoint(&ckpt).unwrap();
        let mut m = shipped.clone();
        m.enable_guard(&shipped, Arbiter::Labels).unwrap();
        for _ in 0..200 {
            m.infer(&[1.0, 0.0]).unwrap();
            m.learn_label(1, DEFAULT_READOUT_RATE).unwrap();
        }
        assert_eq!(m.infer(&[1.0, 0.0]).unwrap().class, 1);
        // The shipped readout is untouched and still answers as before on its own.
        let mut alone = shipped.clone();
        assert_eq!(alone.infer(&[1.0, 0.0]).unwrap().class, 0);
    }

    #[test]
    fn the_logit_spread_is_the_mean_over_frames_of_the_logits_deviation() {
        let mut spread = LogitSpread::default();
        assert_eq!(spread.observe(&[1.0, 3.0]), 1.0);
        assert_eq!(spread.observe(&[0.0, 0.0, 6.0, 6.0]), 2.0);
        // A frame of broken logits is left out of the mean.
        assert_eq!(spread.observe(&[f32::NAN, 1.0]), 2.0);
        assert_eq!(spread.frames, 2);
    }

    #[test]
    fn the_replay_memory_keeps_teaching_an_earlier_label() {
        // Frame A = [1, 0] labelled 1 once, then frame B = [0, 1] labelled 0 five times: with the
        // replay, A's label keeps being learned while B's come in. The logits spread by 0.5,
        // so a rate of 60 is a rate of 1 on them.
        let ckpt = identity_front([1.0, 0.0, 0.0, 1.0], [0.0, 0.0]);
        let learn = |capacity, per_label| {
            let mut m = AdaptiveReadout::from_checkpoint(&ckpt).unwrap();
            m.set_replay(capacity, per_label);
            m.infer(&[1.0, 0.0]).unwrap();
            m.learn_label(1, 60.0).unwrap();
            for _ in 0..5 {
                m.infer(&[0.0, 1.0]).unwrap();
                m.learn_label(0, 60.0).unwrap();
            }
            m.infer(&[1.0, 0.0]).unwrap();
            m.outputs()[1] - m.outputs()[0]
        };
        let (alone, replayed) = (learn(0, 0), learn(10, 4));
        assert!(replayed > alone + 0.5, "{replayed} against {alone}");
        assert!(replayed > 0.0, "A is read as its label: {replayed}");
    }

    #[test]
    fn what_was_learned_comes_back_from_its_checkpoint() {
        let ckpt = identity_front([1.0, 0.5, -0.5, 1.0], [0.1, -0.1]);
        let shipped = AdaptiveReadout::from_checkpoint(&ckpt).unwrap();
        let mut m = shipped.clone();
        m.enable_guard(&shipped, Arbiter::Labels).unwrap();
        for label in [0, 1, 1, 0, 1] {
            m.infer(&[0.3, 0.9]).unwrap();
            m.learn_label(label, 1.0).unwrap();
        }
        let saved = m.checkpoint(
            serde_json::json!({"frames_seen": 5}),
            serde_json::Value::Null,
        );
        assert_eq!(saved.train["frames_seen"], 5);
        let mut back = AdaptiveReadout::from_checkpoint(&saved).unwrap();
        back.enable_guard(&shipped, Arbiter::Labels).unwrap();
        assert_eq!(back.readout, m.readout);
        assert_eq!(back.bias, m.bias);
        let guard = |r: &AdaptiveReadout| r.anchor.as_ref().unwrap().guard.to_json();
        assert_eq!(guard(&back), guard(&m));
        // The anchor is the shipped readout, not the saved one.
        assert_eq!(back.anchor.as_ref().unwrap().readout, shipped.readout);
    }

    #[test]
    fn a_label_out_of_range_and_models_without_a_dense_readout_are_refused() {
        let ckpt = identity_front([1.0, 0.0, 0.0, 1.0], [0.0, 0.0]);
        let mut m = AdaptiveReadout::from_checkpoint(&ckpt).unwrap();
        m.infer(&[1.0, 2.0]).unwrap();
        assert!(matches!(
            m.learn_label(2, 1.0),
            Err(Error::WrongLength { .. })
        ));
        let mut one_layer = ckpt.clone();
        one_layer.spec.layers.truncate(1);
        one_layer.layers.truncate(1);
        assert!(AdaptiveReadout::from_checkpoint(&one_layer).is_err());
    }

    /// Input 2x1 -> a 1x1 convolution that passes its input through -> readout `I`, bias
    /// `[0, 0.45]`, with `[1, 0]` and `[0, 1]` (mean 0.5, mean square 0.5) as the reference.
    fn conv_front() -> Checkpoint {
        let mut ckpt = identity_front([1.0, 0.0, 0.0, 1.0], [0.0, 0.45]);
        ckpt.spec.layers[0].outputs = 2;
        ckpt.spec.layers[0].conv = Some(plastic_models::Conv2d {
            in_channels: 1,
            height: 1,
            width: 2,
            out_channels: 1,
            kernel: 1,
            pool: 1,
            ..Default::default()
        });
        ckpt.layers[0] = LayerTensors {
            weight: Weights::F32(vec![1.0]),
            bias: Some(vec![0.0]),
            feedback: None,
        };
        ckpt.train = serde_json::json!({ ON_DEVICE: { "channels": { "reference": [
            { "layer": 0, "mean": [0.5], "square": [0.5] }
        ] } } });
        ckpt
    }

    #[test]
    fn aligned_channels_answer_a_dimmed_stream_as_the_original() {
        // Dimmed to 0.4 x + 0.1, [1, 0] reads [0.5, 0.1]: logits [0.5, 0.55], class 1 where
        // the original view gives class 0. The dimmed stream's mean is 0.3 and its spread 0.2
        // (the reference's: 0.5 and 0.5), so the aligned channel is (x - 0.3) 2.5 + 0.5, the
        // original frame again, and class 0.
        let ckpt = conv_front();
        let mut frozen = AdaptiveReadout::from_checkpoint(&ckpt).unwrap();
        let mut aligned = AdaptiveReadout::from_checkpoint(&ckpt).unwrap();
        aligned.enable_channel_alignment(4);
        let dim = |x: [f32; 2]| x.map(|v| 0.4 * v + 0.1);
        let (zero, one) = (dim([1.0, 0.0]), dim([0.0, 1.0]));
        for _ in 0..100 {
            aligned.infer(&zero).unwrap();
            aligned.infer(&one).unwrap();
        }
        assert_eq!(frozen.infer(&zero).unwrap().class, 1);
        assert_eq!(aligned.infer(&one).unwrap().class, 1);
        assert_eq!(aligned.infer(&zero).unwrap().class, 0);
        let features = aligned.features();
        assert!(
            (features[0] - 1.0).abs() < 0.1 && features[1].abs() < 0.1,
            "{features:?}"
        );
        // The running statistics go into the state, and come back from it.
        let state = aligned.checkpoint(serde_json::Value::Null, serde_json::Value::Null);
        let channels = &state.train[ON_DEVICE]["channels"];
        assert!((channels["running"][0]["mean"][0].as_f64().unwrap() - 0.3).abs() < 0.05);
        let mut resumed = AdaptiveReadout::from_checkpoint(&state).unwrap();
        resumed.enable_channel_alignment(4);
        assert_eq!(
            resumed.channel_alignment().unwrap().affine(0),
            aligned.channel_alignment().unwrap().affine(0)
        );
    }

    #[test]
    fn the_last_softhebb_convolution_learns_and_the_anchor_keeps_it_as_shipped() {
        let mut ckpt = conv_front();
        let mut m = AdaptiveReadout::from_checkpoint(&ckpt).unwrap();
        // Not a SoftHebb layer; then not without the channels aligned; then not at rate 0.
        m.enable_channel_alignment(4);
        assert!(matches!(
            m.enable_conv_learning(0.1),
            Err(Error::NotLearnable(_))
        ));
        ckpt.spec.layers[0].kind = LayerKind::SoftHebb { inv_tau: 1.0 };
        let shipped = AdaptiveReadout::from_checkpoint(&ckpt).unwrap();
        let mut m = shipped.clone();
        assert!(m.enable_conv_learning(0.1).is_err());
        m.enable_channel_alignment(4);
        assert!(m.enable_conv_learning(0.0).is_err());
        m.enable_guard(&shipped, AdaptiveReadout::arbiter(false))
            .unwrap();
        let before = m.memory_bytes();
        m.enable_conv_learning(0.1).unwrap();
        // The anchor now holds its own front end, the shipped one.
        assert!(m.memory_bytes() > before);
        let mut steps = 0;
        // Frames of two kinds, so that the aligned patches are not symmetric about the mean
        // (which would leave a one-filter layer where it is).
        for i in 0..10 {
            m.infer(if i % 2 == 0 { &[1.0, 0.0] } else { &[0.9, 0.7] })
                .unwrap();
            steps += usize::from(m.adapt_features().unwrap());
        }
        // The first frame makes the learner (the reference is known); each later one steps.
        assert_eq!(steps, 9);
        let state = m.checkpoint(serde_json::Value::Null, serde_json::Value::Null);
        let Weights::F32(learned) = &state.layers[0].weight else {
            panic!("an f32 model stays f32")
        };
        assert!((learned[0] - 1.0).abs() > 1e-3, "{learned:?}");
        // A device resumed from that state runs the shipped front end for its anchor.
        let mut resumed = AdaptiveReadout::from_checkpoint(&state).unwrap();
        let alone = resumed.memory_bytes();
        resumed
            .enable_guard(&shipped, AdaptiveReadout::arbiter(true))
            .unwrap();
        assert!(resumed.memory_bytes() >= alone + shipped.model.weight_bytes());
    }
}
