//! The ftr binary's library half: the CLI, the pipeline every tool runs on,
//! the shared renderers and the tools. `main.rs` only parses and dispatches;
//! keeping the rest here lets integration tests and benchmarks reach it.

#![deny(unsafe_code)]

pub mod cli;
pub mod mmap;
pub mod pipeline;
pub mod render;
pub mod sys;
pub mod tools;
