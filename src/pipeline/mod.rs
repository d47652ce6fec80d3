//! The pipeline every tool runs on:
//! plan -> capabilities pick a source -> session (guarded setup) ->
//! per-CPU readers -> decode by schema -> (merge by timestamp) -> the tool's
//! aggregator -> a renderer.

pub mod comm;
pub mod plan;
pub mod session;
pub mod stop;
pub mod tasks;
