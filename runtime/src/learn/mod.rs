//! Local learning rules on plain slices: what the device runs to keep learning without
//! backprop. Each rule is a small function named after its paper, with its equation in the doc
//! comment and a hand-computed test. The trainer calls the same functions on its CPU path, and
//! holds its candle-tensor versions to them in tests.

pub mod delta;
pub mod hebbian;
pub mod krotov;
pub mod softhebb;
