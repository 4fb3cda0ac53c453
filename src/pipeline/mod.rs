//! The pipeline runtime: sources → processors → fan-out → exporters.

pub mod stats;
