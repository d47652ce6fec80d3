//! Writing a version 6 trace.dat (trace-cmd lib/trace-cmd/trace-output.c:
//! `output_write_init`, `tracecmd_output_create`, `write_options_v6`,
//! `tcmd_out_write_cpu_data`, `save_clock`).
//!
//! The writer emits the headers at once, leaves room for the flyrecord
//! table, takes each CPU's pages in turn and, in [`Writer::finish`], seeks
//! back to fill the table in.

use std::io::{Seek, SeekFrom, Write};

use super::reader::MAGIC;
use super::types::{option_id, TraceOption};
use crate::Endian;

/// Everything that goes before the CPU data.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Byte order of the recorded kernel (the host's when recording live).
    pub endian: Endian,
    /// `sizeof(long)` of the recorder (trace-cmd writes its own).
    pub long_size: u8,
    /// Sub-buffer size; CPU data is aligned to it.
    pub page_size: u32,
    /// Text of `events/header_page`.
    pub header_page: String,
    /// Text of `events/header_event`.
    pub header_event: String,
    /// Format texts of `events/ftrace/*/format`.
    pub ftrace_formats: Vec<String>,
    /// (system, [format text]) for every recorded system, in order.
    pub event_systems: Vec<(String, Vec<String>)>,
    /// `/proc/kallsyms` text (empty when hidden).
    pub kallsyms: String,
    /// `printk_formats` text.
    pub printk_formats: String,
    /// `saved_cmdlines` text.
    pub cmdlines: String,
    /// CPU count (the flyrecord table has one row per CPU).
    pub cpus: u32,
    /// Options to write (CPUSTAT, UNAME, TRACECLOCK, DATE, ...).
    pub options: Vec<TraceOption>,
    /// Clock name written after the flyrecord table, as `[name]`; only
    /// read back by trace-cmd when a TRACECLOCK option is present.
    pub clock: Option<String>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            endian: Endian::host(),
            long_size: std::mem::size_of::<usize>() as u8,
            page_size: 4096,
            header_page: String::new(),
            header_event: String::new(),
            ftrace_formats: Vec::new(),
            event_systems: Vec::new(),
            kallsyms: String::new(),
            printk_formats: String::new(),
            cmdlines: String::new(),
            cpus: 0,
            options: Vec::new(),
            clock: None,
        }
    }
}

/// A v6 trace.dat being written.
pub struct Writer<W: Write + Seek> {
    out: W,
    endian: Endian,
    page_size: u64,
    table_at: u64,
    table: Vec<(u64, u64)>,
    pos: u64,
}

impl<W: Write + Seek> Writer<W> {
    /// Writes everything up to the CPU data: headers, formats, kallsyms,
    /// printk formats, cmdlines, CPU count, options, and the flyrecord
    /// table (zeros until [`Writer::finish`]). Fails only on write errors.
    pub fn start(mut out: W, cfg: &WriterConfig) -> std::io::Result<Writer<W>> {
        let e = cfg.endian;
        let mut b: Vec<u8> = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(b"6\0");
        b.push(u8::from(e == Endian::Big));
        b.push(cfg.long_size);
        put32(&mut b, e, cfg.page_size);
        b.extend_from_slice(b"header_page\0");
        put64(&mut b, e, cfg.header_page.len() as u64);
        b.extend_from_slice(cfg.header_page.as_bytes());
        b.extend_from_slice(b"header_event\0");
        put64(&mut b, e, cfg.header_event.len() as u64);
        b.extend_from_slice(cfg.header_event.as_bytes());
        put32(&mut b, e, cfg.ftrace_formats.len() as u32);
        for f in &cfg.ftrace_formats {
            put64(&mut b, e, f.len() as u64);
            b.extend_from_slice(f.as_bytes());
        }
        put32(&mut b, e, cfg.event_systems.len() as u32);
        for (sys, formats) in &cfg.event_systems {
            b.extend_from_slice(sys.as_bytes());
            b.push(0);
            put32(&mut b, e, formats.len() as u32);
            for f in formats {
                put64(&mut b, e, f.len() as u64);
                b.extend_from_slice(f.as_bytes());
            }
        }
        put32(&mut b, e, cfg.kallsyms.len() as u32);
        b.extend_from_slice(cfg.kallsyms.as_bytes());
        put32(&mut b, e, cfg.printk_formats.len() as u32);
        b.extend_from_slice(cfg.printk_formats.as_bytes());
        put64(&mut b, e, cfg.cmdlines.len() as u64);
        b.extend_from_slice(cfg.cmdlines.as_bytes());
        put32(&mut b, e, cfg.cpus);
        if !cfg.options.is_empty() {
            b.extend_from_slice(b"options  \0");
            for o in &cfg.options {
                put16(&mut b, e, o.id);
                put32(&mut b, e, o.data.len() as u32);
                b.extend_from_slice(&o.data);
            }
            // v6: the terminating DONE has no size (write_options_v6).
            put16(&mut b, e, option_id::DONE);
        }
        b.extend_from_slice(b"flyrecord\0");
        let start = out.stream_position()?;
        let table_at = start + b.len() as u64;
        b.resize(b.len() + 16 * cfg.cpus as usize, 0);
        if let Some(c) = &cfg.clock {
            let s = format!("[{c}]");
            put64(&mut b, e, s.len() as u64);
            b.extend_from_slice(s.as_bytes());
        }
        let page = u64::from(cfg.page_size.max(1));
        let end = start + b.len() as u64;
        let pad = end.next_multiple_of(page) - end;
        b.resize(b.len() + pad as usize, 0);
        out.write_all(&b)?;
        Ok(Writer {
            out,
            endian: e,
            page_size: page,
            table_at,
            table: vec![(0, 0); cfg.cpus as usize],
            pos: start + b.len() as u64,
        })
    }

    /// Appends all of `cpu`'s pages (whole sub-buffers, back to back),
    /// padded to the page size. Call once per CPU; a CPU never given keeps
    /// size 0. Fails on write errors or a CPU outside the table.
    pub fn write_cpu_data(&mut self, cpu: u32, data: &[u8]) -> std::io::Result<()> {
        self.write_cpu_from(cpu, &mut &data[..])
    }

    /// Like [`Writer::write_cpu_data`], streaming from `r` (a spool file).
    pub fn write_cpu_from(&mut self, cpu: u32, r: &mut dyn std::io::Read) -> std::io::Result<()> {
        let slot = self.table.get_mut(cpu as usize).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("CPU {cpu} is not in the table"),
            )
        })?;
        let n = std::io::copy(r, &mut self.out)?;
        *slot = (if n == 0 { 0 } else { self.pos }, n);
        self.pos += n;
        let pad = self.pos.next_multiple_of(self.page_size) - self.pos;
        if pad > 0 && n > 0 {
            self.out.write_all(&vec![0u8; pad as usize])?;
            self.pos += pad;
        }
        Ok(())
    }

    /// Fills in the flyrecord table and flushes; returns the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        let mut t = Vec::new();
        for &(off, size) in &self.table {
            put64(&mut t, self.endian, off);
            put64(&mut t, self.endian, size);
        }
        self.out.seek(SeekFrom::Start(self.table_at))?;
        self.out.write_all(&t)?;
        self.out.seek(SeekFrom::Start(self.pos))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn put16(b: &mut Vec<u8>, e: Endian, v: u16) {
    b.extend_from_slice(&match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    });
}

fn put32(b: &mut Vec<u8>, e: Endian, v: u32) {
    b.extend_from_slice(&match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    });
}

fn put64(b: &mut Vec<u8>, e: Endian, v: u64) {
    b.extend_from_slice(&match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    });
}

/// A text option (NUL-terminated, as trace-cmd stores UNAME and CPUSTAT).
pub fn text_option(id: u16, text: &str) -> TraceOption {
    let mut data = text.as_bytes().to_vec();
    data.push(0);
    TraceOption { id, data }
}
