//! synthtel: realistic, multi-tenant synthetic telemetry for observability stacks.
//!
//! The crate is laid out as the pipeline it runs: [`sources`] generate [`model`] records on a
//! virtual clock, [`processors`] transform them, [`exporters`] deliver them, and [`pipeline`]
//! wires those together as the [`config`] says. [`admin`] serves the HTTP API.

pub mod admin;
pub mod anomaly;
pub mod bursts;
pub mod config;
pub mod daemon;
pub mod exporters;
pub mod generate;
pub mod model;
pub mod pipeline;
pub mod processors;
pub mod random;
pub mod sources;
pub mod telemetry;
