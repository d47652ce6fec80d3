//! What a trace.dat holds, as plain data.

use std::borrow::Cow;

use crate::format::{parse_header_page, FormatError, Formats, Schema};
use crate::ring::PageLayout;
use crate::Endian;

/// Option and v7 section ids (`enum tracecmd_option_id` in trace-cmd's
/// lib/trace-cmd/include/private/trace-cmd-private.h).
pub mod option_id {
    /// End of an options list (v7: carries the next options offset).
    pub const DONE: u16 = 0;
    /// ASCII `0x...` offset of timestamps from the time of day, in µs.
    pub const DATE: u16 = 1;
    /// Text of `per_cpu/cpuN/stats`, one option per CPU.
    pub const CPUSTAT: u16 = 2;
    /// A buffer instance (v6: u64 offset + name; v7 adds clock and CPUs).
    pub const BUFFER: u16 = 3;
    /// Text of the `trace_clock` file.
    pub const TRACECLOCK: u16 = 4;
    /// `uname -a` style text.
    pub const UNAME: u16 = 5;
    /// A hook.
    pub const HOOK: u16 = 6;
    /// ASCII ns offset added to timestamps.
    pub const OFFSET: u16 = 7;
    /// u32 CPU count.
    pub const CPUCOUNT: u16 = 8;
    /// trace-cmd version string.
    pub const VERSION: u16 = 9;
    /// Section: strings (v7).
    pub const STRINGS: u16 = 15;
    /// Section: header_page + header_event (v7).
    pub const HEADER_INFO: u16 = 16;
    /// Section: ftrace formats (v7).
    pub const FTRACE_EVENTS: u16 = 17;
    /// Section: event formats (v7).
    pub const EVENT_FORMATS: u16 = 18;
    /// Section: kallsyms (v7).
    pub const KALLSYMS: u16 = 19;
    /// Section: printk formats (v7).
    pub const PRINTK: u16 = 20;
    /// Section: saved_cmdlines (v7).
    pub const CMDLINES: u16 = 21;
    /// A latency (text) buffer (v7).
    pub const BUFFER_TEXT: u16 = 22;
}

/// One option as stored: id and raw payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOption {
    /// See [`option_id`].
    pub id: u16,
    /// Payload, in the file's byte order.
    pub data: Vec<u8>,
}

/// One CPU's raw ring-buffer sub-buffers, back to back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuData<'a> {
    /// CPU number.
    pub cpu: u32,
    /// Whole sub-buffers as read from `trace_pipe_raw`.
    pub data: Cow<'a, [u8]>,
}

/// The recorded events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceData<'a> {
    /// No data section (a file with headers only).
    None,
    /// Binary per-CPU sub-buffers ("flyrecord").
    Flyrecord(Vec<CpuData<'a>>),
    /// The text of the `trace` file ("latency").
    Latency(String),
}

/// A parsed trace.dat (top instance only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceDat<'a> {
    /// 6 or 7.
    pub version: u32,
    /// Byte order of the recorded host.
    pub endian: Endian,
    /// `sizeof(long)` of the recording user space (4 or 8).
    pub long_size: u8,
    /// Page (sub-buffer) size.
    pub page_size: u32,
    /// v7 compression ("zstd", "zlib"), `None` when uncompressed.
    pub compression: Option<String>,
    /// Text of `events/header_page`.
    pub header_page: String,
    /// Text of `events/header_event`.
    pub header_event: String,
    /// Format texts of `events/ftrace/*`.
    pub ftrace_formats: Vec<String>,
    /// (system, format text) of the recorded event systems.
    pub event_formats: Vec<(String, String)>,
    /// `/proc/kallsyms` text (may be empty).
    pub kallsyms: String,
    /// `printk_formats` text.
    pub printk_formats: String,
    /// `saved_cmdlines` text (`pid comm` lines).
    pub cmdlines: String,
    /// Number of CPUs.
    pub cpus: u32,
    /// Options other than the v7 section pointers.
    pub options: Vec<TraceOption>,
    /// The events.
    pub data: TraceData<'a>,
    /// The `[clock]` text after the flyrecord table (v6) or of the buffer (v7).
    pub flyrecord_clock: Option<String>,
}

impl TraceDat<'_> {
    /// The first option with `id`.
    pub fn option(&self, id: u16) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|o| o.id == id)
            .map(|o| o.data.as_slice())
    }

    /// Every option with `id`, in file order.
    pub fn options_of(&self, id: u16) -> impl Iterator<Item = &[u8]> {
        self.options
            .iter()
            .filter(move |o| o.id == id)
            .map(|o| o.data.as_slice())
    }

    /// The UNAME option.
    pub fn uname(&self) -> Option<String> {
        self.option(option_id::UNAME).map(cstr_text)
    }

    /// The per-CPU stats texts (CPUSTAT options).
    pub fn cpu_stats(&self) -> Vec<String> {
        self.options_of(option_id::CPUSTAT).map(cstr_text).collect()
    }

    /// The trace clock in use: the bracketed name in the TRACECLOCK option
    /// or the flyrecord clock block (trace-cmd `extract_trace_clock`).
    pub fn trace_clock(&self) -> Option<String> {
        let text = self
            .flyrecord_clock
            .clone()
            .or_else(|| self.option(option_id::TRACECLOCK).map(cstr_text))?;
        let start = text.find('[')? + 1;
        let end = start + text[start..].find(']')?;
        Some(text[start..end].to_owned())
    }

    /// Whether timestamps are nanoseconds (printed as `secs.usecs`), which
    /// trace-cmd assumes unless the clock is a raw counter.
    pub fn timestamps_in_ns(&self) -> bool {
        match self.trace_clock() {
            None => true,
            Some(c) => {
                matches!(
                    c.as_str(),
                    "local" | "global" | "uptime" | "perf" | "tai" | "x86-tsc-nsec"
                ) || c.starts_with("mono")
            }
        }
    }

    /// Offset in ns added to every timestamp: DATE (µs) and OFFSET (ns)
    /// options, as trace-cmd `handle_options` applies them.
    pub fn ts_offset(&self) -> i64 {
        let mut off: i64 = 0;
        if let Some(d) = self.option(option_id::DATE) {
            off = off.wrapping_add(parse_c_int(&cstr_text(d)).wrapping_mul(1000));
        }
        if let Some(d) = self.option(option_id::OFFSET) {
            off = off.wrapping_add(parse_c_int(&cstr_text(d)));
        }
        off
    }

    /// The sub-buffer layout from `header_page`, in the file's byte order.
    /// v7 files may state a sub-buffer size of their own, which wins.
    pub fn layout(&self) -> Result<PageLayout, FormatError> {
        let mut l = parse_header_page(&self.header_page, self.endian)?;
        if self.version >= 7 && self.page_size as usize > l.data_offset {
            l.page_size = self.page_size as usize;
        }
        Ok(l)
    }

    /// Every event format (ftrace ones under system "ftrace"), plus the
    /// formats that did not parse with their errors.
    pub fn formats(&self) -> (Formats, Vec<(String, FormatError)>) {
        let mut f = Formats::new();
        let mut bad = Vec::new();
        let all = self
            .ftrace_formats
            .iter()
            .map(|t| ("ftrace", t.as_str()))
            .chain(self.event_formats.iter().map(|(s, t)| (s.as_str(), t.as_str())));
        for (sys, text) in all {
            match Schema::parse(sys, text) {
                Ok(s) => f.insert(s),
                Err(e) => bad.push((sys.to_owned(), e)),
            }
        }
        (f, bad)
    }

    /// `(pid, comm)` pairs of saved_cmdlines.
    pub fn cmdlines(&self) -> impl Iterator<Item = (i32, &str)> {
        self.cmdlines.lines().filter_map(|l| {
            let (pid, comm) = l.split_once(' ')?;
            Some((pid.trim().parse().ok()?, comm))
        })
    }

    /// The per-CPU data, empty for latency files.
    pub fn cpu_data(&self) -> &[CpuData<'_>] {
        match &self.data {
            TraceData::Flyrecord(c) => c,
            _ => &[],
        }
    }
}

/// Payload text up to its first NUL.
fn cstr_text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// `strtoll(s, NULL, 0)`: decimal, `0x` hex or leading-0 octal, signed.
pub(crate) fn parse_c_int(s: &str) -> i64 {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, h)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    let end = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    let v = u64::from_str_radix(&digits[..end], radix).unwrap_or(0) as i64;
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}
