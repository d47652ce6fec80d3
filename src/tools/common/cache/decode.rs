//! Decoding a page cache session's records into BCC's counters: kprobe
//! and tracepoint hits count one call, function-tracer records are told
//! apart by their ip, and the tracepoint method's records count pages
//! (folio orders, read ranges).

use super::{role_of_function, Method, Role};
use crate::pipeline::session::Event;
use ftr_symbols::KernelSymbols;
use ftr_tracefs::format::FieldRef;
use ftr_tracefs::EventName;
use std::collections::HashMap;

/// How one event id is decoded.
#[derive(Debug, Clone, Copy)]
enum Decoder {
    /// One call of a counted function (kprobe, or a tracepoint in it).
    Call(Role),
    /// A function-tracer record: the role comes from its ip.
    Function { ip: FieldRef },
    /// mm_filemap_add_to_page_cache: 2^order pages added.
    AddToCache {
        ino: FieldRef,
        index: FieldRef,
        order: Option<FieldRef>,
    },
    /// mm_filemap_get_pages: a read's page range.
    GetPages {
        dev: FieldRef,
        ino: FieldRef,
        index: FieldRef,
        last: FieldRef,
    },
    /// mm_filemap_fault: one page faulted in through the cache.
    Fault,
    /// mm_filemap_map_pages: fault-around mapped a range of cached pages.
    MapPages { index: FieldRef, last: FieldRef },
    /// writeback_dirty_folio/page in the tracepoint method: the folio's
    /// pages when its size is known from an add event, else 1.
    DirtyFolio { ino: FieldRef, index: FieldRef },
}

/// The request a thread's last mm_filemap_get_pages belonged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadRange {
    dev: u64,
    ino: u64,
    index: u64,
    last: u64,
}

/// How far past a function's symbol the function tracer's ip may be: the
/// traced call sits at the entry, after at most a landing pad (endbr64 on
/// x86 IBT kernels, +4; BTI and patchable entries on arm64, +8).
const MAX_ENTRY_OFFSET: u64 = 32;

/// The most folio sizes remembered for weighing dirtied folios (~50 MB).
const MAX_FOLIO_SIZES: usize = 1 << 20;

/// Decodes a session's events into (thread, role, count).
pub struct CacheDecoder {
    method: Method,
    by_name: HashMap<(String, String), Decoder>,
    by_id: HashMap<u16, Option<Decoder>>,
    symbols: KernelSymbols,
    ip_roles: HashMap<u64, Option<Role>>,
    reads: HashMap<i32, ReadRange>,
    folio_pages: HashMap<(u64, u64), u64>,
}

impl CacheDecoder {
    pub(super) fn new(method: Method, kinds: Vec<(EventName, Role)>, symbols: KernelSymbols) -> CacheDecoder {
        CacheDecoder {
            method,
            by_name: kinds
                .into_iter()
                .map(|(e, r)| ((e.system, e.name), Decoder::Call(r)))
                .collect(),
            by_id: HashMap::new(),
            symbols,
            ip_roles: HashMap::new(),
            reads: HashMap::new(),
            folio_pages: HashMap::new(),
        }
    }

    fn decoder_for(&mut self, ev: &Event<'_>) -> Option<Decoder> {
        let s = ev.schema;
        if let Some(d) = self.by_id.get(&s.id) {
            return *d;
        }
        let f = |n: &str| s.field(n);
        // A format without the fields ftr needs decodes to None, cached too.
        let d = (|| match (s.system.as_str(), s.name.as_str()) {
            ("ftrace", "function") => f("ip").map(|ip| Decoder::Function { ip }),
            ("filemap", "mm_filemap_add_to_page_cache") if self.method == Method::Tracepoint => {
                Some(Decoder::AddToCache {
                    ino: f("i_ino")?,
                    index: f("index")?,
                    order: f("order"),
                })
            }
            ("filemap", "mm_filemap_get_pages") => Some(Decoder::GetPages {
                dev: f("s_dev")?,
                ino: f("i_ino")?,
                index: f("index")?,
                last: f("last_index")?,
            }),
            ("filemap", "mm_filemap_fault") => Some(Decoder::Fault),
            ("filemap", "mm_filemap_map_pages") => Some(Decoder::MapPages {
                index: f("index")?,
                last: f("last_index")?,
            }),
            ("writeback", _) if self.method == Method::Tracepoint => Some(Decoder::DirtyFolio {
                ino: f("ino")?,
                index: f("index")?,
            }),
            (sys, name) => self.by_name.get(&(sys.to_owned(), name.to_owned())).copied(),
        })();
        self.by_id.insert(s.id, d);
        d
    }

    /// The role of one event and how many pages (or calls) it counts for;
    /// None for events that count nothing.
    pub fn decode(&mut self, ev: &Event<'_>) -> Option<(Role, u64)> {
        let d = self.decoder_for(ev)?;
        let (data, e) = (ev.data, ev.endian);
        match d {
            Decoder::Call(r) => Some((r, 1)),
            Decoder::Function { ip } => {
                let ip = ip.u64(data, e)?;
                let symbols = &self.symbols;
                let role = *self.ip_roles.entry(ip).or_insert_with(|| {
                    symbols
                        .lookup(ip)
                        .ok()
                        .filter(|s| s.offset < MAX_ENTRY_OFFSET)
                        .and_then(|s| role_of_function(s.name))
                });
                role.map(|r| (r, 1))
            }
            Decoder::AddToCache { ino, index, order } => {
                let pages = 1u64 << order.and_then(|o| o.u64(data, e)).unwrap_or(0).min(20);
                if self.folio_pages.len() >= MAX_FOLIO_SIZES {
                    // Recent additions are the likely next writes.
                    self.folio_pages.clear();
                }
                self.folio_pages
                    .insert((ino.u64(data, e)?, index.u64(data, e)?), pages);
                Some((Role::Added, pages))
            }
            Decoder::GetPages {
                dev,
                ino,
                index,
                last,
            } => {
                let r = ReadRange {
                    dev: dev.u64(data, e)?,
                    ino: ino.u64(data, e)?,
                    index: index.u64(data, e)?,
                    last: last.u64(data, e)?,
                };
                Some((Role::Accessed, self.new_read_pages(ev.pid, r)))
            }
            Decoder::Fault => Some((Role::Accessed, 1)),
            Decoder::MapPages { index, last } => {
                let (i, l) = (index.u64(data, e)?, last.u64(data, e)?);
                Some((Role::Accessed, l.saturating_sub(i) + 1))
            }
            Decoder::DirtyFolio { ino, index } => {
                let key = (ino.u64(data, e)?, index.u64(data, e)?);
                Some((Role::Dirtied, self.folio_pages.get(&key).copied().unwrap_or(1)))
            }
        }
    }

    /// Pages of a read range not already counted: filemap_read calls
    /// filemap_get_pages once per batch of folios, each time with the rest
    /// of the same request (same last page, later first page), so only
    /// the first call of a request counts its whole range.
    fn new_read_pages(&mut self, tid: i32, r: ReadRange) -> u64 {
        let continues = self.reads.get(&tid).is_some_and(|p| {
            p.dev == r.dev && p.ino == r.ino && p.last == r.last && r.index > p.index && r.index <= p.last
        });
        self.reads.insert(tid, r);
        if continues {
            0
        } else {
            r.last.saturating_sub(r.index) + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftr_tracefs::format::Schema;
    use proptest::prelude::*;

    #[test]
    fn read_requests_count_once() {
        let mut d = CacheDecoder::new(Method::Tracepoint, Vec::new(), KernelSymbols::default());
        let r = |index, last| ReadRange {
            dev: 1,
            ino: 2,
            index,
            last,
        };
        // A 1 MiB read served in batches of 31 folios.
        assert_eq!(d.new_read_pages(7, r(0, 255)), 256);
        assert_eq!(d.new_read_pages(7, r(31, 255)), 0);
        assert_eq!(d.new_read_pages(7, r(62, 255)), 0);
        // The next read, and another thread's.
        assert_eq!(d.new_read_pages(7, r(256, 511)), 256);
        assert_eq!(d.new_read_pages(8, r(300, 511)), 212);
        // Re-reading the same page is a new access.
        assert_eq!(d.new_read_pages(9, r(4, 4)), 1);
        assert_eq!(d.new_read_pages(9, r(4, 4)), 1);
    }

    const COMMON: &str = "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

    /// Schemas of 6.18's formats (trimmed print fmt).
    fn schemas() -> Vec<Schema> {
        let fmt = |sys: &str, name: &str, id: u16, fields: &str| {
            let text = format!("name: {name}\nID: {id}\nformat:\n{COMMON}{fields}\nprint fmt: \"x\"\n");
            Schema::parse(sys, &text).unwrap()
        };
        vec![
            fmt("filemap", "mm_filemap_add_to_page_cache", 600,
                "\tfield:unsigned long pfn;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:unsigned long i_ino;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:unsigned long index;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:dev_t s_dev;\toffset:32;\tsize:4;\tsigned:0;\n\tfield:unsigned char order;\toffset:36;\tsize:1;\tsigned:0;\n"),
            fmt("filemap", "mm_filemap_get_pages", 599,
                "\tfield:unsigned long i_ino;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:dev_t s_dev;\toffset:16;\tsize:4;\tsigned:0;\n\tfield:unsigned long index;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:unsigned long last_index;\toffset:32;\tsize:8;\tsigned:0;\n"),
            fmt("writeback", "writeback_dirty_folio", 1009,
                "\tfield:char name[32];\toffset:8;\tsize:32;\tsigned:0;\n\tfield:ino_t ino;\toffset:40;\tsize:8;\tsigned:0;\n\tfield:unsigned long index;\toffset:48;\tsize:8;\tsigned:0;\n"),
            fmt("ftrace", "function", 1,
                "\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:unsigned long parent_ip;\toffset:16;\tsize:8;\tsigned:0;\n"),
        ]
    }

    fn record(id: u16, words: &[(usize, u64)], len: usize) -> Vec<u8> {
        let mut d = vec![0u8; len];
        d[..2].copy_from_slice(&id.to_le_bytes());
        for &(off, v) in words {
            d[off..off + 8].copy_from_slice(&v.to_le_bytes());
        }
        d
    }

    fn decode(d: &mut CacheDecoder, schema: &Schema, data: &[u8]) -> Option<(Role, u64)> {
        d.decode(&Event {
            cpu: 0,
            ts: 0,
            schema,
            data,
            endian: ftr_tracefs::Endian::Little,
            pid: 42,
            fields: &[],
        })
    }

    #[test]
    fn tracepoint_records_count_pages() {
        let s = schemas();
        let mut d = CacheDecoder::new(Method::Tracepoint, Vec::new(), KernelSymbols::default());
        // An order-4 folio at index 32 of inode 7, then dirtied: 16 pages.
        let mut add = record(600, &[(16, 7), (24, 32)], 40);
        add[36] = 4;
        assert_eq!(decode(&mut d, &s[0], &add), Some((Role::Added, 16)));
        let dirty = record(1009, &[(40, 7), (48, 32)], 56);
        assert_eq!(decode(&mut d, &s[2], &dirty), Some((Role::Dirtied, 16)));
        // A folio ftr did not see added counts one page.
        let other = record(1009, &[(40, 7), (48, 64)], 56);
        assert_eq!(decode(&mut d, &s[2], &other), Some((Role::Dirtied, 1)));
        let get = record(599, &[(8, 7), (24, 0), (32, 31)], 40);
        assert_eq!(decode(&mut d, &s[1], &get), Some((Role::Accessed, 32)));
        // A truncated record counts nothing.
        assert_eq!(decode(&mut d, &s[1], &get[..20]), None);
    }

    #[test]
    fn function_records_resolve_through_kallsyms() {
        let s = schemas();
        let syms = KernelSymbols::from_symbols(ftr_symbols::parse_kallsyms(
            "ffffffff81000000 T folio_mark_accessed\nffffffff81000100 T filemap_add_folio\nffffffff81000200 T other\n",
        ));
        let mut d = CacheDecoder::new(Method::Function, Vec::new(), syms);
        // IBT kernels record the address after endbr64.
        let rec = |ip| record(1, &[(8, ip)], 24);
        assert_eq!(
            decode(&mut d, &s[3], &rec(0xffffffff81000004)),
            Some((Role::Accessed, 1))
        );
        assert_eq!(
            decode(&mut d, &s[3], &rec(0xffffffff81000104)),
            Some((Role::Added, 1))
        );
        assert_eq!(decode(&mut d, &s[3], &rec(0xffffffff81000204)), None);
        // Far past an entry is not that function (only some symbols are loaded).
        assert_eq!(decode(&mut d, &s[3], &rec(0xffffffff81000050)), None);
    }

    proptest! {
        #[test]
        fn arbitrary_records_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80), which in 0usize..4) {
            let s = schemas();
            let mut d = CacheDecoder::new(Method::Tracepoint, Vec::new(), KernelSymbols::default());
            let _ = decode(&mut d, &s[which], &b);
            let mut d = CacheDecoder::new(Method::Function, Vec::new(), KernelSymbols::default());
            let _ = decode(&mut d, &s[which], &b);
        }

    }
}
