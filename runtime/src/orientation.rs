//! Which way the camera is mounted: found from the shipped model's own sureness, no labels.
//!
//! Why: a camera held sideways, mounted upside down, or a selfie camera's mirrored picture is
//! the commonest way a device's view differs from its training set, and the costliest: the
//! built-in device read 16 % of sideways digits and 40 % of mirrored ones against 98.6 %
//! (docs/RESULTS.md, "Which way the camera is mounted"). Nothing a learning rule measures on a
//! digit undoes it (a mirrored `2` is another shape to every unit), but the model itself
//! tells: read in the right orientation its answers stand far clearer of the runner-up. So the
//! device reads some frames in all eight orientations of the square (four quarter turns, each
//! also mirrored), keeps a running mean of the shipped model's [`sureness`] in each, and reads
//! every frame in the orientation that stands clearly above the rest.
//!
//! - The probes: every [`PROBE_EVERY`]th frame at most, the shipped model reads the framed
//!   input in the eight orientations; each orientation's sureness enters its running mean (weight
//!   [`SLOW_WEIGHT`], the plain mean of the first probes). The device turns to another
//!   orientation when its mean stands [`SWITCH_MARGIN`] above the current one's, after at
//!   least [`MIN_PROBES`] probes in the current one.
//! - The way back: while the device reads frames turned, the shipped model also reads each
//!   frame as it comes, and both sureness values enter fast means (weight [`FAST_WEIGHT`]). When
//!   the frame as it comes stands [`RETURN_MARGIN`] above the turned one, the device reads
//!   frames as they come again at once. So the original view's return costs a few frames,
//!   not a probe window. Beside the fast means the device sums how much surer each picture
//!   reads as it comes than turned, less [`RETURN_ALLOWANCE`], never letting the sum fall below
//!   zero (Page's CUSUM test for a change, 1954), and goes back as well when the sum passes
//!   [`RETURN_EVIDENCE`]. The fast means carry a long turned stretch's lead into the return:
//!   after 2000 frames of an upside-down camera their gap stood 1.1 in the turned reading's
//!   favour, and the device waited for five or six clearly upright digits; with digits held 40
//!   frames under a shadow that was 349 frames. The sum starts at zero at each turn and stores
//!   no lead up, so two digits that read 1.2 surer as they come, or more, take the device back.
//!   Alone, the sum came back later where a mirrored camera's digits read only a little surer
//!   either way (digits held 40 frames: 95 frames against 49); so each takes the return it sees
//!   first. The running means go on: after a true return the turned orientation's lead falls
//!   under [`SWITCH_MARGIN`] within two or three probes, long before the [`MIN_PROBES`] a turn
//!   waits for, and after a false one the device turns again after those. (Started over, the
//!   means were plain means of the next few probes: on an upside-down camera a false return
//!   then took 240 frames to undo, not 80.)
//! - A return is in doubt for the next [`DOUBTED_PICTURES`] pictures: the fast means go on,
//!   weighing the frame as it comes against the orientation left, and take that one again
//!   when it stands [`RETURN_MARGIN`] above. The fast means weigh each picture alike, and a
//!   run of `0`s, `1`s and `8`s of an upside-down camera reads as surely either way, so on a
//!   camera rolled 160 degrees with a thinner pen they came back falsely 4 times; each time
//!   the turn back waited for the probes and, after turns undone quickly, for twice as many,
//!   and the device read the last 550 frames of the shift as they came (43.3 % of the second
//!   half of the shift against 87.9 % now, where 12 false returns were undone within 4 to 16
//!   frames). An undone return keeps the turn's frame and wait: the return was the mistake,
//!   not the turn.
//! - A proposed turn is put on trial. The running means weigh about the last sixteen probes,
//!   and a stretch of digits that read surer in another orientation can carry them over the
//!   margin: on a camera rolled 20 degrees with a wider pen and each digit held for a few
//!   frames, the device turned to a mirrored reading for 46 frames (2.9 points below a frozen
//!   device over 1000 frames). So the device turns only when the next [`TRIAL_PICTURES`]
//!   digits, read in the current orientation and in the proposed one, read surer in the
//!   proposed one on average; until then it reads them as before. That turn's next digits
//!   read 0.19 less sure turned on average; of 20 proposals on five streams with a turned
//!   camera, 18 read 0.1 to 0.8 surer. A refused proposal may come again after as many probes
//!   as a turn waits for. Nor is it taken where the trial's digits read less than
//!   [`TRIAL_FLOOR`] sure in the proposed orientation on average: where the shipped model reads
//!   nothing clearly in any orientation (new writers far off under glare, a camera rolled
//!   halfway between two quarter turns), the surer of two unclear readings is chance: such
//!   turns cost up to 5.3 points against a frozen device over 1000 frames (docs/RESULTS.md,
//!   "A turn where no reading is clear").
//!   An orientation the fast means brought the device back from within [`RECENT_FRAMES`] is
//!   taken again without a trial: on an upside-down camera with frames without a digit the
//!   false step is the way back, and a trial there slowed the way to the right orientation
//!   again. The cost is a turn 8 digits later: with digits held 20 frames each, an upside-down
//!   camera read 67 % of its first 2000 frames against 83 % without the trial (docs/RESULTS.md,
//!   "A turn on trial").
//! - Nor is a proposal taken whose answers collapse: each orientation keeps a running share
//!   of each class the shipped model answered in it at the probes (weight [`ANSWER_WEIGHT`]),
//!   and a proposed orientation whose [`answer_spread`] is [`SPREAD_MARGIN`] below the current
//!   one's is refused without a trial. Read in the camera's orientation a digit model answers
//!   every class about as often; read turned or mirrored, many digits fall onto a few answers
//!   (a turned `2`, `4` or `7` reads as a `4` or a `0`), and those can be sure ones. A device
//!   put before a camera rolled 25 degrees with a wider pen turned to a mirrored diagonal
//!   reading after a trial of 8 digits that read surer there, and read 19 digits wrong before
//!   it came back; its answers there spread 1.2 bits less than as the frames came, where true
//!   turns spread -0.15 to +0.65 bits more. This is the "diverse" half of the information
//!   maximisation test-time adaptation holds a model to (SHOT, Liang et al. 2020); the
//!   sureness is the "certain" half.
//! - A turn the fast means undo within [`SHORT_TURN_FRAMES`] was a mistake, and the next turn
//!   waits for twice the probes (up to [`MAX_MIN_PROBES`]); a turn that held longer brings the
//!   wait back to [`MIN_PROBES`]. A camera rolled 45 degrees lies halfway between two
//!   orientations of the square, where a mirrored reading can stand above the frame as it
//!   comes in the running means and below it in the fast ones: the device turned and came
//!   back 14 times in 2000 frames, and read 77.7 % of them late against 95.9 % without the
//!   search; waiting longer, it turned 6 times and read 93.5 %.
//! - A held digit is evidence once: a probe waits for a picture unlike the one last probed,
//!   and the fast means skip pictures like the one they last took ([`overlap`] at least
//!   [`SAME_PICTURE`]). A hand holds a card before a camera for many frames; counted frame by
//!   frame, one digit that reads surer turned (a `6` upside down is a `9`) turned the device
//!   away 12 times in 5000 frames of digits held 60 frames on average, and brought it back
//!   from a truly upside-down camera 10 times. With a new digit each frame nothing changes
//!   but a probe now and then put off by a frame; with held digits the return takes a few
//!   digits, not a few frames.
//! - A frame without a digit is no evidence: neither a probe nor the fast means take a picture
//!   its caller judged no digit (for 28x28 digits, [`crate::digit_shape`]: an empty field, a
//!   scene framed as a digit). Between two cards a camera sees the sheet, the desk, the room;
//!   the shipped model reads a framed scene about as surely as a digit in some orientation or
//!   other, so frames of scenes brought every orientation's mean together and chance turned
//!   the device. On a stream with frames of a video and photographs after the digits it
//!   turned away three times, 6 to 20 frames each; now it does not (docs/RESULTS.md, "Frames
//!   without a digit").
//!
//! The sureness is the margin of the top output over the runner-up in units of the outputs'
//! spread over the classes: scale-free, so it reads the same for logits tens apart (the
//! SoftHebb device) and for tanh outputs within -1..1 (the Krotov device). On the original
//! view the shipped device's mean is 1.34 as the frames come and 0.48 to 0.85 turned or
//! mirrored; on new writers under a shadow and JPEG 0.89 against at most 0.69.
//!
//! The constants were chosen on the SoftHebb device, on three streams of seed 11 (a camera
//! turned 90 degrees, a mirrored one over brick, the UCI writers under a shadow and JPEG),
//! checked against false turns on five scenarios of the bank (`thin-pen`, `one-class`,
//! `small`, `dim-light`, `fill-frame`) by replaying the shipped model's recorded sureness
//! offline, and the fast means' weight on the simulated camera of the orientation test; the
//! streams they are reported on were made afterwards. The Krotov demo's tanh outputs separate
//! the orientations less: on a sideways camera it turns back, but also away again, 20 times in
//! 2000 frames.
//!
//! Cost: eight inferences of the shipped model every eighth frame (one a frame on average),
//! and two a frame more while frames are read turned, a turn is on trial or a return is in
//! doubt, fewer while a digit is held; a copy of the shipped model's weights.

use alloc::vec;
use alloc::vec::Vec;
use plastic_models::Preprocess;
use serde_json::{Value, json};

use crate::preprocess::normalize;
use crate::{Error, Model, Result, Workspace};

/// Frames between two probes of all eight orientations. 4 won back 6 points more of a
/// sideways camera's first 2000 frames, at twice the probes' cost.
pub const PROBE_EVERY: u64 = 8;
/// Weight of one probe in an orientation's running mean of sureness (about its last 16).
pub const SLOW_WEIGHT: f32 = 0.125;
/// How far an orientation's mean sureness must stand above the current one's to turn to it.
/// 0.3 turned a stream of new writers under a shadow (its shipped model's sureness 0.89 as
/// it comes) for a few frames; 0.4 and 0.5 did not.
pub const SWITCH_MARGIN: f32 = 0.4;
/// Probes in the current orientation before the device may turn again.
pub const MIN_PROBES: u32 = 8;
/// A turn the fast means undo within this many frames was a mistake: the next turn waits for
/// twice the probes the last one did, up to [`MAX_MIN_PROBES`]; a turn that held longer
/// brings it back to [`MIN_PROBES`].
pub const SHORT_TURN_FRAMES: u64 = 256;
/// The most probes a turn may wait for.
pub const MAX_MIN_PROBES: u32 = 64;
/// The [`overlap`] from which two framed pictures are one held digit: a probe waits for a
/// picture unlike the last one probed, and the fast means take a picture only when it is
/// unlike the last one they took. Measured on recorded framed inputs of digits held before a
/// camera (a hand drifting up to 3 pixels and 3 degrees) and of streams with a new digit each
/// frame: frames of one held digit overlap 0.91 (median) and 0.65 in their lowest 5 %,
/// different digits 8 frames apart 0.2 to 0.46 (median), over 0.6 for 6 % of MNIST's (31 %
/// of the blockier UCI digits'), which then delays a probe by a frame.
pub const SAME_PICTURE: f32 = 0.6;
/// Weight of one frame in the fast means that bring the device back to frames as they come.
/// 0.5 went back, falsely, twice in 600 frames of a simulated camera held sideways (the
/// orientation test's stream), 0.25 never; the true return then takes about four frames.
pub const FAST_WEIGHT: f32 = 0.25;
/// How far the frame as it comes must stand above the turned one, in the fast means, to go
/// back to it.
pub const RETURN_MARGIN: f32 = 0.3;
/// How much surer than turned a picture must read as it comes to count toward the way back's
/// sum (the allowance of Page's CUSUM test): `0`s, `1`s and `8`s of an upside-down camera read
/// about as surely either way and add nothing.
pub const RETURN_ALLOWANCE: f32 = 0.2;
/// The way back's sum at which the device reads frames as they come again. Replayed offline
/// on the recorded sureness of 24 streams with turned or mirrored cameras, at allowance 0.2:
/// the sum would have come back falsely 247 times in their turned stretches at 1.2, 113 at
/// 1.5 and 39 at 2.0, besides the fast means' own (76 where the streams were run); with the
/// fast means beside it, their 25 returns would have taken 913, 1074 and 1141 frames in all,
/// against the fast means' 1410 alone.
pub const RETURN_EVIDENCE: f32 = 2.0;
/// Digits (pictures unlike each other) read in the current and the proposed orientation before
/// a proposed turn is taken or refused. Replayed offline on the recorded sureness of five
/// streams, 4 told the proposals apart as 8 did (both false proposals read less sure in the
/// proposed orientation, and two of the 20 true ones); 8 for a steadier mean, at 4 frames
/// more a turn; 12 took true turns later still.
pub const TRIAL_PICTURES: u32 = 8;
/// The least mean sureness the trial's digits must read in the proposed orientation for the
/// device to turn to it, however much surer than in the current one. Where the shipped model
/// reads nothing clearly in any orientation (new writers far off under glare, a camera
/// rolled halfway between two quarter turns), which reading is a little surer is chance,
/// and a turn there costs what the frozen device reads right. On the recorded trials of 52
/// streams the true turns read 0.71 to 1.77 (rolled writers with held digits, seven-segment
/// digits on their side the lowest) and the turns that cost the device read 0.46 to 0.68
/// (the original view is 1.34 as it comes).
pub const TRIAL_FLOOR: f32 = 0.7;
/// Frames after the fast means brought the device back from an orientation during which the
/// running means may turn it there again without a trial: it was borne out when the device
/// first turned to it, and the way back was the doubtful step.
pub const RECENT_FRAMES: u64 = 1024;
/// Pictures after the fast means brought the device back during which the orientation it left
/// is weighed against the frames as they come, and taken again as fast when it stands
/// [`RETURN_MARGIN`] above them. A false return (a few `0`s, `1`s and `8`s of a turned camera
/// read as surely as they come, a `6` turned reads as a `9`) was undone within 2 to 19 frames
/// on the streams it was chosen on; weighed on for [`RECENT_FRAMES`] a true return was undone
/// falsely 308 and 943 frames after it.
pub const DOUBTED_PICTURES: u32 = 32;
/// Weight of one probe in an orientation's running share of each class it answers (about its
/// last 32 probes), whose [`answer_spread`] a proposed turn is held to.
pub const ANSWER_WEIGHT: f32 = 0.0625;
/// How much less spread over the classes (bits of entropy) the answers in a proposed
/// orientation may be than those in the current one. Measured at the turns of five streams
/// (digits turned, mirrored, held, with frames of scenes between them, a camera put on the
/// changed view from the first frame): true turns -0.15 to +0.65 bits, the one false turn that
/// got past its trial -1.2.
pub const SPREAD_MARGIN: f32 = 0.5;

/// One of the eight ways a square picture can lie: `quarter_turns` counter-clockwise turns of
/// the picture (0 to 3), then mirrored left to right when `mirrored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Orientation(u8);

impl Orientation {
    /// The picture as it comes.
    pub const AS_IT_COMES: Orientation = Orientation(0);

    /// All eight, the picture as it comes first.
    pub const ALL: [Orientation; 8] = [
        Orientation(0),
        Orientation(1),
        Orientation(2),
        Orientation(3),
        Orientation(4),
        Orientation(5),
        Orientation(6),
        Orientation(7),
    ];

    /// `turns` quarter turns counter-clockwise (taken modulo 4), then mirrored if asked.
    pub fn new(turns: u8, mirrored: bool) -> Self {
        Orientation(turns % 4 + if mirrored { 4 } else { 0 })
    }

    /// Counter-clockwise quarter turns, 0 to 3.
    pub fn quarter_turns(self) -> u8 {
        self.0 % 4
    }

    /// Whether the picture is mirrored left to right after its turns.
    pub fn mirrored(self) -> bool {
        self.0 >= 4
    }

    /// Whether this leaves the picture as it comes.
    pub fn is_identity(self) -> bool {
        self.0 == 0
    }

    /// Its index in [`Orientation::ALL`].
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Writes into `out` the `side x side` picture `src` (`channels` planes one after
    /// another) as it lies in this orientation. Errors when the lengths are not
    /// `side * side * channels`.
    pub fn apply(self, src: &[u8], side: usize, out: &mut [u8]) -> Result<()> {
        let plane = side * side;
        if plane == 0 || !src.len().is_multiple_of(plane) || out.len() != src.len() {
            return Err(Error::WrongLength {
                what: "a square picture's planes",
                expected: src.len().div_ceil(plane.max(1)) * plane,
                found: out.len(),
            });
        }
        let last = side - 1;
        for (from, to) in src.chunks_exact(plane).zip(out.chunks_exact_mut(plane)) {
            for y in 0..side {
                for x in 0..side {
                    // The source of output pixel (y, x): undo the mirror, then the turns.
                    let u = if self.mirrored() { last - x } else { x };
                    let (sy, sx) = match self.quarter_turns() {
                        0 => (y, u),
                        1 => (u, last - y),
                        2 => (last - y, last - u),
                        _ => (last - u, y),
                    };
                    to[y * side + x] = from[sy * side + sx];
                }
            }
        }
        Ok(())
    }

    /// Its name in a frames log or a state file.
    pub fn name(self) -> &'static str {
        [
            "as-it-comes",
            "turned-90",
            "turned-180",
            "turned-270",
            "mirrored",
            "turned-90-mirrored",
            "turned-180-mirrored",
            "turned-270-mirrored",
        ][self.index()]
    }

    /// The orientation named `name` (see [`Orientation::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// How clearly outputs pick their answer: the top output's margin over the runner-up, in
/// units of the outputs' standard deviation over the classes. 0 for fewer than two outputs,
/// outputs all equal, or any that is not finite.
pub fn sureness(outputs: &[f32]) -> f32 {
    if outputs.len() < 2 || outputs.iter().any(|v| !v.is_finite()) {
        return 0.0;
    }
    let (mut top, mut second) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &v in outputs {
        if v > top {
            second = top;
            top = v;
        } else if v > second {
            second = v;
        }
    }
    let n = outputs.len() as f32;
    let mean = outputs.iter().sum::<f32>() / n;
    let variance = outputs.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let spread = libm::sqrtf(variance);
    if spread > 0.0 && spread.is_finite() {
        (top - second) / spread
    } else {
        0.0
    }
}

/// How evenly a model's answers spread over the classes: the entropy, in bits, of `shares`
/// (each class's share of the answers; they need not sum to 1, and 0 where none is above 0).
/// Read in the camera's orientation a digit model answers every class about as often; read
/// turned or mirrored, most digits fall onto a few (a turned `2`, `4` or `7` reads as a `4` or a
/// `0`), however sure each answer.
pub fn answer_spread(shares: &[f32]) -> f32 {
    let total: f32 = shares.iter().filter(|s| s.is_finite() && **s > 0.0).sum();
    if total <= 0.0 {
        return 0.0;
    }
    -shares
        .iter()
        .filter(|s| s.is_finite() && **s > 0.0)
        .map(|&s| {
            let p = s / total;
            p * libm::log2f(p)
        })
        .sum::<f32>()
}

/// How much two pictures of equal length share: the sum of their pixelwise minima over the
/// sum of their maxima (a weighted Jaccard index), 1 for equal pictures, 0 for ink in
/// different places. Two blank pictures are equal (1).
pub fn overlap(a: &[u8], b: &[u8]) -> f32 {
    let (mut shared, mut either) = (0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        shared += u64::from(x.min(y));
        either += u64::from(x.max(y));
    }
    if either == 0 {
        1.0
    } else {
        shared as f32 / either as f32
    }
}

/// What the finder has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrientationReport {
    /// The orientation frames are read in now.
    pub found: Orientation,
    /// How many times the device changed the orientation it reads frames in.
    pub turns: u64,
    /// How many turns the running means proposed and their trial refused.
    pub refused: u64,
}

/// The camera's orientation as the device finds it (see the module's docs).
#[derive(Debug, Clone)]
pub struct OrientationFinder {
    /// The shipped model, frozen: its sureness decides, whatever the learning model does.
    model: Model,
    workspace: Workspace,
    preprocess: Preprocess,
    side: usize,
    /// One orientation of the frame, as bytes and as the model's input.
    turned: Vec<u8>,
    input: Vec<f32>,
    current: Orientation,
    /// Each orientation's running mean of sureness over the probes.
    slow: [f32; 8],
    /// Each orientation's running share of each class it answered at the probes, 8 rows of
    /// one value a class.
    answers: Vec<f32>,
    probes: u32,
    probes_since_turn: u32,
    /// Probes the next turn waits for (see [`SHORT_TURN_FRAMES`]).
    min_probes: u32,
    /// The frame of the last turn.
    turned_at: u64,
    /// Fast means of the sureness of the frame as it comes and as turned, while turned.
    fast_as_it_comes: f32,
    fast_turned: f32,
    /// The way back's sum since the last turn (see [`RETURN_EVIDENCE`]).
    evidence: f32,
    /// The turn the running means proposed, on trial (see [`TRIAL_PICTURES`]), with the sums
    /// of the sureness of the pictures read for it in the current orientation and in the
    /// proposed one, and how many were read.
    trial: Option<Orientation>,
    trial_current: f32,
    trial_proposed: f32,
    trial_pictures: u32,
    /// The orientation the fast means last brought the device back from, and when.
    left: Option<(Orientation, u64)>,
    /// The wait for the next turn and the last turn's frame before that return: a return the
    /// fast means undo gives them back.
    before_return: (u32, u64),
    /// Pictures taken into the fast means since that return.
    pictures_since_return: u32,
    /// The picture last read for the trial: a held digit is evidence once.
    last_trial: Vec<u8>,
    /// The pictures (as framed, before turning) last probed and last taken into the fast
    /// means: a held digit is evidence once.
    last_probed: Vec<u8>,
    last_fast: Vec<u8>,
    /// Frames since the last probe.
    since_probe: u64,
    frames: u64,
    turns: u64,
    /// Proposals whose trial failed.
    refused: u64,
    /// Returns to the frames as they come from a turn held [`SHORT_TURN_FRAMES`] or more.
    returns_from_held_turns: u64,
}

impl OrientationFinder {
    /// A finder that reads frames through `shipped`, starting with the frames as they come.
    /// Errors when the model's input is not square.
    pub fn new(shipped: Model) -> Result<Self> {
        let input = shipped.spec().input.clone();
        if input.width != input.height || input.width == 0 {
            return Err(Error::NotLearnable(
                "the camera's orientation is found for square inputs only",
            ));
        }
        let len = input.width * input.height * input.channels;
        // A row a class, and one at least so that the rows can be walked.
        let classes = shipped.spec().output_len().max(1);
        Ok(Self {
            workspace: shipped.workspace(),
            model: shipped,
            preprocess: input.preprocess.clone(),
            side: input.width,
            turned: vec![0; len],
            input: vec![0.0; len],
            current: Orientation::AS_IT_COMES,
            slow: [0.0; 8],
            answers: vec![0.0; 8 * classes],
            probes: 0,
            probes_since_turn: 0,
            min_probes: MIN_PROBES,
            turned_at: 0,
            fast_as_it_comes: 0.0,
            fast_turned: 0.0,
            evidence: 0.0,
            trial: None,
            trial_current: 0.0,
            trial_proposed: 0.0,
            trial_pictures: 0,
            left: None,
            before_return: (MIN_PROBES, 0),
            pictures_since_return: 0,
            last_trial: vec![0; len],
            last_probed: vec![0; len],
            last_fast: vec![0; len],
            since_probe: PROBE_EVERY,
            frames: 0,
            turns: 0,
            refused: 0,
            returns_from_held_turns: 0,
        })
    }

    /// The orientation frames are read in now.
    pub fn current(&self) -> Orientation {
        self.current
    }

    /// How many times the device came back to the frames as they come from a turn it had
    /// held [`SHORT_TURN_FRAMES`] or more: a view it read long enough to learn on is gone.
    pub fn returns_from_held_turns(&self) -> u64 {
        self.returns_from_held_turns
    }

    /// The orientation found, with the turns taken and refused so far.
    pub fn report(&self) -> OrientationReport {
        OrientationReport {
            found: self.current,
            turns: self.turns,
            refused: self.refused,
        }
    }

    /// Takes in the model's input `picture` (bytes, as framed), updates the orientation, and
    /// turns `picture` in place into it. Returns the orientation applied. A picture that is
    /// not `is_digit` (see [`crate::digit_shape`]) is turned but is no evidence. A picture of
    /// the wrong length is an error and changes nothing; an inference that fails counts as no
    /// evidence. Allocates nothing.
    pub fn orient(&mut self, picture: &mut [u8], is_digit: bool) -> Result<Orientation> {
        if picture.len() != self.turned.len() {
            return Err(Error::WrongLength {
                what: "the picture to orient",
                expected: self.turned.len(),
                found: picture.len(),
            });
        }
        self.frames += 1;
        self.since_probe = self.since_probe.saturating_add(1);
        let mut probed = None;
        if is_digit
            && self.since_probe >= PROBE_EVERY
            && overlap(picture, &self.last_probed) < SAME_PICTURE
        {
            let (scores, classes) = self.read_all(picture);
            self.since_probe = 0;
            self.last_probed.copy_from_slice(picture);
            if self.take_probe(&scores, &classes) {
                // The proposal's own picture is no evidence for its trial, nor again for the
                // fast means a turn without a trial starts from its scores.
                self.last_trial.copy_from_slice(picture);
                self.last_fast.copy_from_slice(picture);
            }
            probed = Some(scores);
        }
        if let Some(proposed) = self.trial.filter(|_| is_digit)
            && overlap(picture, &self.last_trial) < SAME_PICTURE
        {
            let (now, then) = self.sureness_pair(picture, probed, self.current, proposed);
            self.last_trial.copy_from_slice(picture);
            self.trial_current += now;
            self.trial_proposed += then;
            self.trial_pictures += 1;
            if self.trial_pictures >= TRIAL_PICTURES {
                self.end_trial(proposed, picture);
            }
        }
        // While turned, the fast means weigh the frame as it comes against the turned
        // reading; just after the fast means brought the device back, against the orientation
        // it left, which they take again as fast when it stands out again.
        let rival = if self.current.is_identity() {
            self.doubted_return()
        } else {
            Some(self.current)
        };
        if let Some(rival) = rival.filter(|_| is_digit)
            && overlap(picture, &self.last_fast) < SAME_PICTURE
        {
            let (as_it_comes, turned) =
                self.sureness_pair(picture, probed, Orientation::AS_IT_COMES, rival);
            self.last_fast.copy_from_slice(picture);
            self.pictures_since_return = self.pictures_since_return.saturating_add(1);
            self.fast_as_it_comes += FAST_WEIGHT * (as_it_comes - self.fast_as_it_comes);
            self.fast_turned += FAST_WEIGHT * (turned - self.fast_turned);
            if self.current.is_identity() {
                if self.fast_turned > self.fast_as_it_comes + RETURN_MARGIN {
                    self.undo_return(rival);
                }
            } else {
                // Page's CUSUM: how much surer as it comes, less the allowance, summed since the
                // turn and never below zero.
                self.evidence = (self.evidence + as_it_comes - turned - RETURN_ALLOWANCE).max(0.0);
                if self.fast_as_it_comes > self.fast_turned + RETURN_MARGIN
                    || self.evidence > RETURN_EVIDENCE
                {
                    self.go_back();
                }
            }
        }
        if !self.current.is_identity() {
            self.current.apply(picture, self.side, &mut self.turned)?;
            picture.copy_from_slice(&self.turned);
        }
        Ok(self.current)
    }

    /// One probe's sureness values and answers into the running means, and a turn when one
    /// stands out; true when it turned or put a turn on trial.
    fn take_probe(&mut self, scores: &[f32; 8], classes: &[Option<usize>; 8]) -> bool {
        self.probes = self.probes.saturating_add(1);
        self.probes_since_turn = self.probes_since_turn.saturating_add(1);
        let weight = (1.0 / self.probes as f32).max(SLOW_WEIGHT);
        for (mean, &s) in self.slow.iter_mut().zip(scores) {
            *mean += weight * (s - *mean);
        }
        let weight = (1.0 / self.probes as f32).max(ANSWER_WEIGHT);
        let per_orientation = self.answers.len() / 8;
        for (shares, class) in self.answers.chunks_exact_mut(per_orientation).zip(classes) {
            for (c, share) in shares.iter_mut().enumerate() {
                let answered = if *class == Some(c) { 1.0 } else { 0.0 };
                *share += weight * (answered - *share);
            }
        }
        let best = Orientation::ALL
            .into_iter()
            .max_by(|a, b| self.slow[a.index()].total_cmp(&self.slow[b.index()]))
            .unwrap_or_default();
        if self.trial.is_none()
            && best != self.current
            && self.slow[best.index()] - self.slow[self.current.index()] > SWITCH_MARGIN
            && self.probes_since_turn >= self.min_probes
        {
            if self.spread(best) + SPREAD_MARGIN < self.spread(self.current) {
                // Read that way the model answers fewer classes: the surer reading is a
                // collapse onto a few of them, not the camera's orientation.
                self.refuse();
                return false;
            }
            if self.recently_left() == Some(best) {
                // While the return is in doubt the fast means weigh the two: they go on. Else
                // they are old, and start from this probe.
                if self.doubted_return().is_none() {
                    self.fast_as_it_comes = scores[0];
                    self.fast_turned = scores[best.index()];
                }
                self.turn_to(best);
            } else {
                self.trial = Some(best);
                (self.trial_current, self.trial_proposed, self.trial_pictures) = (0.0, 0.0, 0);
            }
            return true;
        }
        false
    }

    /// Ends the trial of `proposed` on its last `picture`: the device turns to it when the
    /// trial's pictures read surer there than in the current orientation on average, and at
    /// least [`TRIAL_FLOOR`] sure; else the next proposal waits for as many probes as a turn
    /// does.
    fn end_trial(&mut self, proposed: Orientation, picture: &[u8]) {
        self.trial = None;
        let pictures = self.trial_pictures.max(1) as f32;
        // The trial's mean sureness in the current and in the proposed orientation.
        let (mean_now, mean_then) = (
            self.trial_current / pictures,
            self.trial_proposed / pictures,
        );
        if mean_then > mean_now && mean_then >= TRIAL_FLOOR {
            // The fast means of the way back start from the trial's means and last picture.
            if self.current.is_identity() {
                self.fast_as_it_comes = mean_now;
            }
            self.fast_turned = mean_then;
            self.last_fast.copy_from_slice(picture);
            self.turn_to(proposed);
        } else {
            self.refuse();
        }
    }

    /// The fast means bring the device back to the frames as they come. A turn they undo
    /// within [`SHORT_TURN_FRAMES`] doubles the next turn's wait; what the wait and the turn's
    /// frame were is kept in case this return is the mistake ([`Self::undo_return`]). A return
    /// from a turn held longer is counted ([`Self::returns_from_held_turns`]).
    fn go_back(&mut self) {
        let before = (self.min_probes, self.turned_at);
        let held = self.frames - self.turned_at >= SHORT_TURN_FRAMES;
        if held {
            self.min_probes = MIN_PROBES;
            self.returns_from_held_turns += 1;
        } else {
            self.min_probes = (self.min_probes * 2).min(MAX_MIN_PROBES);
        }
        self.left = Some((self.current, self.frames));
        self.before_return = before;
        self.pictures_since_return = 0;
        self.turn_to(Orientation::AS_IT_COMES);
    }

    /// The orientation the fast means brought the device back from within [`RECENT_FRAMES`].
    fn recently_left(&self) -> Option<Orientation> {
        self.left
            .filter(|&(_, at)| self.frames - at < RECENT_FRAMES)
            .map(|(o, _)| o)
    }

    /// The orientation the fast means brought the device back from, while the return is in
    /// doubt: fewer than [`DOUBTED_PICTURES`] pictures since.
    fn doubted_return(&self) -> Option<Orientation> {
        self.left
            .filter(|_| self.pictures_since_return < DOUBTED_PICTURES)
            .map(|(o, _)| o)
    }

    /// The fast means take back the orientation they left: the return was the mistake, not
    /// the turn, so the turn keeps its frame and the wait it had, and counts as a turn.
    fn undo_return(&mut self, rival: Orientation) {
        let (min_probes, turned_at) = self.before_return;
        self.left = None;
        self.turn_to(rival);
        (self.min_probes, self.turned_at) = (min_probes, turned_at);
    }

    /// A proposed turn refused: counted, and the next proposal waits for as many probes as a
    /// turn does.
    fn refuse(&mut self) {
        self.probes_since_turn = 0;
        self.refused += 1;
    }

    fn turn_to(&mut self, orientation: Orientation) {
        self.current = orientation;
        self.turned_at = self.frames;
        self.probes_since_turn = 0;
        self.turns += 1;
        self.trial = None;
        self.evidence = 0.0;
    }

    /// The shipped model's sureness on `picture` in orientations `a` and `b`: read from this
    /// frame's probe when there was one (`probed`), else read now.
    fn sureness_pair(
        &mut self,
        picture: &[u8],
        probed: Option<[f32; 8]>,
        a: Orientation,
        b: Orientation,
    ) -> (f32, f32) {
        match probed {
            Some(s) => (s[a.index()], s[b.index()]),
            None => (self.sureness_of(picture, a), self.sureness_of(picture, b)),
        }
    }

    /// The [`answer_spread`] of the classes the shipped model answered in `orientation` at the
    /// recent probes.
    fn spread(&self, orientation: Orientation) -> f32 {
        let per_orientation = self.answers.len() / 8;
        let row = orientation.index() * per_orientation;
        answer_spread(&self.answers[row..row + per_orientation])
    }

    /// The shipped model's sureness on `picture` and its answer in each of the eight
    /// orientations.
    fn read_all(&mut self, picture: &[u8]) -> ([f32; 8], [Option<usize>; 8]) {
        let mut scores = [0.0f32; 8];
        let mut classes = [None; 8];
        for o in Orientation::ALL {
            (scores[o.index()], classes[o.index()]) = self.read(picture, o);
        }
        (scores, classes)
    }

    /// The shipped model's sureness on `picture` in `orientation`; 0 where it cannot read it.
    fn sureness_of(&mut self, picture: &[u8], orientation: Orientation) -> f32 {
        self.read(picture, orientation).0
    }

    /// The shipped model's sureness on `picture` in `orientation` and its answer: 0 and no
    /// answer where it cannot read it.
    fn read(&mut self, picture: &[u8], orientation: Orientation) -> (f32, Option<usize>) {
        let read = orientation
            .apply(picture, self.side, &mut self.turned)
            .and_then(|()| normalize(&self.turned, &self.preprocess, &mut self.input))
            .and_then(|()| self.model.infer(&self.input, &mut self.workspace));
        match read {
            Ok(prediction) => {
                let outputs = self.workspace.outputs(&self.model);
                // Outputs that are not all finite give no answer, as they give no sureness.
                let finite = outputs.iter().all(|v| v.is_finite());
                (sureness(outputs), finite.then_some(prediction.class))
            }
            Err(_) => (0.0, None),
        }
    }

    /// What a state file keeps: the orientation found, so a device that reboots reads its
    /// camera the same way from the first frame.
    pub fn to_json(&self) -> Value {
        json!({ "orientation": self.current.name() })
    }

    /// Goes on from a state saved by [`OrientationFinder::to_json`]; anything else, or an
    /// unknown name, leaves the frames as they come.
    pub fn restore(&mut self, saved: &Value) {
        if let Some(o) = saved
            .get("orientation")
            .and_then(Value::as_str)
            .and_then(Orientation::from_name)
        {
            self.current = o;
        }
    }

    /// Bytes held: the shipped model's weights and the buffers.
    pub fn memory_bytes(&self) -> usize {
        self.model.weight_bytes()
            + self.turned.len()
            + self.last_probed.len()
            + self.last_fast.len()
            + self.last_trial.len()
            + self.input.len() * 4
            + self.answers.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x3 picture's pixels numbered row by row, 1 to 9.
    const PICTURE: [u8; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];

    fn oriented(o: Orientation) -> [u8; 9] {
        let mut out = [0; 9];
        o.apply(&PICTURE, 3, &mut out).unwrap();
        out
    }

    #[test]
    fn the_eight_orientations_turn_and_mirror_as_drawn_by_hand() {
        // 1 2 3      a quarter turn counter-clockwise      3 6 9
        // 4 5 6      brings the right column to the top:   2 5 8
        // 7 8 9                                            1 4 7
        assert_eq!(oriented(Orientation::new(0, false)), PICTURE);
        assert_eq!(
            oriented(Orientation::new(1, false)),
            [3, 6, 9, 2, 5, 8, 1, 4, 7]
        );
        assert_eq!(
            oriented(Orientation::new(2, false)),
            [9, 8, 7, 6, 5, 4, 3, 2, 1]
        );
        assert_eq!(
            oriented(Orientation::new(3, false)),
            [7, 4, 1, 8, 5, 2, 9, 6, 3]
        );
        assert_eq!(
            oriented(Orientation::new(0, true)),
            [3, 2, 1, 6, 5, 4, 9, 8, 7]
        );
        assert_eq!(
            oriented(Orientation::new(1, true)),
            [9, 6, 3, 8, 5, 2, 7, 4, 1]
        );
        // Eight different pictures, and names that read back.
        for a in Orientation::ALL {
            assert_eq!(Orientation::from_name(a.name()), Some(a));
            for b in Orientation::ALL {
                assert_eq!(a == b, oriented(a) == oriented(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn every_plane_of_a_picture_is_turned_and_wrong_lengths_are_refused() {
        let two_planes: Vec<u8> = PICTURE.iter().chain(&PICTURE).copied().collect();
        let mut out = vec![0; 18];
        Orientation::new(2, false)
            .apply(&two_planes, 3, &mut out)
            .unwrap();
        assert_eq!(out[..9], out[9..]);
        assert_eq!(out[0], 9);
        assert!(
            Orientation::new(1, false)
                .apply(&PICTURE, 3, &mut [0; 8])
                .is_err()
        );
        assert!(
            Orientation::new(1, false)
                .apply(&PICTURE[..8], 3, &mut [0; 8])
                .is_err()
        );
    }

    /// A 3x3 gray model of ten classes: an `L` (the picture `L_SHAPE`), each of its seven
    /// other orientations at 0.6 of its weight, and two of nothing. Its sureness on the `L` as
    /// drawn is 1.89, turned or mirrored 0.46 to 0.75 (worked out beside the test).
    fn l_model() -> Model {
        use plastic_models::{
            Activation, Checkpoint, InputSpec, LayerKind, LayerSpec, LayerTensors, ModelSpec,
            Preprocess, Weights,
        };
        let mut rows: Vec<f32> = L_SHAPE.iter().map(|&p| f32::from(p) / 255.0).collect();
        for o in &Orientation::ALL[1..] {
            let mut turned = [0; 9];
            o.apply(&L_SHAPE, 3, &mut turned).unwrap();
            rows.extend(turned.iter().map(|&p| 0.6 * f32::from(p) / 255.0));
        }
        rows.extend([0.0; 18]);
        let ckpt = Checkpoint {
            spec: ModelSpec {
                name: "l".into(),
                input: InputSpec {
                    width: 3,
                    height: 3,
                    channels: 1,
                    preprocess: Preprocess::Scale01,
                },
                layers: vec![LayerSpec {
                    kind: LayerKind::Dense,
                    inputs: 9,
                    outputs: 10,
                    bias: false,
                    activation: Activation::Identity,
                    conv: None,
                }],
                classes: vec![],
            },
            layers: vec![LayerTensors {
                weight: Weights::F32(rows),
                bias: None,
                feedback: None,
            }],
            train: Value::Null,
            metrics: Value::Null,
        };
        Model::from_checkpoint(&ckpt).unwrap()
    }

    const L_SHAPE: [u8; 9] = [255, 0, 0, 255, 0, 0, 255, 255, 0];

    /// `picture` in `orientation`, its ink at full strength on even frames and at 100 on odd
    /// ones: a new digit every frame ([`overlap`] 0.39, under [`SAME_PICTURE`]), read alike
    /// by the linear `l_model` since sureness is scale-free.
    fn new_each_frame(picture: [u8; 9], orientation: Orientation, frame: u64) -> [u8; 9] {
        let mut out = [0; 9];
        orientation.apply(&picture, 3, &mut out).unwrap();
        if frame % 2 == 1 {
            out = out.map(|p| (u16::from(p) * 100 / 255) as u8);
        }
        out
    }

    #[test]
    fn a_turned_camera_is_turned_back_and_let_go_when_it_returns() {
        let mut finder = OrientationFinder::new(l_model()).unwrap();
        // The model is surest of the `L` as drawn: that is what the finder must bring back.
        let as_drawn = finder.sureness_of(&L_SHAPE, Orientation::AS_IT_COMES);
        for o in &Orientation::ALL[1..] {
            assert!(
                finder.sureness_of(&L_SHAPE, *o) < as_drawn - SWITCH_MARGIN,
                "{o:?}"
            );
        }
        // As drawn: never turned.
        for frame in 0..100 {
            let mut picture = new_each_frame(L_SHAPE, Orientation::AS_IT_COMES, frame);
            let before = picture;
            assert!(finder.orient(&mut picture, true).unwrap().is_identity());
            assert_eq!(picture, before);
        }
        // The camera mirrored and turned: the finder turns after enough probes to outweigh
        // what it saw before, and from then on gives back the `L` as drawn.
        let camera = Orientation::new(3, true);
        let mut first_right = None;
        for frame in 0..200 {
            let mut picture = new_each_frame(L_SHAPE, camera, frame);
            finder.orient(&mut picture, true).unwrap();
            if picture == new_each_frame(L_SHAPE, Orientation::AS_IT_COMES, frame) {
                first_right.get_or_insert(frame);
            } else {
                assert!(first_right.is_none(), "turned away again at frame {frame}");
            }
        }
        let first_right = first_right.expect("never turned back");
        assert!(
            first_right >= (MIN_PROBES as u64 - 1) * PROBE_EVERY && first_right < 100,
            "{first_right}"
        );
        let found = finder.current();
        assert!(!found.is_identity());
        // One `L` as drawn, held before the camera, is one piece of evidence, however long
        // it is held: the finder stays turned.
        for _ in 0..50 {
            let mut picture = L_SHAPE;
            assert_eq!(finder.orient(&mut picture, true).unwrap(), found);
        }
        // New pictures as drawn: back within a few frames, not a probe window.
        let mut back = None;
        for frame in 0..20 {
            let mut picture = new_each_frame(L_SHAPE, Orientation::AS_IT_COMES, frame + 1);
            let before = picture;
            if finder.orient(&mut picture, true).unwrap().is_identity() {
                back.get_or_insert(frame);
                assert_eq!(picture, before);
            }
        }
        assert!(back.is_some_and(|b| b < 5), "{back:?}");
        assert_eq!(finder.report().turns, 2);
        // A state keeps the orientation; a picture of the wrong size is refused.
        let mut restored = OrientationFinder::new(l_model()).unwrap();
        restored.restore(&json!({ "orientation": "turned-90" }));
        assert_eq!(restored.current(), Orientation::new(1, false));
        restored.restore(&json!({ "orientation": "sideways" }));
        assert_eq!(restored.current(), Orientation::new(1, false));
        assert!(finder.orient(&mut [0; 8], true).is_err());
    }

    /// Shows the finder new `L`s in `camera`'s orientation until it changes the orientation
    /// it reads in (at most `limit` frames); returns after how many frames, `None` if not.
    fn frames_until_it_changes(
        finder: &mut OrientationFinder,
        camera: Orientation,
        limit: u64,
    ) -> Option<u64> {
        let before = finder.current();
        (0..limit).find(|&frame| {
            let mut picture = new_each_frame(L_SHAPE, camera, frame);
            finder.orient(&mut picture, true).unwrap() != before
        })
    }

    #[test]
    fn turns_undone_quickly_make_the_next_turn_wait_for_more_probes() {
        let mut finder = OrientationFinder::new(l_model()).unwrap();
        let drawn = Orientation::AS_IT_COMES;
        assert_eq!(frames_until_it_changes(&mut finder, drawn, 100), None);
        let first = frames_until_it_changes(&mut finder, Orientation::new(1, false), 400).unwrap();
        assert!(first < 100, "{first}");
        // Undone at once: the next turn, to another orientation than the one the device came
        // back from, waits for twice the probes, then four times.
        assert!(frames_until_it_changes(&mut finder, drawn, 10).is_some());
        let second = frames_until_it_changes(&mut finder, Orientation::new(2, false), 400).unwrap();
        assert!(
            second >= (2 * MIN_PROBES as u64 - 1) * PROBE_EVERY,
            "{second}"
        );
        assert!(frames_until_it_changes(&mut finder, drawn, 10).is_some());
        let camera = Orientation::new(3, false);
        let third = frames_until_it_changes(&mut finder, camera, 800).unwrap();
        assert!(
            third >= (4 * MIN_PROBES as u64 - 1) * PROBE_EVERY,
            "{third}"
        );
        // Returns from turns undone quickly: no view held long was left.
        assert_eq!(finder.returns_from_held_turns(), 0);
        // A turn that held: the next one waits for MIN_PROBES again, and the return from it
        // counts as one from a view held long.
        assert_eq!(
            frames_until_it_changes(&mut finder, camera, SHORT_TURN_FRAMES),
            None
        );
        assert!(frames_until_it_changes(&mut finder, drawn, 10).is_some());
        assert_eq!(finder.returns_from_held_turns(), 1);
        let fourth = frames_until_it_changes(&mut finder, Orientation::new(1, true), 400).unwrap();
        assert!(fourth < second, "{fourth} vs {second}");
    }

    #[test]
    fn a_return_the_next_pictures_do_not_bear_out_is_undone_as_fast() {
        let mut finder = OrientationFinder::new(l_model()).unwrap();
        let (drawn, camera) = (Orientation::AS_IT_COMES, Orientation::new(1, true));
        assert_eq!(frames_until_it_changes(&mut finder, drawn, 100), None);
        assert!(frames_until_it_changes(&mut finder, camera, 400).is_some());
        let found = finder.current();
        // Held long enough that a return is no mistake of the turn's.
        assert_eq!(frames_until_it_changes(&mut finder, camera, 300), None);
        // A few pictures that read best as they come (a `0` or an `8` of a turned camera, say)
        // bring the device back...
        assert!(frames_until_it_changes(&mut finder, drawn, 10).is_some());
        assert!(finder.current().is_identity());
        // ...and the camera's next pictures take it to the orientation it left within a few
        // frames, not the probes a turn waits for, with the wait the turn had.
        let again = frames_until_it_changes(&mut finder, camera, 400).unwrap();
        assert!(again < 5, "{again}");
        assert_eq!(finder.current(), found);
        assert!(finder.frames - finder.turned_at > 300);
        assert_eq!(finder.report().turns, 3);
        // Pictures as drawn after a true return do not turn it away again.
        assert!(frames_until_it_changes(&mut finder, drawn, 10).is_some());
        assert_eq!(frames_until_it_changes(&mut finder, drawn, 2000), None);
    }

    #[test]
    fn the_way_back_sums_each_pictures_evidence_and_a_long_turn_does_not_slow_it() {
        let (drawn, camera) = (Orientation::AS_IT_COMES, Orientation::new(1, true));
        let mut pictures_back = Vec::new();
        for turned_frames in [300, 3000] {
            let mut finder = OrientationFinder::new(l_model()).unwrap();
            assert_eq!(frames_until_it_changes(&mut finder, drawn, 100), None);
            assert!(frames_until_it_changes(&mut finder, camera, 400).is_some());
            assert_eq!(
                frames_until_it_changes(&mut finder, camera, turned_frames),
                None
            );
            // Pictures of the turned camera read surer turned: nothing summed for the way
            // back, and nothing stored up against it, however long the camera stays turned.
            assert_eq!(finder.evidence, 0.0);
            // One picture as drawn adds how much surer it reads as it comes, less the
            // allowance (at full strength: unlike the camera's last, dimmed, picture).
            let found = finder.current();
            let surer = finder.sureness_of(&L_SHAPE, drawn) - finder.sureness_of(&L_SHAPE, found);
            assert!(surer > RETURN_ALLOWANCE, "{surer}");
            let mut picture = new_each_frame(L_SHAPE, drawn, 0);
            assert_eq!(finder.orient(&mut picture, true).unwrap(), found);
            assert!((finder.evidence - (surer - RETURN_ALLOWANCE)).abs() < 1e-5);
            // The device goes back on the first picture that takes the sum over the evidence
            // needed, before the fast means, which start from the turned reading's lead.
            let back = (1..20)
                .find(|&frame| {
                    let mut picture = new_each_frame(L_SHAPE, drawn, frame);
                    finder.orient(&mut picture, true).unwrap().is_identity()
                })
                .unwrap();
            let needed = (1..20)
                .find(|&n| n as f32 * (surer - RETURN_ALLOWANCE) > RETURN_EVIDENCE)
                .unwrap();
            assert_eq!(back + 1, needed);
            assert!(finder.fast_as_it_comes <= finder.fast_turned + RETURN_MARGIN);
            pictures_back.push(back + 1);
        }
        assert_eq!(pictures_back[0], pictures_back[1]);
    }

    #[test]
    fn a_proposed_turn_the_next_digits_do_not_bear_out_is_refused() {
        let mut finder = OrientationFinder::new(l_model()).unwrap();
        let (camera, drawn) = (Orientation::new(3, true), Orientation::AS_IT_COMES);
        // Turned `L`s until the running means propose a turn: not turned yet.
        let mut frame = 0;
        while finder.trial.is_none() {
            let mut picture = new_each_frame(L_SHAPE, camera, frame);
            assert!(finder.orient(&mut picture, true).unwrap().is_identity());
            frame += 1;
            assert!(frame < 100, "never proposed");
        }
        // The next digits read surest as drawn: the proposal is refused, and the next waits
        // for the probes a turn waits for.
        for k in 1..=u64::from(TRIAL_PICTURES) {
            let mut picture = new_each_frame(L_SHAPE, drawn, frame + k);
            assert!(finder.orient(&mut picture, true).unwrap().is_identity());
        }
        assert!(finder.trial.is_none());
        assert_eq!((finder.report().turns, finder.report().refused), (0, 1));
        assert_eq!(
            (finder.min_probes, finder.probes_since_turn),
            (MIN_PROBES, 0)
        );
        // Borne out, a proposal turns the device on the trial's last digit.
        let mut turned_at = None;
        for k in 0..400 {
            let mut picture = new_each_frame(L_SHAPE, camera, frame + k);
            let was_on_trial = finder.trial.is_some();
            if !finder.orient(&mut picture, true).unwrap().is_identity() {
                assert!(was_on_trial);
                turned_at = Some(k);
                break;
            }
        }
        assert!(turned_at.is_some());
        assert_eq!((finder.report().turns, finder.report().refused), (1, 1));
    }

    #[test]
    fn a_proposal_its_trial_reads_surer_but_not_clearly_is_refused() {
        let mut finder = OrientationFinder::new(l_model()).unwrap();
        let proposed = Orientation::new(2, false);
        let pictures = TRIAL_PICTURES as f32;
        // The trial's digits read 0.6 sure on average in the proposed orientation and 0.4 as
        // they come: surer, but under the floor of 0.7. Refused.
        finder.trial = Some(proposed);
        finder.trial_current = 0.4 * pictures;
        finder.trial_proposed = 0.6 * pictures;
        finder.trial_pictures = TRIAL_PICTURES;
        finder.end_trial(proposed, &L_SHAPE);
        assert!(finder.current().is_identity());
        assert_eq!((finder.report().turns, finder.report().refused), (0, 1));
        // At 0.8 the proposal is taken, and the way back's fast means start from the trial's
        // means.
        finder.trial = Some(proposed);
        finder.trial_proposed = 0.8 * pictures;
        finder.end_trial(proposed, &L_SHAPE);
        assert_eq!(finder.current(), proposed);
        assert_eq!((finder.report().turns, finder.report().refused), (1, 1));
        assert!((finder.fast_turned - 0.8).abs() < 1e-6);
        assert!((finder.fast_as_it_comes - 0.4).abs() < 1e-6);
    }

    #[test]
    fn a_surer_orientation_whose_answers_collapse_onto_one_class_is_refused() {
        // Probes of ten-class answers: as drawn the model answers every class in turn, 0.5
        // sure; turned a quarter it is 1.5 sure, but of one class (collapsed) or of every
        // class in turn (spread). The model itself is not read: the probes are given.
        let probe = |finder: &mut OrientationFinder, k: usize, collapsed: bool| {
            let quarter = Orientation::new(1, false);
            let mut scores = [0.5f32; 8];
            scores[quarter.index()] = 1.5;
            let mut classes = [Some(k % 10); 8];
            classes[quarter.index()] = Some(if collapsed { 3 } else { (k + 1) % 10 });
            finder.take_probe(&scores, &classes)
        };
        let mut finder = OrientationFinder::new(l_model()).unwrap();
        let mut k = 0;
        while k < 200 && !probe(&mut finder, k, true) && finder.report().refused == 0 {
            k += 1;
        }
        assert_eq!(finder.trial, None);
        assert_eq!((finder.report().turns, finder.report().refused), (0, 1));
        assert!(finder.spread(Orientation::AS_IT_COMES) > 2.9);
        assert!(finder.spread(Orientation::new(1, false)) < 1.0);
        assert_eq!(finder.probes_since_turn, 0);

        let mut finder = OrientationFinder::new(l_model()).unwrap();
        let proposed_at = (0..200).find(|&k| probe(&mut finder, k, false));
        assert_eq!(proposed_at, Some(MIN_PROBES as usize - 1));
        assert_eq!(finder.trial, Some(Orientation::new(1, false)));
        assert_eq!(finder.report().refused, 0);
    }

    #[test]
    fn answer_spread_is_the_entropy_of_the_shares_in_bits() {
        assert!((answer_spread(&[1.0, 1.0, 1.0, 1.0]) - 2.0).abs() < 1e-6);
        assert!((answer_spread(&[0.25, 0.25, 0.25, 0.25, 0.0]) - 2.0).abs() < 1e-6);
        // -(3/4) log2(3/4) - (1/4) log2(1/4) = 0.311 + 0.5
        assert!((answer_spread(&[3.0, 1.0]) - 0.811_278).abs() < 1e-5);
        assert_eq!(answer_spread(&[0.0, 2.0, 0.0]), 0.0);
        assert_eq!(answer_spread(&[]), 0.0);
        assert_eq!(answer_spread(&[f32::NAN, 1.0]), 0.0);
    }

    #[test]
    fn a_held_picture_that_reads_surer_turned_does_not_turn_the_device() {
        // One mirrored and turned `L`, held for 500 frames: it reads far surer turned back,
        // but it is one picture, probed once.
        let mut finder = OrientationFinder::new(l_model()).unwrap();
        let mut held = [0; 9];
        Orientation::new(3, true)
            .apply(&L_SHAPE, 3, &mut held)
            .unwrap();
        for _ in 0..500 {
            let mut picture = held;
            assert!(finder.orient(&mut picture, true).unwrap().is_identity());
            assert_eq!(picture, held);
        }
        assert_eq!(finder.report().turns, 0);
    }

    #[test]
    fn pictures_judged_no_digit_neither_turn_the_device_nor_bring_it_back() {
        let mut finder = OrientationFinder::new(l_model()).unwrap();
        let turned = Orientation::new(1, true);
        // Turned `L`s judged no digit: no evidence, however long.
        for frame in 0..400 {
            let mut picture = new_each_frame(L_SHAPE, turned, frame);
            assert!(finder.orient(&mut picture, false).unwrap().is_identity());
        }
        assert_eq!(finder.report().turns, 0);
        // Judged digits, they turn it; then upright `L`s judged no digit do not bring it back.
        assert!(frames_until_it_changes(&mut finder, turned, 400).is_some());
        let found = finder.current();
        for frame in 0..100 {
            let mut picture = new_each_frame(L_SHAPE, Orientation::AS_IT_COMES, frame);
            assert_eq!(finder.orient(&mut picture, false).unwrap(), found);
        }
        assert_eq!(finder.report().turns, 1);
    }

    #[test]
    fn overlap_is_the_shared_ink_over_all_ink() {
        assert_eq!(overlap(&L_SHAPE, &L_SHAPE), 1.0);
        assert_eq!(overlap(&[0; 9], &[0; 9]), 1.0);
        // min: 100, 0, 50; max: 200, 80, 50.
        assert!((overlap(&[100, 80, 50], &[200, 0, 50]) - 150.0 / 330.0).abs() < 1e-6);
        assert_eq!(overlap(&[255, 0], &[0, 255]), 0.0);
    }

    #[test]
    fn sureness_is_the_margin_over_the_spread() {
        // Outputs 0, 1, 3: margin 2; mean 4/3, variance (16/9 + 1/9 + 25/9) / 3 = 14/9.
        let s = sureness(&[0.0, 1.0, 3.0]);
        assert!((s - 2.0 / (14.0f32 / 9.0).sqrt()).abs() < 1e-6, "{s}");
        // Scale-free: logits tens apart read as tanh outputs do.
        assert!((sureness(&[0.0, 10.0, 30.0]) - s).abs() < 1e-5);
        assert_eq!(sureness(&[2.0, 2.0, 2.0]), 0.0);
        assert_eq!(sureness(&[1.0]), 0.0);
        assert_eq!(sureness(&[0.0, f32::NAN, 1.0]), 0.0);
        assert_eq!(sureness(&[0.0, f32::INFINITY, 1.0]), 0.0);
    }
}
