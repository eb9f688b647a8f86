//! The device loop: capture, preprocess, infer, learn, display, count, persist.
//!
//! Why a loop with its own clock: on the device what matters is the time each stage takes per
//! frame (a 30 fps camera leaves 33 ms for everything), so each stage is timed with
//! [`Instant`](std::time::Instant) and the summary reports means per stage next to the
//! accuracy; with a frame budget, every frame whose capture-to-display time exceeds it is
//! counted as a miss. A bad frame (an undecodable file, a cut stream) is logged, counted as
//! skipped, and the loop goes on, as firmware must; a live camera that gives nothing but bad
//! frames for [`MAX_BAD_FRAMES_IN_A_ROW`] frames stops the run with an error instead of running
//! for ever. A stop request (SIGINT or SIGTERM in the binary) is honoured between frames: the
//! loop saves what it learned and returns its summary as if the stream had ended.
//!
//! One file per part: `options` (what a run does, and the defaults of its rates), `summary`
//! (the totals and their JSON and text forms), `frame_loop` (the loop itself) and `save`
//! (writing what was learned to the state file).

mod frame_loop;
mod options;
mod save;
mod summary;

pub use frame_loop::{MAX_BAD_FRAMES_IN_A_ROW, run};
pub use options::{
    AdaptOptions, DEFAULT_EPS, DEFAULT_EPS_SETTLE, DEFAULT_EPS_WITH_LABELS, DEFAULT_ETA,
    DEFAULT_LABEL_EPS, DisplayOptions, PersistOptions, RunOptions, default_eps,
};
pub use summary::{ACCURACY_BLOCK_FRAMES, Summary};
