//! Frame to prediction: gray conversion, framing, normalisation, inference, learning.
//!
//! Why one struct: on the device every buffer of this path is sized once, before the first
//! frame, and reused; the loop must not allocate (a heap that fragments over days of uptime is a
//! crash waiting to happen). [`Pipeline::new`] allocates them all from the model's input spec;
//! only a camera frame larger than any seen before grows the gray buffer, once.
//!
//! The model is an [`Engine`]: a frozen [`Model`] (any checkpoint, f32 or int8) or an
//! [`AdaptiveModel`] (a Krotov layer and its readout, which can keep learning). Learning steps
//! read the input vector of the latest [`Pipeline::run`], so they cost no second
//! preprocessing.
//!
//! Framing follows the model: a 28x28x1 model was trained on MNIST or Fashion-MNIST, so the
//! frame is framed the way its training set was made ([`preprocess::frame_digit_in`]: a frame
//! that already is framed is used as it is; otherwise MNIST's digit framing or Fashion-MNIST's
//! object framing, as the checkpoint's dataset says; `--framing` chooses); any other model gets
//! the whole frame area-resized to its input ([`preprocess::resize_to_bytes`]), per channel
//! for colour models, each plane first cleaned of impulse noise ([`remove_impulses`]) unless
//! `--framing none` asks for the frame as it comes. A learning engine of digits then warps
//! the framed digit to undo a new view's tilt and pen ([`AdaptiveModel::warp_digit`]); its
//! anchor reads the digit as framed.

use std::time::{Duration, Instant};

use plastic_models::ModelSpec;
use plastic_runtime::adaptive::LabelRates;
use plastic_runtime::digit_shape::looks_like_a_digit;
use plastic_runtime::guard::Arbiter;
use plastic_runtime::impulse::remove_impulses;
use plastic_runtime::orientation::OrientationReport;
use plastic_runtime::plastic::StepOutcome;
use plastic_runtime::policy::LearningPolicy;
use plastic_runtime::preprocess::{self, FrameStyle, Framing, PixelFormat};
use plastic_runtime::{AdaptiveModel, AdaptiveReadout, Model, Precision, Prediction, Workspace};

use crate::camera::Frame;
use crate::error::Error;

/// Gray pixels the buffers are sized for up front: a QQVGA frame (the synthetic camera's).
const INITIAL_FRAME_PIXELS: usize = 160 * 120;

/// What an unsupervised learning step did (see [`Pipeline::adapt_unsupervised`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsupervisedStep {
    /// The weights changed: the Krotov layer's step, or the last convolution's.
    Stepped,
    /// The Krotov layer's step would have broken a guard, and the layer rolled back.
    RolledBack,
    /// Nothing to learn: a frozen engine, a convolution that does not learn, a step of rate 0.
    None,
}

/// What runs the frames: a frozen model, or one that learns on the device.
#[derive(Debug)]
pub enum Engine {
    /// Inference only, in the checkpoint's precision.
    Frozen {
        /// The model (boxed, like the adaptive one, so the enum stays small).
        model: Box<Model>,
        /// Its preallocated buffers.
        workspace: Workspace,
    },
    /// A Krotov layer and readout that can learn from frames and labels (boxed, so the enum
    /// stays small).
    Adaptive(Box<AdaptiveModel>),
    /// Any other model of two or more layers: its front end as shipped, its readout learning
    /// from labels (boxed, so the enum stays small).
    Readout(Box<AdaptiveReadout>),
}

impl From<Model> for Engine {
    fn from(model: Model) -> Self {
        Engine::Frozen {
            workspace: model.workspace(),
            model: Box::new(model),
        }
    }
}

impl From<AdaptiveModel> for Engine {
    fn from(model: AdaptiveModel) -> Self {
        Engine::Adaptive(Box::new(model))
    }
}

impl Engine {
    /// Whether this is a model learning through its readout ([`AdaptiveReadout`]).
    pub fn is_readout(&self) -> bool {
        matches!(self, Engine::Readout(_))
    }

    /// The arbiter the runtime prescribes for this engine's guard, with or without labels
    /// ([`AdaptiveModel::arbiter`], [`AdaptiveReadout::arbiter`]); `None` for a frozen engine.
    pub fn arbiter(&self, labelled: bool) -> Option<Arbiter> {
        match self {
            Engine::Frozen { .. } => None,
            Engine::Adaptive(_) => Some(AdaptiveModel::arbiter(labelled)),
            Engine::Readout(_) => Some(AdaptiveReadout::arbiter(labelled)),
        }
    }
}

impl From<AdaptiveReadout> for Engine {
    fn from(model: AdaptiveReadout) -> Self {
        Engine::Readout(Box::new(model))
    }
}

impl Engine {
    /// The model's spec.
    pub fn spec(&self) -> &ModelSpec {
        match self {
            Engine::Frozen { model, .. } => model.spec(),
            Engine::Adaptive(m) => m.spec(),
            Engine::Readout(m) => m.spec(),
        }
    }

    /// The precision inference runs in. An adaptive model infers from the int8 copy of its
    /// plastic layer (the readout, `classes x hidden`, stays f32), whatever the checkpoint held.
    pub fn precision(&self) -> Precision {
        match self {
            Engine::Frozen { model, .. } => model.precision(),
            Engine::Adaptive(_) => Precision::Int8,
            Engine::Readout(m) => m.precision(),
        }
    }

    /// Bytes of weights held: for an adaptive model its master copy (f16 or f32) as well as
    /// the int8 copy inference reads.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Engine::Frozen { model, .. } => model.weight_bytes(),
            Engine::Adaptive(m) => m.memory_bytes(),
            Engine::Readout(m) => m.memory_bytes(),
        }
    }

    /// The adaptive model, if this engine learns.
    pub fn adaptive(&self) -> Option<&AdaptiveModel> {
        match self {
            Engine::Frozen { .. } | Engine::Readout(_) => None,
            Engine::Adaptive(m) => Some(m),
        }
    }

    /// What a learning engine has learned, as a checkpoint for its state file (`train` and
    /// `metrics` as given, the engine's own state added to `train`); `None` for a frozen one.
    pub fn checkpoint(
        &self,
        train: serde_json::Value,
        metrics: serde_json::Value,
    ) -> Option<plastic_models::Checkpoint> {
        match self {
            Engine::Frozen { .. } => None,
            Engine::Adaptive(m) => Some(m.checkpoint(train, metrics)),
            Engine::Readout(m) => Some(m.checkpoint(train, metrics)),
        }
    }

    /// Whether this engine can change its weights (an adaptive or a readout-learning one).
    pub fn learns(&self) -> bool {
        !matches!(self, Engine::Frozen { .. })
    }

    /// Bytes of the shipped weights a learning engine runs beside itself, held apart from its
    /// memory (flash on a device). A readout-learning engine's anchor is its shipped readout,
    /// held in memory and counted in [`Engine::memory_bytes`]: 0 here.
    pub fn anchor_bytes(&self) -> usize {
        match self {
            Engine::Adaptive(m) => m.anchor_bytes(),
            Engine::Frozen { .. } | Engine::Readout(_) => 0,
        }
    }

    /// The guard's counters, when a learning engine runs the shipped model beside itself.
    pub fn guard_stats(&self) -> Option<plastic_runtime::guard::GuardStats> {
        match self {
            Engine::Frozen { .. } => None,
            Engine::Adaptive(m) => m.guard_stats(),
            Engine::Readout(m) => m.guard_stats(),
        }
    }

    /// Both models' answers on the latest frame, when a learning engine runs the shipped model
    /// beside itself.
    pub fn last_judgement(&self) -> Option<plastic_runtime::guard::Judgement> {
        match self {
            Engine::Frozen { .. } => None,
            Engine::Adaptive(m) => m.last_judgement(),
            Engine::Readout(m) => m.last_judgement(),
        }
    }

    /// Default rate of a label's readout step: the Krotov device's delta rule
    /// ([`crate::device::DEFAULT_ETA`]) or the normalised step of any other model's readout
    /// ([`plastic_runtime::adaptive_readout::DEFAULT_READOUT_RATE`]).
    pub fn default_eta(&self) -> f32 {
        match self {
            Engine::Readout(_) => plastic_runtime::adaptive_readout::DEFAULT_READOUT_RATE,
            _ => crate::device::DEFAULT_ETA,
        }
    }

    /// The last layer's outputs after the latest inference.
    pub fn outputs(&self) -> &[f32] {
        match self {
            Engine::Frozen { model, workspace } => workspace.outputs(model),
            Engine::Adaptive(m) => m.outputs(),
            Engine::Readout(m) => m.outputs(),
        }
    }

    /// Every class's confidence after the latest inference, on the scale of the prediction's
    /// (see [`plastic_runtime::class_confidences`]), into `conf`.
    pub fn class_confidences(&self, conf: &mut [f32]) {
        let last = self.spec().layers.last().map(|l| &l.activation);
        plastic_runtime::class_confidences(self.outputs(), last, conf);
    }

    fn infer(&mut self, input: &[f32]) -> Result<Prediction, Error> {
        Ok(match self {
            Engine::Frozen { model, workspace } => model.infer(input, workspace)?,
            Engine::Adaptive(m) => m.infer(input)?,
            Engine::Readout(m) => m.infer(input)?,
        })
    }
}

/// The model plus every buffer needed to run it on camera frames.
#[derive(Debug)]
pub struct Pipeline {
    engine: Engine,
    /// The model reads 28x28 gray images (MNIST's or Fashion-MNIST's), so frames are framed
    /// ([`Framing`]) rather than resized whole.
    framed_28x28: bool,
    framing: Framing,
    /// The frame as 8-bit gray (or one colour plane of it).
    gray: Vec<u8>,
    /// Area-resized plane, 0..255 scale.
    resized: Vec<f32>,
    /// A plane cleaned of impulse noise, when it had any (models that are not framed).
    clean: Vec<u8>,
    /// The digit framing's buffers (grown to the camera's frame on its first frame).
    framing_buffers: preprocess::FramingBuffers,
    /// The model's input as bytes, channel-planar: what the display shows.
    pixels: Vec<u8>,
    /// The normalised input vector.
    input: Vec<f32>,
    /// The digit as framed, before an adaptive engine's warp (see
    /// [`AdaptiveModel::warp_digit`]): what the anchor reads. Empty unless digits are warped.
    framed: Vec<u8>,
    /// `framed`, normalised.
    framed_input: Vec<f32>,
    /// The warp the latest frame's digit was read through, if it was warped.
    applied_warp: Option<plastic_runtime::digit_warp::Warp>,
    /// Whether the latest frame's framed picture had a digit's shape (see
    /// [`Pipeline::saw_a_digit`]).
    saw_a_digit: Option<bool>,
}

/// What one frame cost, split by stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// Gray conversion, framing or resizing, normalisation.
    pub preprocess: Duration,
    /// The model's forward pass.
    pub infer: Duration,
}

impl Pipeline {
    /// Checks that the model's input is one the camera path can make (1 or 3 channels) and
    /// allocates the buffers.
    pub fn new(engine: impl Into<Engine>) -> Result<Self, Error> {
        let engine = engine.into();
        let input = &engine.spec().input;
        let (width, height, channels) = (input.width, input.height, input.channels);
        if !(channels == 1 || channels == 3) {
            return Err(Error::UnsupportedInput {
                width,
                height,
                channels,
            });
        }
        let framed_28x28 = (width, height, channels) == (28, 28, 1);
        let len = input.len();
        Ok(Self {
            framed_28x28,
            framing: Framing::default(),
            gray: Vec::with_capacity(INITIAL_FRAME_PIXELS),
            resized: vec![0.0; width * height],
            clean: Vec::new(),
            framing_buffers: preprocess::FramingBuffers::default(),
            pixels: vec![0; len],
            input: vec![0.0; len],
            framed: Vec::new(),
            framed_input: Vec::new(),
            applied_warp: None,
            saw_a_digit: None,
            engine,
        })
    }

    /// How frames become the 28x28 input of a model of 28x28 gray images (default: already
    /// framed images as they are, anything else framed as MNIST's digits were).
    pub fn with_framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// What runs the frames.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Bytes of the preprocessing buffers (their capacity: what they hold on to).
    pub fn buffer_bytes(&self) -> usize {
        self.gray.capacity()
            + self.resized.capacity() * 4
            + self.clean.capacity()
            + self.framing_buffers.memory_bytes()
            + self.pixels.capacity()
            + self.input.capacity() * 4
            + self.framed.capacity()
            + self.framed_input.capacity() * 4
    }

    /// One unsupervised learning step on the input of the latest [`Pipeline::run`]: the Krotov
    /// layer's step, or the step of a readout engine's last convolution when it learns.
    pub fn adapt_unsupervised(&mut self, eps: f32) -> Result<UnsupervisedStep, Error> {
        match &mut self.engine {
            Engine::Frozen { .. } => Ok(UnsupervisedStep::None),
            Engine::Readout(m) => Ok(if m.adapt_features()? {
                UnsupervisedStep::Stepped
            } else {
                UnsupervisedStep::None
            }),
            Engine::Adaptive(m) => Ok(match m.adapt_unsupervised(&self.input, eps)? {
                StepOutcome::Updated { .. } => UnsupervisedStep::Stepped,
                StepOutcome::RolledBack => UnsupervisedStep::RolledBack,
                StepOutcome::Skipped => UnsupervisedStep::None,
            }),
        }
    }

    /// From now on, an adaptive engine runs `shipped` beside itself as its anchor (see
    /// [`AdaptiveModel::enable_guard`]); a frozen engine, or a shipped engine that is not
    /// adaptive, is left as it is.
    pub fn enable_guard(&mut self, shipped: &Engine, arbiter: Arbiter) -> Result<(), Error> {
        match (&mut self.engine, shipped) {
            (Engine::Adaptive(m), Engine::Adaptive(anchor)) => m.enable_guard(anchor, arbiter)?,
            (Engine::Readout(m), Engine::Readout(anchor)) => m.enable_guard(anchor, arbiter)?,
            _ => {}
        }
        Ok(())
    }

    /// From now on a readout-learning engine of 28x28 digits (the built-in SoftHebb device)
    /// reads each framed digit in the camera's orientation as `shipped` finds it (see
    /// [`plastic_runtime::orientation`]), before its warp and its anchor. False, and nothing
    /// on, for a frozen engine, another model, or a Krotov engine: the finder's constants were
    /// chosen on the SoftHebb device's logits, and the Krotov demo's tanh outputs separate the
    /// orientations less (on a sideways camera it turned away again 20 times, and on the bank's
    /// `thick-pen` it read 1.2 points below a frozen device in a window).
    ///
    /// The digit is turned in place in `self.pixels`, so this needs none of the warp's buffers.
    pub fn enable_orientation(&mut self, shipped: Model) -> Result<bool, Error> {
        Ok(match &mut self.engine {
            Engine::Readout(m) => m.enable_orientation(shipped)?,
            Engine::Adaptive(_) | Engine::Frozen { .. } => false,
        })
    }

    /// From now on a learning engine learns without labels from digits only (see
    /// [`AdaptiveModel::learn_from_digits_only`]); a frozen engine is left as it is. For models
    /// of digits framed as MNIST's.
    pub fn learn_from_digits_only(&mut self) {
        match &mut self.engine {
            Engine::Adaptive(m) => m.learn_from_digits_only(),
            Engine::Readout(m) => m.learn_from_digits_only(),
            Engine::Frozen { .. } => {}
        }
    }

    /// Whether the latest [`Pipeline::run`]'s framed picture had a digit's shape (see
    /// [`plastic_runtime::digit_shape`]): as the learning engine judged it when it learns
    /// from digits only, else judged here for a model of 28x28 gray images framed as MNIST's
    /// digits; `None` for other models and framings.
    pub fn saw_a_digit(&self) -> Option<bool> {
        self.saw_a_digit
    }

    /// The camera's orientation as a learning engine has found it, with the turns taken and
    /// refused; `None` when orientation is off.
    pub fn orientation(&self) -> Option<OrientationReport> {
        match &self.engine {
            Engine::Adaptive(m) => m.orientation(),
            Engine::Readout(m) => m.orientation(),
            Engine::Frozen { .. } => None,
        }
    }

    /// Turns on what `policy` asks of the learning engine (see
    /// [`AdaptiveModel::enable_policy`] and [`AdaptiveReadout::enable_policy`]); a frozen engine
    /// is left as it is. A convolution's rule that the model cannot run is refused with the
    /// reason ([`Error::ConvLearning`]).
    pub fn enable_policy(&mut self, policy: &LearningPolicy) -> Result<(), Error> {
        let refused = |reason| Error::ConvLearning {
            rate: policy.conv_rate,
            reason,
        };
        let conv_refused = |e| match e {
            plastic_runtime::Error::NotLearnable(reason) => refused(reason),
            other => other.into(),
        };
        let warps = match &mut self.engine {
            Engine::Adaptive(m) => {
                m.enable_policy(policy).map_err(conv_refused)?;
                m.digit_alignment().is_some()
            }
            Engine::Readout(m) => {
                m.enable_policy(policy).map_err(conv_refused)?;
                m.digit_alignment().is_some()
            }
            Engine::Frozen { .. } => false,
        };
        if warps {
            self.framed = vec![0; 784];
            self.framed_input = vec![0.0; self.input.len()];
        }
        Ok(())
    }

    /// The steps a label brings to an adaptive engine, from the latest [`Pipeline::run`]: when
    /// `recruit` is set and the model answered wrong, a unit recruited for the frame (see
    /// [`AdaptiveModel::recruit`]); the Krotov layer's supervised step at rate `eps` (none when
    /// 0); then the readout's delta-rule step at rate `eta`. False (nothing done) for a frozen
    /// engine.
    pub fn adapt_label(
        &mut self,
        label: usize,
        eta: f32,
        eps: f32,
        recruit: bool,
    ) -> Result<bool, Error> {
        match &mut self.engine {
            Engine::Frozen { .. } => Ok(false),
            Engine::Adaptive(m) => {
                m.learn_label(&self.input, label, LabelRates { eta, eps, recruit })?;
                Ok(true)
            }
            Engine::Readout(m) => {
                m.learn_label(label, eta)?;
                Ok(true)
            }
        }
    }

    /// What the readout read in the latest [`Pipeline::run`]: an adaptive engine's hidden code,
    /// a frozen model's last layer's input; `None` for a one-layer model.
    pub fn hidden(&self) -> Option<&[f32]> {
        match &self.engine {
            Engine::Frozen { model, workspace } => workspace.features(model),
            Engine::Adaptive(m) => Some(m.hidden()),
            Engine::Readout(m) => Some(m.features()),
        }
    }

    /// The model's input after the latest [`Pipeline::run`], as bytes (channel-planar).
    pub fn input_pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Runs one frame through preprocessing and the model.
    pub fn run(&mut self, frame: &Frame) -> Result<(Prediction, StageTimes), Error> {
        let start = Instant::now();
        self.applied_warp = None;
        self.prepare(frame)?;
        self.orient_digit();
        self.saw_a_digit = self.judge_digit();
        self.applied_warp = self.warp_digit();
        let warped = self.applied_warp.is_some();
        let preprocess_spec = &self.engine.spec().input.preprocess;
        preprocess::normalize(&self.pixels, preprocess_spec, &mut self.input)?;
        if warped {
            preprocess::normalize(&self.framed, preprocess_spec, &mut self.framed_input)?;
        }
        let prepared = Instant::now();
        let prediction = match (&mut self.engine, warped) {
            (Engine::Adaptive(m), true) => {
                m.infer_beside_anchor(&self.input, &self.framed_input)?
            }
            (Engine::Readout(m), true) => m.infer_beside_anchor(&self.input, &self.framed_input)?,
            (engine, _) => engine.infer(&self.input)?,
        };
        let times = StageTimes {
            preprocess: prepared - start,
            infer: prepared.elapsed(),
        };
        Ok((prediction, times))
    }

    /// The warp the latest [`Pipeline::run`] read the digit through; `None` when it was not
    /// warped.
    pub fn applied_warp(&self) -> Option<plastic_runtime::digit_warp::Warp> {
        self.applied_warp
    }

    /// When a learning engine finds the camera's orientation, turns the framed digit in
    /// `self.pixels` into it (before the warp, so the anchor reads it turned too).
    fn orient_digit(&mut self) {
        let Ok(pixels) = <&mut [u8; 784]>::try_from(&mut self.pixels[..]) else {
            return;
        };
        match &mut self.engine {
            Engine::Adaptive(m) => m.orient_digit(pixels),
            Engine::Readout(m) => m.orient_digit(pixels),
            Engine::Frozen { .. } => None,
        };
    }

    /// Whether the framed picture in `self.pixels` has a digit's shape: the learning engine's
    /// verdict when it judges pictures, else this pipeline's for MNIST-framed 28x28 models.
    fn judge_digit(&self) -> Option<bool> {
        let engine = match &self.engine {
            Engine::Adaptive(m) => m.saw_a_digit(),
            Engine::Readout(m) => m.saw_a_digit(),
            Engine::Frozen { .. } => None,
        };
        let digits = matches!(
            self.framing,
            Framing::Auto(FrameStyle::Mnist) | Framing::Always(FrameStyle::Mnist)
        );
        engine.or_else(|| {
            let pixels = <&[u8; 784]>::try_from(&self.pixels[..]).ok()?;
            (self.framed_28x28 && digits).then(|| looks_like_a_digit(pixels))
        })
    }

    /// When an adaptive engine warps digits (`self.framed` is allocated only then): the framed
    /// digit moves to `self.framed` and `self.pixels` gets it as the engine warps it. The warp
    /// applied, if any.
    fn warp_digit(&mut self) -> Option<plastic_runtime::digit_warp::Warp> {
        let (Ok(framed), Ok(pixels)) = (
            <&mut [u8; 784]>::try_from(&mut self.framed[..]),
            <&mut [u8; 784]>::try_from(&mut self.pixels[..]),
        ) else {
            return None;
        };
        framed.copy_from_slice(pixels);
        match &mut self.engine {
            Engine::Adaptive(m) => m.warp_digit(framed, pixels),
            Engine::Readout(m) => m.warp_digit(framed, pixels),
            Engine::Frozen { .. } => None,
        }
    }

    /// Fills `self.pixels` from the frame.
    fn prepare(&mut self, frame: &Frame) -> Result<(), Error> {
        let (fw, fh) = (frame.width, frame.height);
        let expected = fw * fh * frame.format.bytes_per_pixel();
        if fw == 0 || fh == 0 || frame.data.len() != expected {
            return Err(Error::BadFrame {
                width: fw,
                height: fh,
                bytes: frame.data.len(),
            });
        }
        let input = &self.engine.spec().input;
        let (w, h) = (input.width, input.height);
        self.gray.resize(fw * fh, 0);
        if self.framed_28x28 {
            preprocess::to_gray(&frame.data, frame.format, &mut self.gray)?;
            let out: &mut [u8; 784] = (&mut self.pixels[..])
                .try_into()
                .expect("a 28x28x1 input holds 784 pixels");
            preprocess::frame_digit_in(
                &self.gray,
                fw,
                fh,
                self.framing,
                &mut self.framing_buffers,
                out,
            )?;
            return Ok(());
        }
        for c in 0..input.channels {
            match (frame.format, input.channels) {
                (PixelFormat::Rgb24, 3) => {
                    for (g, px) in self.gray.iter_mut().zip(frame.data.chunks_exact(3)) {
                        *g = px[c];
                    }
                }
                // A gray model sees luma; a colour model fed a gray camera sees gray planes.
                _ if c == 0 => preprocess::to_gray(&frame.data, frame.format, &mut self.gray)?,
                _ => {}
            }
            let plane = &mut self.pixels[c * w * h..(c + 1) * w * h];
            // Dead and hot pixels off each plane first (CIFAR-10-C's impulse noise at 6 % took
            // a CIFAR-10 model from 69 to 23 %; docs/RESULTS.md, "Impulse noise ...").
            let source = if self.framing != Framing::None
                && remove_impulses(&self.gray, fw, fh, &mut self.clean)
            {
                &self.clean
            } else {
                &self.gray
            };
            preprocess::resize_to_bytes(source, fw, fh, &mut self.resized, plane, w, h);
        }
        Ok(())
    }
}

/// How a precision is written in summaries and on screen.
pub fn precision_name(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "f32",
        Precision::Int8 => "int8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plastic_models::{
        Activation, Checkpoint, InputSpec, LayerKind, LayerSpec, LayerTensors, ModelSpec,
        Preprocess, Weights,
    };

    /// A model whose single output is the sum of its inputs (Scale01), so the result tells
    /// what the pipeline fed it.
    fn summing_model(width: usize, height: usize, channels: usize) -> Model {
        let len = width * height * channels;
        let ckpt = Checkpoint {
            spec: ModelSpec {
                name: "sum".into(),
                input: InputSpec {
                    width,
                    height,
                    channels,
                    preprocess: Preprocess::Scale01,
                },
                layers: vec![LayerSpec {
                    kind: LayerKind::Dense,
                    inputs: len,
                    outputs: 1,
                    bias: false,
                    activation: Activation::Identity,
                    conv: None,
                }],
                classes: vec![],
            },
            layers: vec![LayerTensors {
                weight: Weights::F32(vec![1.0; len]),
                bias: None,
                feedback: None,
            }],
            train: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
        };
        Model::from_checkpoint(&ckpt).unwrap()
    }

    fn frame(width: usize, height: usize, format: PixelFormat, data: Vec<u8>) -> Frame {
        Frame {
            width,
            height,
            format,
            data,
            label: None,
        }
    }

    #[test]
    fn colour_models_get_one_resized_plane_per_channel() {
        let mut p = Pipeline::new(summing_model(2, 1, 3)).unwrap();
        // 4x1 RGB frame: red ramps, green constant, blue zero.
        let data = vec![0, 50, 0, 100, 50, 0, 200, 50, 0, 255, 50, 0];
        p.run(&frame(4, 1, PixelFormat::Rgb24, data)).unwrap();
        // Red: mean(0, 100) = 50, mean(200, 255) = 227.5 -> 228.
        assert_eq!(p.input_pixels(), &[50, 228, 50, 50, 0, 0]);
    }

    #[test]
    fn a_colour_frame_with_impulse_noise_is_cleaned_plane_by_plane_unless_framing_is_none() {
        // 16x16 RGB of a smooth ramp, then 24 lone specks three pixels apart, eight in each
        // plane, each 0 or 255.
        let clean: Vec<u8> = (0..256)
            .flat_map(|i| [100 + (i % 16) as u8, 120, 140 - (i / 16) as u8])
            .collect();
        let mut noisy = clean.clone();
        for k in 0..24 {
            let (x, y) = (1 + 3 * (k % 5), 1 + 3 * (k / 5));
            noisy[(y * 16 + x) * 3 + k % 3] = if k % 2 == 0 { 255 } else { 0 };
        }
        let input = |framing: Framing, data: &[u8]| {
            let mut p = Pipeline::new(summing_model(4, 4, 3))
                .unwrap()
                .with_framing(framing);
            p.run(&frame(16, 16, PixelFormat::Rgb24, data.to_vec()))
                .unwrap();
            p.input_pixels().to_vec()
        };
        let auto = Framing::default();
        assert_eq!(input(auto, &noisy), input(auto, &clean));
        assert_ne!(input(Framing::None, &noisy), input(Framing::None, &clean));
    }

    #[test]
    fn mnist_models_get_a_framed_digit_and_bad_frames_are_errors() {
        let mut p = Pipeline::new(summing_model(28, 28, 1)).unwrap();
        let mut paper = vec![230u8; 60 * 40];
        for y in 5..30 {
            for x in 20..26 {
                paper[y * 60 + x] = 20;
            }
        }
        p.run(&frame(60, 40, PixelFormat::Gray8, paper)).unwrap();
        let lit = p.input_pixels().iter().filter(|&&v| v > 200).count();
        assert!(lit > 40, "{lit} bright pixels");
        assert!(matches!(
            p.run(&frame(60, 40, PixelFormat::Gray8, vec![0; 10])),
            Err(Error::BadFrame { .. })
        ));
    }

    #[test]
    fn two_channel_models_are_refused() {
        assert!(matches!(
            Pipeline::new(summing_model(2, 2, 2)),
            Err(Error::UnsupportedInput { channels: 2, .. })
        ));
    }
}
