//! With feature `cuda`, compiles our CUDA kernels (`src/*.cu`, see `KERNELS`) to PTX with `nvcc`,
//! as candle compiles its own: the PTX is then of the toolkit the binary was built with, which
//! the driver loads, whatever NVRTC the GPU machine has. Without the feature it does nothing,
//! so CPU builds need no CUDA toolkit.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    for kernel in KERNELS {
        println!("cargo::rerun-if-changed=src/{kernel}.cu");
    }
    println!("cargo::rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // PTX of the oldest architecture the toolkit supports runs, compiled by the driver, on
    // every newer GPU; CUDA_COMPUTE_CAP (candle's variable) targets one exactly.
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "75".into());
    for kernel in KERNELS {
        let status = Command::new("nvcc")
            .args(["--ptx", "-fmad=false", &format!("-arch=compute_{cap}")])
            .arg("-o")
            .arg(out.join(format!("{kernel}.ptx")))
            .arg(format!("src/{kernel}.cu"))
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("nvcc failed on src/{kernel}.cu ({s})"),
            Err(e) => panic!(
                "feature `cuda` needs nvcc on PATH (a CUDA toolkit; see the README's GPU section): {e}"
            ),
        }
    }
}

/// The kernel sources in `src/`, each compiled to `OUT_DIR/<name>.ptx`.
const KERNELS: [&str; 2] = ["krotov_cuda", "kth_value"];
