//! Label-free adaptation of a convolutional front end: each convolution's input channels are
//! brought back to the statistics they had where the model was trained.
//!
//! A convolution trained behind a batch norm (SoftHebb's blocks, whose norms the export folds
//! into the filters) expects each input channel at the mean and spread it saw in training.
//! Dim light, a thinner pen, sensor noise or blur move those moments, and every filter after
//! them answers off its operating point. Re-estimating the norm's statistics on the new stream
//! (AdaBN: Li, Wang, Shi, Liu & Hou 2016; as covariate-shift adaptation for corruptions:
//! Schneider, Rusak, Eck, Bringmann, Brendel & Bethge 2020) undoes much of that without a
//! label and without touching a weight. Here, before each convolution, every input channel is
//! mapped `x' = (x - m) s_ref / s + m_ref`: `m`, `s` the channel's running mean and spread on
//! the stream (over about the last [`DEFAULT_CHANNEL_HORIZON`] frames, measured on what the
//! earlier, already aligned layers give), `m_ref`, `s_ref` its reference moments. On the
//! reference stream the map is the identity; the statistics are a few floats per channel.
//!
//! The running moments are kept per class the device answered and averaged over the classes,
//! as the hidden code's drift correction does ([`crate::align`]): a stream that shows one class
//! more often than the others (a label shift, not a new view) moves a channel's moments as a
//! new view would, and aligning to it cost 0.8 points in a window of the bank's `one-class`
//! scenario; weighed per class, a change in the mix of classes moves nothing.
//!
//! The reference moments come with the model (`train.on_device.channels` of the checkpoint,
//! measured by the runtime itself on training images: [`ChannelAlignment::measure`]) or, for a
//! model without them, from the first [`DEFAULT_REFERENCE_FRAMES`] frames the device sees,
//! during which nothing changes. The gain `s_ref / s` stays within `1 / MAX_GAIN ..= MAX_GAIN`,
//! so a blank or saturated stream cannot blow a channel up.

use alloc::vec;
use alloc::vec::Vec;
use plastic_models::ModelSpec;
use serde_json::{Value, json};

use crate::{Error, Model, Result};

/// Frames over which the running moments average (each class's own average spans its share
/// of them: `horizon / classes` frames of that class).
pub const DEFAULT_CHANNEL_HORIZON: u32 = 500;

/// Frames measured as the reference when the model brings none.
pub const DEFAULT_REFERENCE_FRAMES: u32 = 500;

/// Frames over which the first convolution's input moments are also followed fast, pooled
/// over classes, to see the original view come back (see [`ChannelAlignment::commit`]).
pub const RETURN_FRAMES: f32 = 20.0;
/// How much nearer the reference than the running moments the fast ones must be for the view
/// to count as back: at most this share of the distance.
pub const RETURN_RATIO: f32 = 0.5;

/// Bound on the gain `s_ref / s` (and its inverse).
pub const MAX_GAIN: f32 = 4.0;

/// Smallest spread a channel is divided by (in the channel's own units).
const MIN_SPREAD: f32 = 1e-4;

/// A channel's mean and mean square.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Moments {
    /// `E[x]` over a frame's positions (and frames, for a running or reference moment).
    pub mean: f32,
    /// `E[x^2]` over the same.
    pub square: f32,
}

impl Moments {
    /// The spread, `sqrt(E[x^2] - E[x]^2)`, never below `MIN_SPREAD`.
    pub fn spread(&self) -> f32 {
        libm::sqrtf((self.square - self.mean * self.mean).max(0.0)).max(MIN_SPREAD)
    }

    fn of(plane: &[f32]) -> Self {
        let n = plane.len().max(1) as f32;
        let (sum, squares) = plane
            .iter()
            .fold((0.0f32, 0.0f32), |(s, q), &x| (s + x, q + x * x));
        Self {
            mean: sum / n,
            square: squares / n,
        }
    }

    fn approach(&mut self, to: Moments, rate: f32) {
        self.mean += rate * (to.mean - self.mean);
        self.square += rate * (to.square - self.square);
    }
}

/// The gain `s_ref / s` that brings a channel's spread on the stream back to its reference,
/// within `1 / MAX_GAIN ..= MAX_GAIN`.
fn gain(reference: &Moments, stream: &Moments) -> f32 {
    (reference.spread() / stream.spread()).clamp(1.0 / MAX_GAIN, MAX_GAIN)
}

/// How far moments `a` are from moments `b`, per channel `|a.mean - b.mean| / s_ref +
/// |ln(a.spread / b.spread)|` with `s_ref` the reference's spread, averaged over the channels.
fn distance(a: &[Moments], b: &[Moments], reference: &[Moments]) -> f32 {
    let sum: f32 = a
        .iter()
        .zip(b)
        .zip(reference)
        .map(|((a, b), r)| {
            (a.mean - b.mean).abs() / r.spread() + libm::logf(a.spread() / b.spread()).abs()
        })
        .sum();
    sum / a.len().max(1) as f32
}

/// One convolution's input channels: their reference moments, running moments per class, the
/// class average the alignment uses, and the latest frame's moments.
#[derive(Debug, Clone)]
struct LayerChannels {
    /// Index of the layer in the model.
    layer: usize,
    /// Values per channel plane (`height * width`).
    plane: usize,
    reference: Vec<Moments>,
    /// `classes x channels`, class-major.
    running: Vec<Moments>,
    balanced: Vec<Moments>,
    latest: Vec<Moments>,
}

impl LayerChannels {
    fn channels(&self) -> usize {
        self.reference.len()
    }

    /// Every class's running moments and their average set to the reference.
    fn reset_to_reference(&mut self) {
        for (i, r) in self.running.iter_mut().enumerate() {
            *r = self.reference[i % self.reference.len()];
        }
        self.balanced.clone_from(&self.reference);
    }

    fn rebalance(&mut self) {
        let (channels, classes) = (self.channels(), self.running.len() / self.channels());
        for (c, b) in self.balanced.iter_mut().enumerate() {
            let (mean, square) = (0..classes)
                .map(|k| self.running[k * channels + c])
                .fold((0.0, 0.0), |(m, q), r| (m + r.mean, q + r.square));
            *b = Moments {
                mean: mean / classes as f32,
                square: square / classes as f32,
            };
        }
    }
}

/// The channel statistics of every convolution of a model, and their alignment.
#[derive(Debug, Clone)]
pub struct ChannelAlignment {
    layers: Vec<LayerChannels>,
    classes: usize,
    horizon: u32,
    /// Frames committed; while it is below `reference_frames` they are measured as the
    /// reference.
    frames: u64,
    reference_frames: u32,
    /// The first convolution's input moments over the last [`RETURN_FRAMES`], pooled over
    /// classes, and the frames they have seen since the reference was known or last reset.
    fast: Vec<Moments>,
    fast_frames: u32,
    /// Times the running moments went back to the reference because the view came back.
    returns: u32,
}

impl ChannelAlignment {
    /// For `spec`'s convolutions, with the reference moments saved in `saved` (the value
    /// [`ChannelAlignment::to_json`] wrote) when they fit the model, or else measured on the
    /// first [`DEFAULT_REFERENCE_FRAMES`] frames. `None` for a model without convolutions.
    pub fn new(spec: &ModelSpec, saved: &Value) -> Option<Self> {
        let classes = spec.output_len().max(1);
        let layers: Vec<LayerChannels> = spec
            .layers
            .iter()
            .enumerate()
            .filter_map(|(layer, l)| l.conv.map(|c| (layer, c)))
            .map(|(layer, c)| LayerChannels {
                layer,
                plane: c.height * c.width,
                reference: vec![Moments::default(); c.in_channels],
                running: vec![Moments::default(); classes * c.in_channels],
                balanced: vec![Moments::default(); c.in_channels],
                latest: vec![Moments::default(); c.in_channels],
            })
            .collect();
        if layers.is_empty() {
            return None;
        }
        let first_channels = layers[0].channels();
        let mut alignment = Self {
            layers,
            classes,
            horizon: DEFAULT_CHANNEL_HORIZON,
            frames: 0,
            reference_frames: DEFAULT_REFERENCE_FRAMES,
            fast: vec![Moments::default(); first_channels],
            fast_frames: 0,
            returns: 0,
        };
        if alignment.restore(&saved["reference"], 1, |l, m| l.reference = m) {
            alignment.reference_frames = 0;
            for l in &mut alignment.layers {
                l.reset_to_reference();
            }
            let classes = alignment.classes;
            if alignment.restore(&saved["running"], classes, |l, m| l.running = m) {
                alignment.frames = saved["frames"].as_u64().unwrap_or(0);
                for l in &mut alignment.layers {
                    l.rebalance();
                }
            }
        }
        Some(alignment)
    }

    /// The reference moments of `model`'s convolution inputs, measured over `inputs`
    /// (preprocessed, as the model reads them): what a checkpoint carries so that a device
    /// aligns from its first frame, whatever that frame shows. `None` for a model without
    /// convolutions; an error for no input or an input the model refuses. The inputs are
    /// taken one at a time, so they can be made as they are measured.
    pub fn measure<I: AsRef<[f32]>>(
        model: &Model,
        inputs: impl IntoIterator<Item = I>,
    ) -> Result<Option<Self>> {
        let Some(mut alignment) = Self::new(model.spec(), &Value::Null) else {
            return Ok(None);
        };
        alignment.reference_frames = u32::MAX;
        let mut ws = model.workspace();
        let depth = model.spec().layers.len();
        for input in inputs {
            model.forward_with(input.as_ref(), depth, &mut ws, |l, x| {
                alignment.observe_and_align(l, x)
            })?;
            alignment.commit(0);
        }
        if alignment.frames == 0 {
            return Err(Error::WrongLength {
                what: "reference inputs",
                expected: 1,
                found: 0,
            });
        }
        alignment.reference_frames = 0;
        alignment.frames = 0;
        for l in &mut alignment.layers {
            l.reset_to_reference();
        }
        Ok(Some(alignment))
    }

    /// Frames over which the running moments average (at least 1).
    pub fn set_horizon(&mut self, frames: u32) {
        self.horizon = frames.max(1);
    }

    /// Whether the reference is still being measured (nothing is aligned yet).
    pub fn measuring_reference(&self) -> bool {
        self.frames < u64::from(self.reference_frames)
    }

    /// Measures `input`, the input of model layer `layer`, and aligns it in place to the
    /// running moments as they were before this frame (a layer that is not a convolution is
    /// left alone). Call it for each layer of a frame, in order (a layer's moments are those of
    /// what the aligned layers before it give), then [`ChannelAlignment::commit`] the frame.
    pub fn observe_and_align(&mut self, layer: usize, input: &mut [f32]) {
        let measuring = self.measuring_reference();
        let Some(channels) = self.layers.iter_mut().find(|l| l.layer == layer) else {
            return;
        };
        let plane = channels.plane;
        for ((plane, latest), (reference, balanced)) in input
            .chunks_exact_mut(plane)
            .zip(channels.latest.iter_mut())
            .zip(channels.reference.iter().zip(&channels.balanced))
        {
            *latest = Moments::of(plane);
            if measuring {
                continue;
            }
            let gain = gain(reference, balanced);
            let (from, to) = (balanced.mean, reference.mean);
            for x in plane.iter_mut() {
                *x = (*x - from) * gain + to;
            }
        }
    }

    /// Takes the latest frame's moments into the running moments of `class`, the class the
    /// device answered for it (into the reference while that is being measured). A class out
    /// of range is ignored.
    pub fn commit(&mut self, class: usize) {
        if class >= self.classes {
            return;
        }
        self.frames += 1;
        if self.measuring_reference() || self.frames == u64::from(self.reference_frames) {
            // The reference is the plain mean of the frames measured.
            let rate = 1.0 / self.frames as f32;
            for l in &mut self.layers {
                for (r, latest) in l.reference.iter_mut().zip(&l.latest) {
                    r.approach(*latest, rate);
                }
                l.reset_to_reference();
            }
            return;
        }
        let rate = (self.classes as f32 / self.horizon as f32).min(1.0);
        for l in &mut self.layers {
            let channels = l.channels();
            let running = &mut l.running[class * channels..(class + 1) * channels];
            for (r, latest) in running.iter_mut().zip(&l.latest) {
                r.approach(*latest, rate);
            }
            l.rebalance();
        }
        self.watch_for_return();
    }

    /// Follows the first convolution's input moments fast and, once the latest frames are
    /// clearly nearer the reference than the running moments are (the new view has gone and
    /// the original is back), sets the running moments of every layer back to the reference
    /// instead of letting them take a horizon to return. Why the first convolution's input:
    /// nothing aligned before it moves it, so it shows the camera as it is. Why it is safe:
    /// moments at the reference make the aligned front end the shipped one; a return seen
    /// wrongly costs what the alignment had won, until it wins it again, never more.
    fn watch_for_return(&mut self) {
        let first = &self.layers[0];
        let rate = 1.0 / RETURN_FRAMES.min(self.fast_frames as f32 + 1.0);
        for (f, latest) in self.fast.iter_mut().zip(&first.latest) {
            f.approach(*latest, rate);
        }
        self.fast_frames = self.fast_frames.saturating_add(1);
        if (self.fast_frames as f32) < RETURN_FRAMES {
            return;
        }
        let to_reference = distance(&self.fast, &first.reference, &first.reference);
        let to_running = distance(&self.fast, &first.balanced, &first.reference);
        if to_reference < RETURN_RATIO * to_running {
            for l in &mut self.layers {
                l.reset_to_reference();
            }
            self.fast_frames = 0;
            self.returns += 1;
        }
    }

    /// Times the view was seen to come back (the running moments set back to the reference).
    pub fn returns(&self) -> u32 {
        self.returns
    }

    /// The reference moments of layer `layer`'s input channels, once known (`None` while they
    /// are measured on the first frames, or for a layer without statistics).
    pub fn reference(&self, layer: usize) -> Option<&[Moments]> {
        if self.measuring_reference() {
            return None;
        }
        let channels = self.layers.iter().find(|l| l.layer == layer)?;
        Some(&channels.reference)
    }

    /// The channels' gains `s_ref / s` and shifts `m_ref - m s_ref / s` of one layer's input,
    /// as the alignment applies them now (`None` for a layer without statistics).
    pub fn affine(&self, layer: usize) -> Option<Vec<(f32, f32)>> {
        let channels = self.layers.iter().find(|l| l.layer == layer)?;
        Some(
            channels
                .reference
                .iter()
                .zip(&channels.balanced)
                .map(|(r, s)| {
                    let gain = gain(r, s);
                    (gain, r.mean - s.mean * gain)
                })
                .collect(),
        )
    }

    /// Bytes of statistics held.
    pub fn memory_bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|l| (3 * l.channels() + l.running.len()) * core::mem::size_of::<Moments>())
            .sum()
    }

    /// The reference and running moments, to save (and give back to [`ChannelAlignment::new`]).
    /// While the reference is being measured there is nothing worth saving: `Null`.
    pub fn to_json(&self) -> Value {
        if self.measuring_reference() {
            return Value::Null;
        }
        if self.frames == 0 {
            return json!({ "reference": self.moments_json(|l| &l.reference) });
        }
        json!({
            "reference": self.moments_json(|l| &l.reference),
            "running": self.moments_json(|l| &l.running),
            "frames": self.frames,
        })
    }

    fn moments_json(&self, pick: fn(&LayerChannels) -> &Vec<Moments>) -> Value {
        self.layers
            .iter()
            .map(|l| {
                let m = pick(l);
                json!({
                    "layer": l.layer,
                    "mean": m.iter().map(|m| m.mean).collect::<Vec<_>>(),
                    "square": m.iter().map(|m| m.square).collect::<Vec<_>>(),
                })
            })
            .collect()
    }

    /// Hands `set` each layer's moments from `saved`, when it holds finite ones for exactly
    /// these layers, `per_channel` of them per channel; false (nothing set) otherwise.
    fn restore(
        &mut self,
        saved: &Value,
        per_channel: usize,
        set: fn(&mut LayerChannels, Vec<Moments>),
    ) -> bool {
        let Some(saved) = saved.as_array().filter(|s| s.len() == self.layers.len()) else {
            return false;
        };
        let floats = |v: &Value, n: usize| -> Option<Vec<f32>> {
            let a = v.as_array().filter(|a| a.len() == n)?;
            a.iter()
                .map(|x| x.as_f64().map(|x| x as f32).filter(|x| x.is_finite()))
                .collect()
        };
        let parsed: Option<Vec<Vec<Moments>>> = self
            .layers
            .iter()
            .zip(saved)
            .map(|(l, s)| {
                if s["layer"].as_u64() != Some(l.layer as u64) {
                    return None;
                }
                let n = l.channels() * per_channel;
                let (mean, square) = (floats(&s["mean"], n)?, floats(&s["square"], n)?);
                Some(
                    mean.into_iter()
                        .zip(square)
                        .map(|(mean, square)| Moments { mean, square })
                        .collect(),
                )
            })
            .collect();
        let Some(parsed) = parsed else {
            return false;
        };
        for (l, moments) in self.layers.iter_mut().zip(parsed) {
            set(l, moments);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use plastic_models::{Activation, LayerKind};

    /// A 3x3 gray input, one 2x2 convolution pooled to one value, a dense layer to 2 classes.
    fn conv_model() -> Model {
        Model::from_checkpoint(&crate::test_models::tiny_conv(
            LayerKind::Dense,
            vec![1.0; 4],
            None,
            Activation::Identity,
            vec![1.0, -1.0],
        ))
        .unwrap()
    }

    fn saved(mean: f32, square: f32) -> Value {
        json!({ "reference": [{ "layer": 0, "mean": [mean], "square": [square] }] })
    }

    #[test]
    fn a_frame_is_mapped_to_the_reference_moments_as_computed_by_hand() {
        // Reference mean 0, mean square 1 (spread 1). With a horizon of one frame a class's
        // running moments are its latest frame's: 1..=9 has mean 5 and mean square 285 / 9, so
        // spread sqrt(285 / 9 - 25) = sqrt(20 / 3). Once both classes have answered it, the
        // next frame is mapped x' = (x - 5) / sqrt(20 / 3).
        let model = conv_model();
        let mut a = ChannelAlignment::new(model.spec(), &saved(0.0, 1.0)).unwrap();
        assert!(!a.measuring_reference());
        a.set_horizon(1);
        let frame: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let mut x = frame.clone();
        a.observe_and_align(0, &mut x);
        // Aligned to the reference itself: unchanged.
        assert_eq!(x, frame);
        a.commit(0);
        a.commit(1);
        let mut x = frame.clone();
        a.observe_and_align(0, &mut x);
        let spread = libm::sqrtf(20.0 / 3.0);
        for (i, v) in x.iter().enumerate() {
            let want = (i as f32 + 1.0 - 5.0) / spread;
            assert!((v - want).abs() < 1e-5, "{i}: {v} vs {want}");
        }
        let (gain, shift) = a.affine(0).unwrap()[0];
        assert!((gain - 1.0 / spread).abs() < 1e-6 && (shift + 5.0 / spread).abs() < 1e-5);
        // The dense layer is not a convolution: left alone.
        let mut y = vec![3.0];
        a.observe_and_align(1, &mut y);
        assert_eq!(y, vec![3.0]);
    }

    #[test]
    fn the_original_view_coming_back_sets_the_moments_back_within_frames() {
        // The reference is the original frame's moments. A thousand dimmed frames (0.4 x + 0.1)
        // move the running moments to the dim view and are not taken for a return; then the
        // original frames: the fast moments are nearer the reference than half their distance
        // to the running ones within a few frames, and the running moments go back at once,
        // where the horizon of 500 frames would have taken hundreds.
        let model = conv_model();
        let frame: Vec<f32> = (1..=9).map(|v| v as f32 / 9.0).collect();
        let original = Moments::of(&frame);
        let mut a =
            ChannelAlignment::new(model.spec(), &saved(original.mean, original.square)).unwrap();
        let dim: Vec<f32> = frame.iter().map(|v| 0.4 * v + 0.1).collect();
        let show = |a: &mut ChannelAlignment, x: &[f32], i: usize| {
            let mut x = x.to_vec();
            a.observe_and_align(0, &mut x);
            a.commit(i % 2);
        };
        for i in 0..1000 {
            show(&mut a, &dim, i);
        }
        assert_eq!(a.returns(), 0);
        let (gain, _) = a.affine(0).unwrap()[0];
        assert!(gain > 1.5, "the dim view is being aligned: gain {gain}");
        let back = (0..100).position(|i| {
            show(&mut a, &frame, i);
            a.returns() == 1
        });
        assert!(back.is_some_and(|k| k < 20), "{back:?}");
        assert_eq!(a.affine(0).unwrap()[0], (1.0, 0.0));
    }

    #[test]
    fn a_change_of_light_and_contrast_is_undone() {
        let model = conv_model();
        let frames: Vec<Vec<f32>> = (0..20)
            .map(|f| {
                (0..9)
                    .map(|i| ((i * 7 + f * 3) % 11) as f32 / 10.0)
                    .collect()
            })
            .collect();
        let mut a = ChannelAlignment::measure(&model, frames.iter().map(Vec::as_slice))
            .unwrap()
            .unwrap();
        a.set_horizon(20);
        // The same frames seen dimmer and with less contrast: 0.3 x + 0.2.
        let mut last = vec![];
        for _ in 0..50 {
            for frame in &frames {
                let mut x: Vec<f32> = frame.iter().map(|v| 0.3 * v + 0.2).collect();
                a.observe_and_align(0, &mut x);
                a.commit(last.len() % 2);
                last.push((x, frame.clone()));
            }
        }
        for (aligned, original) in last.iter().rev().take(20) {
            for (a, o) in aligned.iter().zip(original) {
                assert!((a - o).abs() < 0.02, "{a} vs {o}");
            }
        }
    }

    #[test]
    fn a_change_in_the_mix_of_classes_is_not_taken_for_a_new_view() {
        // Class 0's frames are bright, class 1's dark; the reference has as many of each.
        let model = conv_model();
        let bright = [0.9f32; 9];
        let dark = [0.1f32; 9];
        let mut a = ChannelAlignment::measure(&model, [&bright[..], &dark[..]])
            .unwrap()
            .unwrap();
        a.set_horizon(20);
        // Nine bright frames for every dark one, each answered with its class.
        for n in 0..500 {
            let (frame, class) = if n % 10 == 0 { (dark, 1) } else { (bright, 0) };
            let mut x = frame;
            a.observe_and_align(0, &mut x);
            a.commit(class);
        }
        // Pooled, the stream's mean would be 0.82 and its spread 0.24 against 0.5 and 0.4:
        // a gain of 1.67. Per class, each class's moments are its reference's.
        let (gain, shift) = a.affine(0).unwrap()[0];
        assert!(
            (gain - 1.0).abs() < 0.01 && shift.abs() < 0.01,
            "{gain} {shift}"
        );
    }

    #[test]
    fn a_blank_stream_cannot_blow_a_channel_up() {
        let model = conv_model();
        let mut a = ChannelAlignment::new(model.spec(), &saved(0.5, 0.5)).unwrap();
        a.set_horizon(1);
        let mut x = vec![0.0f32; 9];
        a.observe_and_align(0, &mut x);
        a.commit(0);
        a.commit(1);
        let mut x = vec![0.0f32; 9];
        a.observe_and_align(0, &mut x);
        assert!(x.iter().all(|v| (v - 0.5).abs() < 1e-6), "{x:?}");
        let (gain, _) = a.affine(0).unwrap()[0];
        assert_eq!(gain, MAX_GAIN);
    }

    #[test]
    fn without_a_reference_the_first_frames_are_measured_and_nothing_changes_meanwhile() {
        let model = conv_model();
        let mut a = ChannelAlignment::new(model.spec(), &Value::Null).unwrap();
        assert_eq!(a.to_json(), Value::Null);
        for _ in 0..DEFAULT_REFERENCE_FRAMES {
            assert!(a.measuring_reference());
            let mut x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
            a.observe_and_align(0, &mut x);
            a.commit(0);
            assert_eq!(x[0], 1.0);
        }
        assert!(!a.measuring_reference());
        let saved = a.to_json();
        assert!((saved["reference"][0]["mean"][0].as_f64().unwrap() - 5.0).abs() < 1e-4);
    }

    #[test]
    fn the_statistics_survive_a_reboot_and_foreign_ones_are_ignored() {
        let model = conv_model();
        let mut a = ChannelAlignment::new(model.spec(), &saved(0.0, 1.0)).unwrap();
        let mut x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        a.observe_and_align(0, &mut x);
        a.commit(1);
        let back = ChannelAlignment::new(model.spec(), &a.to_json()).unwrap();
        assert_eq!(back.affine(0), a.affine(0));
        assert_eq!(back.to_json(), a.to_json());
        for foreign in [
            json!({ "reference": [{ "layer": 1, "mean": [0.0], "square": [1.0] }] }),
            json!({ "reference": [{ "layer": 0, "mean": [0.0, 1.0], "square": [1.0, 1.0] }] }),
            json!({ "reference": [{ "layer": 0, "mean": ["x"], "square": [1.0] }] }),
            json!({ "reference": "garbage" }),
        ] {
            let a = ChannelAlignment::new(model.spec(), &foreign).unwrap();
            assert!(a.measuring_reference(), "{foreign}");
        }
    }

    #[test]
    fn measuring_needs_inputs_of_the_model_and_a_convolution() {
        let model = conv_model();
        assert!(ChannelAlignment::measure(&model, core::iter::empty::<&[f32]>()).is_err());
        let short = [0.0f32; 4];
        assert!(ChannelAlignment::measure(&model, [&short[..]]).is_err());
        let one = [0.5f32; 9];
        let a = ChannelAlignment::measure(&model, [&one[..]])
            .unwrap()
            .unwrap();
        assert_eq!(a.to_json(), saved(0.5, 0.25));
    }
}
