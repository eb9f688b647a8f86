//! Dataset images to model inputs, using the runtime's own normalisation so that what the
//! trainer learns on is exactly what the device computes from a frame.

use plastic_models::Preprocess;
use plastic_runtime::Model;
use plastic_runtime::preprocess::normalize;
use rayon::prelude::*;

use crate::Result;
use crate::data::Dataset;

/// Normalises every image of `data` as `preprocess` says: a row-major `[len, sample_len]`
/// matrix of f32.
pub fn inputs(data: &Dataset, preprocess: &Preprocess) -> Result<Vec<f32>> {
    let n = data.sample_len();
    let mut out = vec![0.0f32; data.len() * n];
    out.par_chunks_mut(n)
        .zip(data.images.par_chunks(n))
        .try_for_each(|(o, img)| normalize(img, preprocess, o))?;
    Ok(out)
}

/// Labels as u32, the index type candle's losses take.
pub fn labels(data: &Dataset) -> Vec<u32> {
    data.labels.iter().map(|&l| u32::from(l)).collect()
}

/// How many samples of `data` the runtime `model` classifies as their label, each image
/// preprocessed as the model's spec says: the accuracy a device gets. Runs on all cores.
pub fn runtime_correct_count(model: &Model, data: &Dataset) -> Result<usize> {
    let preprocess = &model.spec().input.preprocess;
    (0..data.len())
        .into_par_iter()
        .map_init(
            || (model.workspace(), vec![0.0f32; data.sample_len()]),
            |(ws, input), i| -> Result<usize> {
                normalize(data.image(i), preprocess, input)?;
                let p = model.infer(input, ws)?;
                Ok(usize::from(p.class == usize::from(data.labels[i])))
            },
        )
        .try_reduce(|| 0, |a, b| Ok(a + b))
}
