//! Configuration: one TOML file, validated completely before anything starts.

pub mod de;
mod problem;

pub use problem::Problem;
