//! Framing, inference and learning steps allocate nothing once the model, its workspace and the
//! framing's buffers exist: a
//! counting global allocator proves it on the shipped demo model, for the f32 and int8
//! models, the Krotov step, and the adaptive model's inference, unsupervised and labelled steps.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use plastic_runtime::Model;
use plastic_runtime::learn::krotov::{KrotovParams, KrotovStep};
use plastic_runtime::preprocess::{FrameStyle, Framing, FramingBuffers, frame_digit_in, normalize};

/// The digit framed as MNIST was made, whatever the frame.
const MNIST: Framing = Framing::Always(FrameStyle::Mnist);

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn framing_inference_and_learning_steps_do_not_allocate() {
    let model = Model::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
    let f32_model = Model::from_bytes(include_bytes!(
        "../../models/default/mnist-krotov.safetensors"
    ))
    .unwrap();
    let pixels: Vec<u8> = (0..784).map(|i| ((i * 37) % 256) as u8).collect();
    let mut input = vec![0.0f32; 784];
    let (mut ws, mut ws32) = (model.workspace(), f32_model.workspace());
    let (hidden, n) = (400, 784);
    let mut w = vec![0.01f32; hidden * n];
    let mut currents: Vec<f32> = (0..hidden).map(|i| i as f32).collect();
    let mut step = KrotovStep::new(hidden, n, 1);
    let ckpt = plastic_models::Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
    let mut adaptive = plastic_runtime::AdaptiveModel::from_checkpoint(
        &ckpt,
        plastic_runtime::plastic::MasterPrecision::F16,
        plastic_runtime::plastic::Guards::default(),
    )
    .unwrap();
    let params = KrotovParams {
        p: 3.0,
        k: 7,
        delta: 0.4,
    };

    // A camera frame: paper with a ruled line and a dark stroke that moves; framed once before
    // counting, which grows the framing's buffers to the camera's size.
    let (cw, ch) = (160, 120);
    let mut camera = vec![200u8; cw * ch];
    camera[40 * cw..41 * cw].fill(170);
    let mut buffers = FramingBuffers::default();
    let mut digit = [0u8; 784];
    frame_digit_in(&camera, cw, ch, MNIST, &mut buffers, &mut digit).unwrap();

    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for frame in 0..100 {
        for y in 20..80 {
            camera[y * cw + 30 + frame % 50] = 60;
        }
        frame_digit_in(&camera, cw, ch, MNIST, &mut buffers, &mut digit).unwrap();
        normalize(&pixels, &model.spec().input.preprocess, &mut input).unwrap();
        model.infer(&input, &mut ws).unwrap();
        f32_model.infer(&input, &mut ws32).unwrap();
        currents[frame % hidden] += 1000.0;
        step.clear();
        step.add_sample(&input, &currents, params).unwrap();
        step.apply(&mut w, 0.01);
        adaptive.infer(&input).unwrap();
        adaptive.adapt_unsupervised(&input, 0.01).unwrap();
        adaptive.adapt_label(frame % 10, 0.01).unwrap();
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(after - before, 0, "allocations during 100 frames");
}
