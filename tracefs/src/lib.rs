//! ftr-tracefs: everything ftr needs from ftrace's tracefs.
//!
//! The crate has two halves that never mix:
//! - *control* ([`TracingDir`], [`Instance`], [`Guard`], [`Capabilities`],
//!   probes): the only code that touches files under tracefs;
//! - *decoding* ([`format`], [`ring`]): pure functions over bytes and text, fed
//!   either by the control half or by files recorded elsewhere.
#![deny(unsafe_code)]

mod endian;
pub mod format;
pub mod ring;

pub use endian::Endian;
