//! Helpers shared by the `plastic` command's integration tests: the shipped checkpoints, the
//! binary, per-test temp paths, the shared data folder.
#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository's root.
pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// The shipped f32 demo model.
pub const F32: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../models/default/mnist-krotov.safetensors"
);
/// The shipped int8 demo model.
pub const INT8: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../models/default/mnist-krotov.int8.safetensors"
);

/// Runs `plastic ARGS` to the end.
pub fn plastic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plastic"))
        .args(args)
        .output()
        .expect("plastic runs")
}

/// `name` in a temp folder of this test process, one folder per `tag`.
pub fn temp(tag: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plastic-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The shared data folder, or `None` with the reason on stderr (the test then skips).
pub fn data_dir() -> Option<PathBuf> {
    let dir = plastic_trainer::data::shared_data_dir();
    if dir.is_none() {
        eprintln!("skipped: no shared data (set PLASTIC_DATA)");
    }
    dir
}

/// The standard output of a command that must have succeeded; `what` names it on failure.
pub fn stdout_of(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
