//! Example firmware for a Cortex-M4F (STM32F411-class: 512 KiB flash, 128 KiB RAM): an int8
//! MNIST model with a Krotov-Hopfield plastic layer, embedded in flash, classifying a few
//! built-in test digits and learning from each of them on the device, without labels.
//!
//! 1. The checkpoint is parsed and run once by the runtime's own [`Model`]: those predictions are
//!    the reference.
//! 2. The model is dropped and the checkpoint is parsed again into int8 layers that this file
//!    owns and updates: the forward pass is done here with the runtime's kernels and checked
//!    against the reference (it must give the same outputs, bit for bit).
//! 3. Then, in rounds, every digit is classified and the plastic layer takes one Krotov step on
//!    it: currents `sign(W)|W|^(p-1) . v`, ranking, the update of the winner's and the k-th
//!    unit's rows, and re-quantization of just those rows.
//!
//! Why not `plastic_runtime::AdaptiveModel` / `PlasticLayer`, the runtime's plastic-layer API?
//! They keep a master copy of the whole layer next to its int8 copy: for 64 x 784 weights that is
//! 200,704 bytes in f32 or 100,352 bytes in f16, plus 50,176 int8 bytes, and
//! `PlasticLayer::from_int8` first builds the whole f32 matrix. None of that fits in 128 KiB of
//! RAM. Here the int8 copy *is* the master: a step dequantizes only the (at most two) rows it
//! touches into f32 (`q * scale`), updates them with `KrotovStep::apply_compact`, and quantizes
//! them back with `quantize_vector`. The price is that a weight's change smaller than half of
//! its row's int8 step (`max |row| / 254`) is rounded away; the rule's step normalisation (the
//! largest change of any weight is `eps`) keeps the large changes (the README has numbers).
//! `PlasticLayer` as it is needs about 150 KB steady (f16 master + int8 copy) and about 350 KB
//! while it builds: an STM32H7-class part; a row-streaming variant would suit parts like this.
//!
//! Results go through `core::hint::black_box`, so nothing is optimised away; no I/O is needed.
//! With `--features semihosting` (for QEMU or a debugger) the firmware also prints what it did,
//! its heap peak and stack depth, and exits.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::hint::black_box;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

use cortex_m_rt::entry;
use embedded_alloc::LlffHeap;
#[cfg(not(feature = "semihosting"))]
use panic_halt as _;
use plastic_models::{Activation, Checkpoint, LayerKind, LayerTensors, Weights};
use plastic_runtime::Model;
use plastic_runtime::kernels::{dot_f32, matvec_i8};
use plastic_runtime::learn::krotov::{KrotovParams, KrotovStep, lebesgue_weight};
use plastic_runtime::preprocess::normalize;
use plastic_runtime::quant::quantize_vector;

/// The heap: 112 KiB of the part's 128 KiB RAM; the stack gets the rest (about 16 KiB, of which
/// the semihosting build measured 3.6 KiB in use). What lives in it, for the 64-unit model
/// (784 -> 64 -> 10):
/// - while `Model::from_bytes` runs, the parsed `Checkpoint` and the `Model` built from it both
///   hold the int8 weights, 2 x (50,176 + 64 x 4 + 640 + 10 x 4) bytes, next to the spec and
///   metadata: the peak, 107,308 bytes measured under QEMU (`--features semihosting`);
/// - afterwards, only the int8 copy this firmware owns and updates (51 KiB), the learning buffers
///   (a one-sample `KrotovStep`: 2 x 784 f32 = 6.1 KiB; the two touched rows in f32: 6.1 KiB;
///   one row of `sign(W)|W|^(p-1)`: 3.1 KiB) and the forward buffers (the input in f32 and int8,
///   currents, hidden and output vectors: 4 KiB): 71,792 bytes measured.
///
/// There is no f32 master copy of the plastic layer: 64 x 784 f32 is 196 KiB, more than all of
/// the RAM (see the crate docs).
const HEAP_SIZE: usize = 112 * 1024;

/// The learning rate of the on-device steps: the largest change of any weight in one step
/// (`KrotovStep` normalises the update by its largest entry). The training schedule starts at
/// 0.02 and decays to 0; 0.01 is large enough to survive the int8 rounding of rows whose int8
/// step is up to ~0.009, and small enough not to undo the training in a few steps.
const EPS: f32 = 0.01;

/// Passes over the built-in digits before the firmware parks the core.
const ROUNDS: usize = 4;

/// The int8 checkpoint (`plastic-train krotov --hidden 64`, then `plastic quantize`).
static CHECKPOINT: &[u8] = include_bytes!("../model/mnist-krotov-64.int8.safetensors");

/// MNIST test digits as raw 28x28 gray bytes (`tools/extract_digits.py`), with their labels.
static DIGITS: [(&[u8; 784], usize); 4] = [
    (include_bytes!("../digits/t10k-0000-label-7.u8"), 7),
    (include_bytes!("../digits/t10k-0001-label-2.u8"), 2),
    (include_bytes!("../digits/t10k-0002-label-1.u8"), 1),
    (include_bytes!("../digits/t10k-0003-label-0.u8"), 0),
];

/// The allocator, with a record of the most heap ever in use.
struct TrackedHeap {
    heap: LlffHeap,
    peak: AtomicUsize,
}

// SAFETY: every call is forwarded to `LlffHeap`, a correct allocator; the peak is only a
// statistic read after the fact.
unsafe impl GlobalAlloc for TrackedHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let ptr = unsafe { self.heap.alloc(layout) };
        self.peak.fetch_max(self.heap.used(), Ordering::Relaxed);
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { self.heap.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static HEAP: TrackedHeap = TrackedHeap {
    heap: LlffHeap::empty(),
    peak: AtomicUsize::new(0),
};

/// Why the firmware stopped early; halts with the code where a debugger can see it.
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
enum Failure {
    ReferenceModel = 1,
    Checkpoint = 2,
    NotKrotovPowerTanh = 3,
    NotInt8 = 4,
    Preprocess = 5,
    ReferenceInference = 6,
    Learn = 7,
}

#[cfg(feature = "semihosting")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    cortex_m_semihosting::hprintln!(
        "{}\nheap: {} bytes in use, peak {}",
        info,
        HEAP.heap.used(),
        HEAP.peak.load(Ordering::Relaxed)
    );
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {}
}

fn halt(failure: Failure) -> ! {
    #[cfg(feature = "semihosting")]
    {
        cortex_m_semihosting::hprintln!("failed: {:?}", failure);
        cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    }
    loop {
        black_box(failure as u32);
        cortex_m::asm::bkpt();
    }
}

/// One dense layer with int8 weights (row-major `[outputs, inputs]`, one scale per row).
struct Int8Layer {
    inputs: usize,
    outputs: usize,
    q: Vec<i8>,
    scale: Vec<f32>,
    bias: Option<Vec<f32>>,
    activation: Activation,
}

impl Int8Layer {
    fn from_tensors(tensors: LayerTensors, spec: &plastic_models::LayerSpec) -> Option<Self> {
        let Weights::Int8 { q, scale } = tensors.weight else {
            return None;
        };
        Some(Self {
            inputs: spec.inputs,
            outputs: spec.outputs,
            q,
            scale,
            bias: tensors.bias,
            activation: spec.activation.clone(),
        })
    }

    /// `y = activation(W x + b)` exactly as the runtime's `Model` computes it for int8 weights:
    /// `x` quantized per vector, exact i32 sums, then the row and input scales.
    fn forward(&self, x: &[f32], xq: &mut [i8], acc: &mut [i32], y: &mut [f32]) {
        let xq = &mut xq[..self.inputs];
        let acc = &mut acc[..self.outputs];
        let sx = quantize_vector(x, xq);
        matvec_i8(&self.q, xq, acc);
        for ((o, &a), &s) in y.iter_mut().zip(acc.iter()).zip(&self.scale) {
            *o = a as f32 * s * sx;
        }
        if let Some(bias) = &self.bias {
            y.iter_mut().zip(bias).for_each(|(o, b)| *o += b);
        }
        plastic_runtime::apply_activation(&self.activation, y);
    }

    /// Row `mu` in f32: `q * scale`.
    fn dequantize_row(&self, mu: usize, out: &mut [f32]) {
        let s = self.scale[mu];
        let row = &self.q[mu * self.inputs..(mu + 1) * self.inputs];
        out.iter_mut()
            .zip(row)
            .for_each(|(o, &v)| *o = f32::from(v) * s);
    }
}

/// Index of the largest output (the first of equals, as the runtime's `predict` picks it).
fn argmax(y: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in y.iter().enumerate() {
        if v > y[best] {
            best = i;
        }
    }
    best
}

/// The plastic layer, the readout and every buffer a round needs, allocated once.
struct Device {
    plastic: Int8Layer,
    readout: Int8Layer,
    params: KrotovParams,
    step: KrotovStep,
    x: Vec<f32>,
    xq: Vec<i8>,
    acc: Vec<i32>,
    hidden: Vec<f32>,
    out: Vec<f32>,
    currents: Vec<f32>,
    row: Vec<f32>,
    touched: Vec<f32>,
}

/// What one learning step did.
#[derive(Debug, Clone, Copy, Default)]
struct StepReport {
    winner: usize,
    /// int8 weights whose value changed.
    changed_weights: usize,
}

impl Device {
    /// Parses the checkpoint into layers this firmware owns.
    fn new(bytes: &[u8]) -> Result<Self, Failure> {
        let ckpt = Checkpoint::from_bytes(bytes).map_err(|_| Failure::Checkpoint)?;
        let Checkpoint { spec, layers, .. } = ckpt;
        let [first, second] = spec.layers.as_slice() else {
            return Err(Failure::NotKrotovPowerTanh);
        };
        let LayerKind::Krotov { p, k, delta } = first.kind else {
            return Err(Failure::NotKrotovPowerTanh);
        };
        if second.conv.is_some() {
            return Err(Failure::NotKrotovPowerTanh);
        }
        let mut layers = layers.into_iter();
        let (Some(t0), Some(t1)) = (layers.next(), layers.next()) else {
            return Err(Failure::NotKrotovPowerTanh);
        };
        let plastic = Int8Layer::from_tensors(t0, first).ok_or(Failure::NotInt8)?;
        let readout = Int8Layer::from_tensors(t1, second).ok_or(Failure::NotInt8)?;
        let (n, hidden, classes) = (first.inputs, first.outputs, second.outputs);
        Ok(Self {
            params: KrotovParams { p, k, delta },
            // One sample per step: at most two rows change.
            step: KrotovStep::new(hidden, n, 1),
            x: vec![0.0; n],
            xq: vec![0; n],
            acc: vec![0; hidden.max(classes)],
            hidden: vec![0.0; hidden],
            out: vec![0.0; classes],
            currents: vec![0.0; hidden],
            row: vec![0.0; n],
            touched: vec![0.0; 2 * n],
            plastic,
            readout,
        })
    }

    /// Classifies the input in `self.x`; the outputs are in `self.out`.
    fn infer(&mut self) -> usize {
        self.plastic
            .forward(&self.x, &mut self.xq, &mut self.acc, &mut self.hidden);
        self.readout
            .forward(&self.hidden, &mut self.xq, &mut self.acc, &mut self.out);
        argmax(&self.out)
    }

    /// One Krotov step of the plastic layer on the input in `self.x`.
    fn learn(&mut self, eps: f32) -> Result<StepReport, Failure> {
        let n = self.plastic.inputs;
        let p = self.params.p;
        // Currents I_mu = sum_i sign(W_mu,i) |W_mu,i|^(p-1) v_i, one dequantized row at a time.
        for mu in 0..self.plastic.outputs {
            self.plastic.dequantize_row(mu, &mut self.row);
            self.row
                .iter_mut()
                .for_each(|w| *w = lebesgue_weight(*w, p));
            self.currents[mu] = dot_f32(&self.row, &self.x);
        }
        self.step.clear();
        let winner = self
            .step
            .add_sample(&self.x, &self.currents, self.params)
            .map_err(|_| Failure::Learn)?;
        // The touched rows, in f32, in the step's slot order; update; write back in int8.
        let slots = self.step.changed_rows().len();
        for (slot, &mu) in self.step.changed_rows().iter().enumerate() {
            self.plastic
                .dequantize_row(mu, &mut self.touched[slot * n..(slot + 1) * n]);
        }
        let touched = &mut self.touched[..slots * n];
        self.step.apply_compact(touched, eps);
        if touched.iter().any(|w| !w.is_finite()) {
            return Err(Failure::Learn);
        }
        let mut changed_weights = 0;
        for (slot, &mu) in self.step.changed_rows().iter().enumerate() {
            let q = &mut self.plastic.q[mu * n..(mu + 1) * n];
            let before = &mut self.xq[..n]; // free until the next inference
            before.copy_from_slice(q);
            self.plastic.scale[mu] = quantize_vector(&touched[slot * n..(slot + 1) * n], q);
            changed_weights += q.iter().zip(before.iter()).filter(|(a, b)| a != b).count();
        }
        Ok(StepReport {
            winner,
            changed_weights,
        })
    }
}

#[entry]
fn main() -> ! {
    #[cfg(feature = "semihosting")]
    stack::paint();
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: runs once, before the first allocation; HEAP_MEM is used by nothing else.
        unsafe { HEAP.heap.init(&raw mut HEAP_MEM as usize, HEAP_SIZE) }
    }

    // 1. Reference predictions from the runtime's Model.
    let mut reference = [0usize; DIGITS.len()];
    let mut reference_out = [[0.0f32; 10]; DIGITS.len()];
    let preprocess = {
        let model = Model::from_bytes(CHECKPOINT).unwrap_or_else(|_| halt(Failure::ReferenceModel));
        let mut ws = model.workspace();
        let spec = model.spec();
        let mut x = vec![0.0f32; spec.input_len()];
        for (i, (pixels, _)) in DIGITS.iter().enumerate() {
            normalize(&pixels[..], &spec.input.preprocess, &mut x)
                .unwrap_or_else(|_| halt(Failure::Preprocess));
            let prediction = model
                .infer(&x, &mut ws)
                .unwrap_or_else(|_| halt(Failure::ReferenceInference));
            reference[i] = prediction.class;
            let out = ws.outputs(&model);
            let len = out.len().min(10);
            reference_out[i][..len].copy_from_slice(&out[..len]);
        }
        spec.input.preprocess.clone()
    };
    let heap_after_reference = HEAP.heap.used();

    // 2. The firmware's own copy, checked against the reference.
    let mut device = Device::new(CHECKPOINT).unwrap_or_else(|e| halt(e));
    let mut identical = 0;
    for (i, (pixels, _)) in DIGITS.iter().enumerate() {
        normalize(&pixels[..], &preprocess, &mut device.x)
            .unwrap_or_else(|_| halt(Failure::Preprocess));
        let class = device.infer();
        let len = device.out.len().min(10);
        if class == reference[i] && device.out[..len] == reference_out[i][..len] {
            identical += 1;
        }
    }
    black_box((identical, &reference));

    // 3. Classify and learn, round after round.
    let mut correct = [0usize; ROUNDS];
    let mut changed = [0usize; ROUNDS];
    let mut winners = [[0usize; DIGITS.len()]; ROUNDS];
    for round in 0..ROUNDS {
        for (i, (pixels, label)) in DIGITS.iter().enumerate() {
            normalize(&pixels[..], &preprocess, &mut device.x)
                .unwrap_or_else(|_| halt(Failure::Preprocess));
            let class = device.infer();
            correct[round] += usize::from(class == *label);
            let report = device.learn(EPS).unwrap_or_else(|e| halt(e));
            changed[round] += report.changed_weights;
            winners[round][i] = report.winner;
            black_box((class, device.out.as_slice(), report));
        }
    }
    black_box((&correct, &changed, &winners));
    let heap_peak = HEAP.peak.load(Ordering::Relaxed);
    black_box((heap_after_reference, heap_peak));

    #[cfg(feature = "semihosting")]
    {
        use cortex_m_semihosting::{debug, hprintln};
        hprintln!("checkpoint: {} bytes in flash", CHECKPOINT.len());
        hprintln!(
            "reference (runtime Model): classes {:?}, labels {:?}",
            reference,
            DIGITS.map(|d| d.1)
        );
        hprintln!(
            "firmware int8 forward identical to the Model on {}/{} digits",
            identical,
            DIGITS.len()
        );
        for round in 0..ROUNDS {
            hprintln!(
                "round {}: {}/{} correct before learning on each; winners {:?}; {} int8 weights changed",
                round,
                correct[round],
                DIGITS.len(),
                winners[round],
                changed[round]
            );
        }
        hprintln!(
            "heap: peak {} of {} bytes; {} in use after the reference model was dropped; {} now",
            heap_peak,
            HEAP_SIZE,
            heap_after_reference,
            HEAP.heap.used()
        );
        hprintln!("stack: deepest use {} bytes", stack::deepest());
        debug::exit(if identical == DIGITS.len() {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
    }

    drop(device);
    loop {
        cortex_m::asm::wfi();
    }
}

/// Stack-depth measurement for the semihosting build: the free RAM between the end of .bss and
/// the stack pointer is filled with a pattern at start; the lowest overwritten word at the end
/// is the deepest the stack went.
#[cfg(feature = "semihosting")]
mod stack {
    const PATTERN: u32 = 0xA5A5_5A5A;

    unsafe extern "C" {
        /// End of .bss (cortex-m-rt's link.x).
        static mut __sheap: u32;
        /// Top of the stack (cortex-m-rt's link.x).
        static _stack_start: u32;
    }

    fn bottom() -> *mut u32 {
        &raw mut __sheap
    }

    /// Fills the unused stack below the current frame with the pattern.
    #[inline(never)]
    pub fn paint() {
        let sp = cortex_m::register::msp::read() as usize - 256;
        let mut p = bottom();
        while (p as usize) < sp {
            // SAFETY: RAM between the end of .bss and below the live stack is unused.
            unsafe {
                p.write_volatile(PATTERN);
                p = p.add(1);
            }
        }
    }

    /// Bytes between the top of the stack and the lowest word that lost the pattern.
    pub fn deepest() -> usize {
        let top = &raw const _stack_start as usize;
        let mut p = bottom();
        // SAFETY: reads of RAM below the live stack.
        while (p as usize) < top && unsafe { p.read_volatile() } == PATTERN {
            p = unsafe { p.add(1) };
        }
        top - p as usize
    }
}
