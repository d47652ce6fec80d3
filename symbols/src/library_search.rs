//! Finding a library or program by short name (`libc`, `c`, `libc.so.6`,
//! `pthread`, `bash`): a target process's maps first, then ldconfig's
//! cache, then the usual library directories, then $PATH.

use crate::error::{Error, Result};
use crate::ld_cache::read_ld_cache;
use crate::proc_maps::{read_maps, MapBacking};
use std::path::{Path, PathBuf};

/// Library directories searched after ld.so.cache, in order.
pub const LIBRARY_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
    "/usr/local/lib",
];

/// Whether file name `file` is library `name`: `NAME`, `NAME.so[.N…]` or
/// `libNAME.so[.N…]`.
pub fn library_name_matches(name: &str, file: &str) -> bool {
    if file == name {
        return true;
    }
    let base = name.strip_suffix(".so").unwrap_or(name);
    [base.to_owned(), format!("lib{base}")].iter().any(|stem| {
        file.strip_prefix(stem.as_str())
            .and_then(|rest| rest.strip_prefix(".so"))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// Finds library or program `name`. A name holding `/` is taken as a
/// path. With `pid`, what that process has mapped wins (reached through
/// /proc/PID/root when its path is not visible here).
pub fn find_library(name: &str, pid: Option<u32>) -> Result<PathBuf> {
    if name.contains('/') {
        let p = Path::new(name);
        return if p.exists() {
            Ok(p.to_owned())
        } else {
            Err(Error::LibraryNotFound {
                name: name.to_owned(),
                searched: "the path as given".to_owned(),
            })
        };
    }
    let mut searched = Vec::new();
    if let Some(pid) = pid {
        searched.push(format!("/proc/{pid}/maps"));
        if let Ok(maps) = read_maps(pid) {
            for m in maps {
                if let MapBacking::File { path, deleted: false } = &m.backing {
                    let file = path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default();
                    if library_name_matches(name, &file) {
                        if path.exists() {
                            return Ok(path.clone());
                        }
                        let rooted = Path::new(&format!("/proc/{pid}/root"))
                            .join(path.strip_prefix("/").unwrap_or(path));
                        return Ok(rooted);
                    }
                }
            }
        }
    }
    searched.push(crate::ld_cache::LD_SO_CACHE.to_owned());
    let cache = read_ld_cache();
    if let Some(e) = cache
        .iter()
        .filter(|e| e.is_native())
        .find(|e| library_name_matches(name, &e.soname) && e.path.exists())
    {
        return Ok(e.path.clone());
    }
    for dir in LIBRARY_DIRS {
        searched.push((*dir).to_owned());
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut hits: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| library_name_matches(name, &e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        // `libc.so` may be a linker script; prefer the versioned soname.
        hits.sort_by_key(|p| std::cmp::Reverse(p.to_string_lossy().len()));
        if let Some(h) = hits
            .into_iter()
            .find(|p| crate::elf_file::ElfFile::open(p).is_ok())
        {
            return Ok(h);
        }
    }
    searched.push("$PATH".to_owned());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(Error::LibraryNotFound {
        name: name.to_owned(),
        searched: searched.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_match_sonames() {
        assert!(library_name_matches("libc", "libc.so.6"));
        assert!(library_name_matches("c", "libc.so.6"));
        assert!(library_name_matches("libc.so.6", "libc.so.6"));
        assert!(library_name_matches("pthread", "libpthread.so.0"));
        assert!(!library_name_matches("c", "libcrypt.so.1"));
        assert!(!library_name_matches("libc", "libcap.so.2"));
    }

    #[test]
    fn finds_libc_and_reports_missing_libraries() {
        let p = find_library("libc", None).unwrap();
        assert!(p.to_string_lossy().contains("libc.so"), "{p:?}");
        let e = find_library("libdoesnotexist_ftr", None).unwrap_err().to_string();
        assert!(
            e.contains("libdoesnotexist_ftr") && e.contains("ld.so.cache"),
            "{e}"
        );
        let mine = find_library("libc", Some(std::process::id())).unwrap();
        assert!(mine.to_string_lossy().contains("libc.so"), "{mine:?}");
    }
}
