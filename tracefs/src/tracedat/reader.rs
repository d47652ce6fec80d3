//! Parsing a whole trace.dat (v6 or v7) held in memory.
//!
//! Layouts: trace-cmd `Documentation/trace-cmd/trace-cmd.dat.v6.5.txt`,
//! `trace-cmd.dat.v7.5.txt`, and the code that is authoritative where they
//! disagree, lib/trace-cmd/trace-input.c (`tracecmd_read_headers`,
//! `handle_options`, `handle_buffer_option`, `init_data_v6`).

use std::borrow::Cow;

use super::compress;
use super::cursor::{lossy, Cursor};
use super::error::{Result, TraceDatError};
use super::types::{option_id, CpuData, TraceDat, TraceData, TraceOption};
use crate::Endian;

pub(crate) const MAGIC: &[u8] = b"\x17\x08\x44tracing";

/// Bound on counts read from the file, so a corrupt count cannot make us
/// allocate or loop without end before the bytes run out.
fn check_count(c: &Cursor<'_>, n: u64, min_each: u64, what: &'static str) -> Result<()> {
    if n.saturating_mul(min_each) > c.remaining() as u64 {
        return Err(TraceDatError::Invalid {
            what: format!("{what} {n} is more than the file can hold"),
            offset: c.offset(),
        });
    }
    Ok(())
}

struct Header {
    version: u32,
    endian: Endian,
    long_size: u8,
    page_size: u32,
}

fn read_header(c: &mut Cursor<'_>) -> Result<Header> {
    let magic = c
        .bytes(MAGIC.len() as u64, "magic")
        .map_err(|_| TraceDatError::BadMagic)?;
    if magic != MAGIC {
        return Err(TraceDatError::BadMagic);
    }
    let v = c.cstr("version")?;
    let version = match v {
        "6" => 6,
        "7" => 7,
        other => return Err(TraceDatError::UnsupportedVersion(other.to_owned())),
    };
    let endian = match c.u8("endianness")? {
        0 => Endian::Little,
        1 => Endian::Big,
        b => {
            return Err(TraceDatError::Invalid {
                what: format!("endianness byte is {b}, not 0 or 1"),
                offset: c.offset() - 1,
            })
        }
    };
    c.endian = endian;
    let long_size = c.u8("long size")?;
    if long_size != 4 && long_size != 8 {
        return Err(TraceDatError::Invalid {
            what: format!("long size is {long_size}, not 4 or 8"),
            offset: c.offset() - 1,
        });
    }
    let page_size = c.u32("page size")?;
    if page_size == 0 || page_size > 1 << 24 {
        return Err(TraceDatError::Invalid {
            what: format!("page size {page_size} is implausible"),
            offset: c.offset() - 4,
        });
    }
    Ok(Header {
        version,
        endian,
        long_size,
        page_size,
    })
}

/// `header_page\0` u64 text `header_event\0` u64 text.
fn read_header_info(c: &mut Cursor<'_>, t: &mut TraceDat<'_>) -> Result<()> {
    c.expect(b"header_page\0", "header_page tag")?;
    let n = c.u64("header_page size")?;
    t.header_page = c.text(n, "header_page")?;
    c.expect(b"header_event\0", "header_event tag")?;
    let n = c.u64("header_event size")?;
    t.header_event = c.text(n, "header_event")?;
    Ok(())
}

fn read_ftrace_events(c: &mut Cursor<'_>, t: &mut TraceDat<'_>) -> Result<()> {
    let n = c.u32("ftrace event count")?;
    check_count(c, n.into(), 8, "ftrace event count")?;
    for _ in 0..n {
        let size = c.u64("ftrace format size")?;
        t.ftrace_formats.push(c.text(size, "ftrace format")?);
    }
    Ok(())
}

fn read_event_formats(c: &mut Cursor<'_>, t: &mut TraceDat<'_>) -> Result<()> {
    let systems = c.u32("event system count")?;
    check_count(c, systems.into(), 5, "event system count")?;
    for _ in 0..systems {
        let sys = c.cstr("event system name")?.to_owned();
        let n = c.u32("event count")?;
        check_count(c, n.into(), 8, "event count")?;
        for _ in 0..n {
            let size = c.u64("event format size")?;
            t.event_formats.push((sys.clone(), c.text(size, "event format")?));
        }
    }
    Ok(())
}

fn read_kallsyms(c: &mut Cursor<'_>, t: &mut TraceDat<'_>) -> Result<()> {
    let n = c.u32("kallsyms size")?;
    t.kallsyms = c.text(n.into(), "kallsyms")?;
    Ok(())
}

fn read_printk(c: &mut Cursor<'_>, t: &mut TraceDat<'_>) -> Result<()> {
    let n = c.u32("printk formats size")?;
    t.printk_formats = c.text(n.into(), "printk formats")?;
    Ok(())
}

fn read_cmdlines(c: &mut Cursor<'_>, t: &mut TraceDat<'_>) -> Result<()> {
    let n = c.u64("saved_cmdlines size")?;
    t.cmdlines = c.text(n, "saved_cmdlines")?;
    Ok(())
}

impl<'a> TraceDat<'a> {
    /// Parses a whole trace.dat held in memory. Uncompressed CPU data is
    /// borrowed from `bytes`; compressed data is inflated into owned buffers.
    ///
    /// Fails with a [`TraceDatError`] naming what is wrong and at which
    /// byte; never panics, whatever the bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<TraceDat<'a>> {
        let mut c = Cursor::new(bytes, Endian::Little);
        let h = read_header(&mut c)?;
        let mut t = TraceDat {
            version: h.version,
            endian: h.endian,
            long_size: h.long_size,
            page_size: h.page_size,
            compression: None,
            header_page: String::new(),
            header_event: String::new(),
            ftrace_formats: Vec::new(),
            event_formats: Vec::new(),
            kallsyms: String::new(),
            printk_formats: String::new(),
            cmdlines: String::new(),
            cpus: 0,
            options: Vec::new(),
            data: TraceData::None,
            flyrecord_clock: None,
        };
        if h.version == 6 {
            parse_v6(&mut c, &mut t)?;
        } else {
            parse_v7(bytes, &mut c, &mut t)?;
        }
        Ok(t)
    }

    /// Reads all of `r` and parses it; the result owns its data.
    pub fn from_reader<R: std::io::Read>(mut r: R) -> Result<TraceDat<'static>> {
        let mut buf = Vec::new();
        r.read_to_end(&mut buf)
            .map_err(|e| TraceDatError::Io(e.to_string()))?;
        let t = TraceDat::parse(&buf)?;
        Ok(t.into_owned())
    }

    /// The same file with every borrowed buffer copied.
    pub fn into_owned(self) -> TraceDat<'static> {
        let data = match self.data {
            TraceData::Flyrecord(cpus) => TraceData::Flyrecord(
                cpus.into_iter()
                    .map(|c| CpuData {
                        cpu: c.cpu,
                        data: Cow::Owned(c.data.into_owned()),
                    })
                    .collect(),
            ),
            TraceData::Latency(s) => TraceData::Latency(s),
            TraceData::None => TraceData::None,
        };
        TraceDat {
            version: self.version,
            endian: self.endian,
            long_size: self.long_size,
            page_size: self.page_size,
            compression: self.compression,
            header_page: self.header_page,
            header_event: self.header_event,
            ftrace_formats: self.ftrace_formats,
            event_formats: self.event_formats,
            kallsyms: self.kallsyms,
            printk_formats: self.printk_formats,
            cmdlines: self.cmdlines,
            cpus: self.cpus,
            options: self.options,
            data,
            flyrecord_clock: self.flyrecord_clock,
        }
    }
}

fn parse_v6<'a>(c: &mut Cursor<'a>, t: &mut TraceDat<'a>) -> Result<()> {
    read_header_info(c, t)?;
    read_ftrace_events(c, t)?;
    read_event_formats(c, t)?;
    read_kallsyms(c, t)?;
    read_printk(c, t)?;
    read_cmdlines(c, t)?;
    t.cpus = c.u32("CPU count")?;
    // Files recorded with no CPU data end here.
    if c.is_empty() {
        return Ok(());
    }
    let mut tag = c.bytes(10, "section tag")?;
    while tag == b"options  \0" {
        loop {
            let id = c.u16("option id")?;
            if id == option_id::DONE {
                break;
            }
            let size = c.u32("option size")?;
            let data = c.bytes(size.into(), "option data")?;
            t.options.push(TraceOption {
                id,
                data: data.to_vec(),
            });
        }
        tag = c.bytes(10, "section tag")?;
    }
    match tag {
        b"latency  \0" => {
            let rest = c.remaining() as u64;
            t.data = TraceData::Latency(c.text(rest, "latency text")?);
        }
        b"flyrecord\0" => {
            let cpus = read_flyrecord_v6(c, t.cpus)?;
            // The clock block follows the table (trace-output.c save_clock);
            // trace-cmd reads it only when the TRACECLOCK option is present.
            if t.option(option_id::TRACECLOCK).is_some() {
                let mut cc = c.clone();
                if let Ok(n) = cc.u64("trace clock size") {
                    if let Ok(s) = cc.text(n, "trace clock") {
                        t.flyrecord_clock = Some(s);
                    }
                }
            }
            t.data = TraceData::Flyrecord(cpus);
        }
        other => {
            return Err(TraceDatError::Invalid {
                what: format!("unknown section tag {:?}", lossy(other)),
                offset: c.offset() - 10,
            })
        }
    }
    Ok(())
}

fn read_flyrecord_v6<'a>(c: &mut Cursor<'a>, cpus: u32) -> Result<Vec<CpuData<'a>>> {
    check_count(c, cpus.into(), 16, "CPU count")?;
    let mut table = Vec::new();
    for cpu in 0..cpus {
        let off = c.u64("CPU data offset")?;
        let size = c.u64("CPU data size")?;
        table.push((cpu, off, size));
    }
    let mut out = Vec::new();
    for (cpu, off, size) in table {
        let mut d = c.clone();
        if size == 0 {
            out.push(CpuData {
                cpu,
                data: Cow::Borrowed(&[]),
            });
            continue;
        }
        d.seek(off, "CPU data")?;
        let data = d.bytes(size, "CPU data")?;
        out.push(CpuData {
            cpu,
            data: Cow::Borrowed(data),
        });
    }
    Ok(out)
}

/// A v7 section header: u16 id, u16 flags, u32 string id, u64 size.
struct Section {
    id: u16,
    compressed: bool,
    size: u64,
}

fn read_section_header(c: &mut Cursor<'_>) -> Result<Section> {
    let id = c.u16("section id")?;
    let flags = c.u16("section flags")?;
    let _desc = c.u32("section description")?;
    let size = c.u64("section size")?;
    Ok(Section {
        id,
        compressed: flags & 1 != 0,
        size,
    })
}

/// The body of the section at `off`, checked to have id `want`,
/// decompressed when flagged.
fn section_body<'a>(
    bytes: &'a [u8],
    endian: Endian,
    algo: &str,
    off: u64,
    want: u16,
) -> Result<(Cow<'a, [u8]>, u64)> {
    let mut c = Cursor::new(bytes, endian);
    c.seek(off, "section")?;
    let s = read_section_header(&mut c)?;
    if s.id != want {
        return Err(TraceDatError::Invalid {
            what: format!("section has id {}, expected {want}", s.id),
            offset: off,
        });
    }
    let body_off = c.offset();
    if s.compressed {
        Ok((Cow::Owned(compress::read_block(&mut c, algo)?), body_off))
    } else {
        Ok((Cow::Borrowed(c.bytes(s.size, "section body")?), body_off))
    }
}

fn parse_v7<'a>(bytes: &'a [u8], c: &mut Cursor<'a>, t: &mut TraceDat<'a>) -> Result<()> {
    let algo = c.cstr("compression name")?.to_owned();
    let _algo_version = c.cstr("compression version")?;
    if algo != "none" {
        t.compression = Some(algo.clone());
    }
    let mut next = c.u64("options offset")?;
    let endian = t.endian;
    let mut buffers = Vec::new();
    let mut seen = 0;
    while next != 0 {
        seen += 1;
        if seen > 1024 {
            return Err(TraceDatError::Invalid {
                what: "options sections form a loop".into(),
                offset: next,
            });
        }
        let (body, base) = section_body(bytes, endian, &algo, next, option_id::DONE)?;
        next = 0;
        let mut o = Cursor::with_base(&body, endian, base);
        while !o.is_empty() {
            let id = o.u16("option id")?;
            let size = o.u32("option size")?;
            let data = o.bytes(size.into(), "option data")?;
            if id == option_id::DONE {
                if data.len() >= 8 {
                    next = endian.u64(data, 0).unwrap_or(0);
                }
                break;
            }
            let at = o.offset();
            let sec = |want: u16| -> Result<(Cow<'a, [u8]>, u64)> {
                let off = endian.u64(data, 0).ok_or(TraceDatError::Invalid {
                    what: format!("option {id} is shorter than an offset"),
                    offset: at,
                })?;
                section_body(bytes, endian, &algo, off, want)
            };
            match id {
                option_id::HEADER_INFO => {
                    let (b, base) = sec(id)?;
                    read_header_info(&mut Cursor::with_base(&b, endian, base), t)?;
                }
                option_id::FTRACE_EVENTS => {
                    let (b, base) = sec(id)?;
                    read_ftrace_events(&mut Cursor::with_base(&b, endian, base), t)?;
                }
                option_id::EVENT_FORMATS => {
                    let (b, base) = sec(id)?;
                    read_event_formats(&mut Cursor::with_base(&b, endian, base), t)?;
                }
                option_id::KALLSYMS => {
                    let (b, base) = sec(id)?;
                    read_kallsyms(&mut Cursor::with_base(&b, endian, base), t)?;
                }
                option_id::PRINTK => {
                    let (b, base) = sec(id)?;
                    read_printk(&mut Cursor::with_base(&b, endian, base), t)?;
                }
                option_id::CMDLINES => {
                    let (b, base) = sec(id)?;
                    read_cmdlines(&mut Cursor::with_base(&b, endian, base), t)?;
                }
                option_id::CPUCOUNT => {
                    t.cpus = endian.u32(data, 0).unwrap_or(0);
                    t.options.push(TraceOption {
                        id,
                        data: data.to_vec(),
                    });
                }
                option_id::BUFFER | option_id::BUFFER_TEXT => {
                    buffers.push((id, data.to_vec(), at));
                    t.options.push(TraceOption {
                        id,
                        data: data.to_vec(),
                    });
                }
                _ => t.options.push(TraceOption {
                    id,
                    data: data.to_vec(),
                }),
            }
        }
    }
    // The top instance is the buffer with an empty name.
    for (id, data, at) in buffers {
        let mut b = Cursor::with_base(&data, endian, at);
        let off = b.u64("buffer offset")?;
        let name = b.cstr("buffer name")?;
        if !name.is_empty() {
            continue;
        }
        let clock = b.cstr("buffer clock")?;
        t.flyrecord_clock = Some(format!("[{clock}]"));
        let mut c = Cursor::new(bytes, endian);
        c.seek(off, "buffer section")?;
        let s = read_section_header(&mut c)?;
        if id == option_id::BUFFER_TEXT {
            let text = if s.compressed {
                let mut out = Vec::new();
                out.extend(compress::read_chunks(&mut c, &algo)?);
                String::from_utf8_lossy(&out).into_owned()
            } else {
                c.text(s.size, "latency text")?
            };
            t.data = TraceData::Latency(text);
            continue;
        }
        let page_size = b.u32("buffer page size")?;
        if page_size != 0 {
            t.page_size = page_size;
        }
        let n = b.u32("buffer CPU count")?;
        check_count(&b, n.into(), 20, "buffer CPU count")?;
        let mut cpus = Vec::new();
        for _ in 0..n {
            let cpu = b.u32("CPU id")?;
            let off = b.u64("CPU data offset")?;
            let size = b.u64("CPU data size")?;
            let mut d = Cursor::new(bytes, endian);
            if size == 0 {
                cpus.push(CpuData {
                    cpu,
                    data: Cow::Borrowed(&[]),
                });
                continue;
            }
            d.seek(off, "CPU data")?;
            let data = if s.compressed {
                Cow::Owned(compress::read_chunks(&mut d, &algo)?)
            } else {
                Cow::Borrowed(d.bytes(size, "CPU data")?)
            };
            cpus.push(CpuData { cpu, data });
        }
        if t.cpus == 0 {
            t.cpus = n;
        }
        t.data = TraceData::Flyrecord(cpus);
    }
    Ok(())
}
