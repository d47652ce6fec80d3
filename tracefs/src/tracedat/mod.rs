//! trace-cmd's trace.dat files, read (v6 and v7) and written (v6).
//!
//! Bytes only: [`TraceDat::parse`] takes the file's bytes and
//! [`Writer`] writes to any `Write + Seek`; opening files is the caller's
//! business. Layout references: KERNELS.md section 1 and trace-cmd's
//! lib/trace-cmd/trace-input.c and trace-output.c.
//!
//! ```
//! use ftr_tracefs::tracedat::{TraceDat, Writer, WriterConfig};
//! use ftr_tracefs::Endian;
//!
//! let header_page = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\
//!     \tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n\
//!     \tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n";
//! let cfg = WriterConfig {
//!     endian: Endian::Little,
//!     long_size: 8,
//!     page_size: 4096,
//!     header_page: header_page.into(),
//!     cpus: 1,
//!     ..Default::default()
//! };
//! let mut out = std::io::Cursor::new(Vec::new());
//! let mut w = Writer::start(&mut out, &cfg)?;
//! w.write_cpu_data(0, &[0u8; 4096])?;
//! w.finish()?;
//! let bytes = out.into_inner();
//! let t = TraceDat::parse(&bytes)?;
//! assert_eq!((t.version, t.cpus, t.cpu_data()[0].data.len()), (6, 1, 4096));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compress;
mod cursor;
mod error;
mod reader;
mod types;
mod writer;

pub use error::{Result, TraceDatError};
pub use types::{option_id, CpuData, TraceDat, TraceData, TraceOption};
pub use writer::{text_option, Writer, WriterConfig};

#[cfg(test)]
mod tests;
