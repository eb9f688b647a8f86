//! Progress on stderr: an indicatif bar on a terminal; on a pipe or log file (where a bar
//! draws nothing) a plain line every tenth of the run; nothing when not wanted (tests,
//! `--quiet`).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of one training phase, counted in epochs.
#[derive(Debug)]
pub struct EpochProgress {
    bar: ProgressBar,
    phase: String,
    len: usize,
    done: usize,
    plain: bool,
}

impl EpochProgress {
    /// Progress of `len` epochs of `phase`.
    pub fn new(phase: &str, len: usize, visible: bool) -> Self {
        let plain = visible && !std::io::stderr().is_terminal();
        Self {
            bar: epochs_bar(phase, len, visible && !plain),
            phase: phase.to_string(),
            len,
            done: 0,
            plain,
        }
    }

    /// One more epoch done; `message` says the learning rate and how it goes.
    pub fn epoch_done(&mut self, message: String) {
        self.done += 1;
        if self.plain {
            let every = self.len.div_ceil(10).max(1);
            if self.done.is_multiple_of(every) || self.done == self.len {
                eprintln!(
                    "{} {}/{} epochs  {message}",
                    self.phase, self.done, self.len
                );
            }
        } else {
            self.bar.set_message(message);
            self.bar.inc(1);
        }
    }

    /// The phase is over.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

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
