//! Progress bars on stderr (indicatif), hidden when not wanted (tests, `--quiet`).

use indicatif::{ProgressBar, ProgressStyle};

/// Makes a bar of `len` epochs for a training phase, with ETA and a free-form message (the
/// current learning rate and loss or convergence).
pub fn epochs_bar(phase: &str, len: usize, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {pos}/{len} epochs  {elapsed_precise} ETA {eta}  {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(phase.to_string());
    bar
}
