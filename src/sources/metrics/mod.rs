//! The `metrics` source and the signal model behind every synthetic metric.

pub mod signal;
