//! What every supervised trainer reads: a training set and a test set with their labels.

use candle_core::Tensor;

/// Inputs (`[samples, n]`, on the device training runs on) and labels of a training set and
/// a test set. Passed whole, so a trainer takes one argument for its data instead of four that
/// a caller could swap.
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    /// Training inputs, one row per sample.
    pub x_train: &'a Tensor,
    /// Training labels, one per row of `x_train`.
    pub y_train: &'a [u32],
    /// Test inputs.
    pub x_test: &'a Tensor,
    /// Test labels, one per row of `x_test`.
    pub y_test: &'a [u32],
}
