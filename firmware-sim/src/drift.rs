//! The display's drift indicator, from the runtime (see [`plastic_runtime::drift`]): the screen
//! shows it, the Krotov layer's rate settles by it, and the state file keeps it.

pub use plastic_runtime::drift::{DRIFT_ALERT, DriftMonitor};
