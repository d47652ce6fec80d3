//! /etc/ld.so.cache, the table ldconfig writes and the dynamic loader
//! reads to find a library by soname (glibc `elf/cache.c`,
//! `sysdeps/generic/dl-cache.h`).
//!
//! Hand-written: no allowed crate reads this format, and running
//! `ldconfig -p` would put a process spawn inside a library.

use std::path::PathBuf;

/// Where ldconfig writes its cache.
pub const LD_SO_CACHE: &str = "/etc/ld.so.cache";

const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
const OLD_ENTRY: usize = 12;
/// FLAG_ELF_LIBC6 | FLAG_X8664_LIB64 from dl-cache.h.
const FLAG_TYPE_MASK: i32 = 0x00ff;
const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_REQUIRED_MASK: i32 = 0xff00;
const FLAG_X8664_LIB64: i32 = 0x0300;
const FLAG_AARCH64_LIB64: i32 = 0x0a00;

/// One cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdCacheEntry {
    /// The soname (`libc.so.6`).
    pub soname: String,
    /// The library's path.
    pub path: PathBuf,
    /// The raw flags (library type and architecture).
    pub flags: i32,
}

impl LdCacheEntry {
    /// Whether the entry is a library for this machine's architecture.
    pub fn is_native(&self) -> bool {
        let arch = if cfg!(target_arch = "x86_64") {
            FLAG_X8664_LIB64
        } else if cfg!(target_arch = "aarch64") {
            FLAG_AARCH64_LIB64
        } else {
            return self.flags & FLAG_TYPE_MASK == FLAG_ELF_LIBC6;
        };
        self.flags & FLAG_TYPE_MASK == FLAG_ELF_LIBC6 && self.flags & FLAG_REQUIRED_MASK == arch
    }
}

fn u32_at(b: &[u8], at: usize, little: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

fn c_string(b: &[u8], at: usize) -> Option<&[u8]> {
    let s = b.get(at..)?;
    Some(&s[..s.iter().position(|&c| c == 0)?])
}

/// Parses the cache (the new format, alone or after the old one). Entries
/// whose strings fall outside the file are skipped; anything else that is
/// not a cache gives an empty list.
pub fn parse_ld_cache(bytes: &[u8]) -> Vec<LdCacheEntry> {
    let mut base = 0usize;
    if bytes.starts_with(OLD_MAGIC) {
        // Old header: magic (padded to 12) + nlibs, then 12-byte entries,
        // then the new-format table aligned to 8.
        let Some(n) = u32_at(bytes, 12, cfg!(target_endian = "little")) else {
            return Vec::new();
        };
        let Some(end) = (n as usize)
            .checked_mul(OLD_ENTRY)
            .and_then(|x| x.checked_add(16))
        else {
            return Vec::new();
        };
        base = (end + 7) & !7;
    }
    let Some(table) = bytes.get(base..) else {
        return Vec::new();
    };
    if !table.starts_with(NEW_MAGIC) || table.len() < NEW_HEADER {
        return Vec::new();
    }
    // flags byte: 0 unknown (native), 1 big, 2 little endian.
    let little = match table[28] & 3 {
        1 => false,
        2 => true,
        _ => cfg!(target_endian = "little"),
    };
    let n = u32_at(table, 20, little).unwrap_or(0) as usize;
    let mut out = Vec::new();
    for i in 0..n {
        let Some(at) = i.checked_mul(NEW_ENTRY).and_then(|x| x.checked_add(NEW_HEADER)) else {
            break;
        };
        let (Some(flags), Some(key), Some(value)) = (
            u32_at(table, at, little),
            u32_at(table, at + 4, little),
            u32_at(table, at + 8, little),
        ) else {
            break;
        };
        // String offsets count from the start of the new-format table.
        let (Some(k), Some(v)) = (c_string(table, key as usize), c_string(table, value as usize)) else {
            continue;
        };
        out.push(LdCacheEntry {
            soname: String::from_utf8_lossy(k).into_owned(),
            path: PathBuf::from(String::from_utf8_lossy(v).into_owned()),
            flags: flags as i32,
        });
    }
    out
}

/// Reads /etc/ld.so.cache; empty when missing.
pub fn read_ld_cache() -> Vec<LdCacheEntry> {
    std::fs::read(LD_SO_CACHE)
        .map(|b| parse_ld_cache(&b))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn this_hosts_cache_lists_libc() {
        let entries = read_ld_cache();
        if entries.is_empty() {
            eprintln!("SKIPPED: no ld.so.cache here");
            return;
        }
        let libc = entries
            .iter()
            .find(|e| e.soname == "libc.so.6")
            .expect("libc.so.6 in ld.so.cache");
        assert!(libc.path.exists(), "{libc:?}");
        assert!(libc.is_native());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_ld_cache(&b);
            let mut with_magic = NEW_MAGIC.to_vec();
            with_magic.extend(&b);
            let _ = parse_ld_cache(&with_magic);
            let mut old = OLD_MAGIC.to_vec();
            old.extend(&b);
            let _ = parse_ld_cache(&old);
        }
    }
}
