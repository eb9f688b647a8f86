//! The digit warp as a learning model holds it: the framed digits' statistics
//! ([`DigitAlignment`]), the warp's buffers ([`DigitWarper`]) and the statistics of the digit
//! waiting for the class the model answers. One piece, so that every learning model of digits
//! (the Krotov device, a readout-learning one) undoes a new view the same way.

use alloc::boxed::Box;
use plastic_models::InputSpec;
use serde_json::Value;

use crate::orientation::{Orientation, OrientationFinder};
use crate::{Model, Result};

use crate::align::{DEFAULT_CALIBRATION_FRAMES, DEFAULT_HORIZON_FRAMES};
use crate::digit_align::{DigitAlignment, DigitStats, digit_stats};
use crate::digit_shape::looks_like_a_digit;
use crate::digit_warp::{DigitWarper, Warp};

/// A learning model's digit warp; off until [`DigitView::enable`].
#[derive(Debug, Clone)]
pub struct DigitView {
    /// The framed digits' width and slant (restored from a state, or since enabled).
    digits: Option<DigitAlignment>,
    /// The warp's buffers; present once enabled, which is what turns the warping on.
    warper: Option<Box<DigitWarper>>,
    /// The statistics of the digit given to the latest [`DigitView::warp_digit`], taken into
    /// the means with the class the model answers for it.
    pending: Option<DigitStats>,
    /// The camera's orientation, found from the shipped model's sureness; present once
    /// [`DigitView::enable_orientation`] has been called.
    orientation: Option<Box<OrientationFinder>>,
    /// The orientation a state saved (`Null` if none), taken back when it is enabled.
    saved_orientation: Value,
    /// Whether pictures are judged by their shape ([`DigitView::learn_from_digits_only`]).
    digits_only: bool,
    /// Whether the latest picture to orient had a digit's shape (always, when not judged).
    saw_a_digit: bool,
    /// Whether the latest picture to orient brought the device back from a turn held long.
    came_back_from_held_turn: bool,
}

impl Default for DigitView {
    /// Off, with no statistics, and a digit seen (a model given no picture learns as before).
    fn default() -> Self {
        Self::restored(&Value::Null, &Value::Null, 0)
    }
}

impl DigitView {
    /// Off, with the statistics a state saved under `saved` (from [`DigitView::to_json`]) when
    /// they are whole, and the orientation it saved under `saved_orientation` (from
    /// [`DigitView::orientation_json`]), to go on from once enabled.
    pub fn restored(saved: &Value, saved_orientation: &Value, classes: usize) -> Self {
        Self {
            digits: DigitAlignment::from_json(
                saved,
                classes,
                DEFAULT_CALIBRATION_FRAMES,
                DEFAULT_HORIZON_FRAMES,
            ),
            warper: None,
            pending: None,
            orientation: None,
            saved_orientation: saved_orientation.clone(),
            digits_only: false,
            saw_a_digit: true,
            came_back_from_held_turn: false,
        }
    }

    /// From now on [`DigitView::orient_digit`] reads each framed digit in the orientation the
    /// `shipped` model is clearly surest in (see [`crate::orientation`]), going on from a
    /// restored state's. Only for a model of 28x28 gray digits: false, and nothing on, for
    /// others.
    pub fn enable_orientation(&mut self, shipped: Model) -> Result<bool> {
        let input = &shipped.spec().input;
        if (input.width, input.height, input.channels) != (28, 28, 1) {
            return Ok(false);
        }
        let mut finder = OrientationFinder::new(shipped)?;
        finder.restore(&self.saved_orientation);
        self.orientation = Some(Box::new(finder));
        Ok(true)
    }

    /// Turns the framed `digit` in place into the camera's orientation as found so far (see
    /// [`DigitView::enable_orientation`]); `None`, and the digit untouched, when that is off.
    /// First of all, when pictures are judged ([`DigitView::learn_from_digits_only`]), whether
    /// it [`looks_like_a_digit`] ([`DigitView::saw_a_digit`]): a frame that does not is no
    /// evidence of the orientation nor of the digits' view. Allocates nothing.
    pub fn orient_digit(&mut self, digit: &mut [u8; 784]) -> Option<Orientation> {
        self.saw_a_digit = !self.digits_only || looks_like_a_digit(digit);
        let finder = self.orientation.as_mut()?;
        let returns = finder.returns_from_held_turns();
        // A 784-byte digit fits the 28x28 model the finder was made for.
        let found = finder
            .orient(digit, self.saw_a_digit)
            .unwrap_or(finder.current());
        self.came_back_from_held_turn = finder.returns_from_held_turns() != returns;
        Some(found)
    }

    /// Whether the latest [`DigitView::orient_digit`] came back to the frames as they come
    /// from a turn held long ([`OrientationFinder::returns_from_held_turns`]).
    pub fn came_back_from_held_turn(&self) -> bool {
        self.came_back_from_held_turn
    }

    /// From now on [`DigitView::orient_digit`] judges each picture by its shape (see
    /// [`crate::digit_shape`]), and a model learns without labels from digits only. For
    /// models of digits framed as MNIST's: a Fashion-MNIST item is no digit.
    pub fn learn_from_digits_only(&mut self) {
        self.digits_only = true;
    }

    /// The verdict of the latest [`DigitView::orient_digit`] on its picture's shape; `None`
    /// when pictures are not judged ([`DigitView::learn_from_digits_only`]).
    pub fn judged_digit(&self) -> Option<bool> {
        self.digits_only.then_some(self.saw_a_digit)
    }

    /// Whether the picture given to the latest [`DigitView::orient_digit`] has a digit's
    /// shape; true before any, and always when pictures are not judged.
    pub fn saw_a_digit(&self) -> bool {
        self.saw_a_digit
    }

    /// The orientation finder, when on.
    pub fn orientation(&self) -> Option<&OrientationFinder> {
        self.orientation.as_deref()
    }

    /// The orientation found, for a state file (what was restored while it is off).
    pub fn orientation_json(&self) -> Value {
        self.orientation
            .as_ref()
            .map_or_else(|| self.saved_orientation.clone(), |f| f.to_json())
    }

    /// From now on [`DigitView::warp_digit`] turns framed digits to undo a new camera's tilt
    /// (see [`DigitAlignment`] and [`DigitView::warp`]): the reference is the first `calibration`
    /// digits, the recent means span `horizon` frames. Statistics restored from a state go on.
    /// Only a model of 28x28 gray digits warps; for others this does nothing.
    pub fn enable(&mut self, input: &InputSpec, classes: usize, calibration: u64, horizon: u32) {
        if (input.width, input.height, input.channels) != (28, 28, 1) {
            return;
        }
        self.digits = Some(match self.digits.take() {
            Some(restored) => restored.with_schedule(calibration, horizon),
            None => DigitAlignment::new(classes, calibration, horizon),
        });
        self.warper
            .get_or_insert_with(|| Box::new(DigitWarper::new()));
    }

    /// The framed digits' statistics, when digits are warped.
    pub fn alignment(&self) -> Option<&DigitAlignment> {
        self.digits.as_ref().filter(|_| self.warper.is_some())
    }

    /// The warp [`DigitView::warp_digit`] applies now (none when digits are not warped): the
    /// turn of [`DigitAlignment::warp`], not its change of stroke width.
    ///
    /// Why not the width: since the framing brings a digit's ink to MNIST's levels (a faint
    /// or thin pen's strokes come out white, not grey), the measured width follows a
    /// population's writing more than a pen, and thinning cost what the framing had won. On the
    /// UCI writers (`writers`, `writers-brick` of docs/RESULTS.md, seed 1) a device without
    /// labels read 80.8 % and 84.2 % of the shifted frames with the thinning and 87.1 % and
    /// 89.2 % without it; on a pen two pixels wider (`wide-camera`) and `thick-pen` the
    /// thinning was worth 0.9 and 0.5 points.
    pub fn warp(&self) -> Warp {
        self.alignment().map_or(Warp::default(), |digits| Warp {
            width: 0.0,
            ..digits.warp()
        })
    }

    /// Writes into `out` the framed `digit` as the model should see it: warped by
    /// [`DigitView::warp`], or copied when that is none. Returns the warp applied, `None` when
    /// the digit was copied. The digit's statistics wait for [`DigitView::observe`], unless the
    /// latest [`DigitView::orient_digit`] saw no digit. Allocates nothing.
    pub fn warp_digit(&mut self, digit: &[u8; 784], out: &mut [u8; 784]) -> Option<Warp> {
        if self.warper.is_some() {
            // A scene or an empty field framed as a digit says nothing of the digits' view.
            self.pending = self.saw_a_digit.then(|| digit_stats(digit)).flatten();
        }
        let warp = self.warp();
        match self.warper.as_mut().filter(|_| !warp.is_identity()) {
            Some(warper) => {
                warper.apply(digit, warp, out);
                Some(warp)
            }
            None => {
                out.copy_from_slice(digit);
                None
            }
        }
    }

    /// The latest warped digit's statistics enter the means with the class answered for it.
    pub fn observe(&mut self, class: usize) {
        if let (Some(digits), Some(stats)) = (
            self.digits.as_mut().filter(|_| self.warper.is_some()),
            self.pending.take(),
        ) {
            digits.observe(stats, class);
        }
    }

    /// The statistics, for a state file (`null` when there are none).
    pub fn to_json(&self) -> Value {
        self.digits
            .as_ref()
            .map_or(Value::Null, DigitAlignment::to_json)
    }

    /// Bytes of the warp's buffers and the orientation finder's (the shipped model's weights
    /// among them).
    pub fn memory_bytes(&self) -> usize {
        self.warper.as_ref().map_or(0, |w| w.memory_bytes())
            + self.orientation.as_ref().map_or(0, |f| f.memory_bytes())
    }
}
