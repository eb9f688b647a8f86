//! Puts `memory.x` where the linker looks for it (cortex-m-rt's `link.x` includes it), and
//! rebuilds when it or the embedded files change.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=model");
    println!("cargo:rerun-if-changed=digits");
}
