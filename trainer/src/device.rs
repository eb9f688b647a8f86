//! Where training runs: `--device auto|cpu|cuda` of `plastic-train`, `plastic compare` and
//! `plastic bench`.

use candle_core::Device;

use crate::{Error, Result};

/// A device choice on the command line: a [`clap::ValueEnum`], so `--help` lists the choices
/// and a wrong name exits with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceChoice {
    /// CUDA device 0 when this build has CUDA and a GPU answers, else the CPU.
    #[default]
    Auto,
    /// The CPU, on every core.
    Cpu,
    /// CUDA device 0 (needs a build with `--features cuda`).
    Cuda,
}

impl DeviceChoice {
    /// Opens the device. `Auto` falls back to the CPU when CUDA is not built in or no GPU
    /// answers; `Cuda` is an error then, with how to fix it.
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto if cfg!(feature = "cuda") => Ok(open_cuda().unwrap_or(Device::Cpu)),
            DeviceChoice::Auto => Ok(Device::Cpu),
            DeviceChoice::Cuda if cfg!(feature = "cuda") => open_cuda().map_err(|e| {
                Error::Config(format!(
                    "could not open CUDA device 0 (is the NVIDIA driver loaded, and are \
                     libcublas, libcurand and libcudart on LD_LIBRARY_PATH?): {e}"
                ))
            }),
            DeviceChoice::Cuda => Err(Error::Config(
                "this build has no CUDA: rebuild with `--features cuda` (see the README's GPU \
                 section), or pass `--device cpu`"
                    .into(),
            )),
        }
    }
}

/// CUDA device 0, without candle's per-tensor event tracking.
fn open_cuda() -> candle_core::Result<Device> {
    let device = Device::new_cuda(0)?;
    #[cfg(feature = "cuda")]
    if let Device::Cuda(cuda) = &device {
        // SAFETY: plastic queues all its work for a device on that device's one stream
        // (candle's), so the events that order a tensor's uses across streams order nothing
        // here; they cost driver calls for every argument of every kernel.
        unsafe { cuda.disable_event_tracking() };
    }
    Ok(device)
}

/// The name a checkpoint's provenance records for `device`.
pub fn device_name(device: &Device) -> &'static str {
    match device {
        Device::Cpu => "cpu",
        Device::Cuda(_) => "cuda",
        Device::Metal(_) => "metal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_auto_open_without_a_gpu_and_cuda_says_how_to_fix_it() {
        assert!(DeviceChoice::Cpu.open().unwrap().is_cpu());
        assert_eq!(device_name(&DeviceChoice::Auto.open().unwrap()), {
            if cfg!(feature = "cuda") && candle_core::utils::cuda_is_available() {
                "cuda"
            } else {
                "cpu"
            }
        });
        if !cfg!(feature = "cuda") {
            let err = DeviceChoice::Cuda.open().unwrap_err().to_string();
            assert!(err.contains("--features cuda"), "{err}");
        }
    }
}
