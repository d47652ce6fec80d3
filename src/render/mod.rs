//! Shared output: bcc-layout histograms, aligned tables, JSON lines.

pub mod hist;
pub mod table;
