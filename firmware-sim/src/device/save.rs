//! Saving what the device learned to its state file, between frames.

use std::io::Write;

use super::options::PersistOptions;
use super::summary::Summary;
use crate::drift::DriftMonitor;
use crate::persist::write_state;
use crate::pipeline::Pipeline;

/// Saves the adaptive engine's state ([`write_state`]); a failure is logged and the device runs
/// on with the last good state on disk (a full card, or a state that would not load again,
/// must not stop the camera).
pub(super) fn save(
    pipeline: &Pipeline,
    options: &PersistOptions,
    frames_before: u64,
    drift: &DriftMonitor,
    summary: &mut Summary,
    log: &mut dyn Write,
) {
    let train = serde_json::json!({
        "frames_seen": frames_seen(frames_before, summary.frames),
        "adapt": summary.adapt.mode.to_string(),
        "eps": summary.adapt.eps,
        "eps_settle": summary.adapt.eps_settle,
        "eta": summary.adapt.eta,
        "label_eps": summary.adapt.label_eps,
        "recruit": summary.adapt.recruit,
        "align_horizon": summary.adapt.policy.align_horizon,
        "channel_horizon": summary.adapt.policy.channel_horizon,
        "conv_rate": summary.adapt.policy.conv_rate,
        "drift": drift.to_json(),
    });
    let metrics = serde_json::json!({
        "frames": summary.frames,
        "accuracy": summary.accuracy(),
        "adaptation_steps": summary.adaptation_steps,
        "rollbacks": summary.rollbacks,
        "label_steps": summary.label_steps,
        "recruited_units": summary.recruited_units,
    });
    let Some(state) = pipeline.engine().checkpoint(train, metrics) else {
        return;
    };
    match write_state(&options.path, &state) {
        Ok(()) => summary.persist_count += 1,
        Err(e) => {
            let _ = writeln!(
                log,
                "warning: could not save the state to `{}`: {e}",
                options.path.display()
            );
        }
    }
}

/// Frames the device has seen over its life: those before this run (from the saved state)
/// and this run's. Saturates: a state file is input like any other, and a count near the top
/// of u64 in it must not wrap to a small one.
pub(crate) fn frames_seen(before: u64, this_run: u64) -> u64 {
    before.saturating_add(this_run)
}
