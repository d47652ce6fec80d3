//! `addr2line -f -i -C -e FILE` built on ftr-symbols, for bench/symbolize_speed.sh:
//! reads hex ELF addresses from stdin, prints for each frame (inlined ones
//! first) the function, then `file:line`, as binutils does (`??` and
//! `??:0` when unknown).

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: addr2line FILE < addresses");
        std::process::exit(2);
    };
    let path = Path::new(&path);
    let module = match ftr_symbols::Module::open(path, path, Path::new(ftr_symbols::DEBUG_ROOT)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("addr2line: {e}");
            std::process::exit(1);
        }
    };
    let stdin = std::io::stdin();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line.expect("reading stdin");
        let Ok(vaddr) = u64::from_str_radix(line.trim().trim_start_matches("0x"), 16) else {
            continue;
        };
        let offset = module.elf.vaddr_to_offset(vaddr).unwrap_or(vaddr);
        for f in module.frames(vaddr, vaddr, offset) {
            let _ = writeln!(out, "{}", f.function.as_deref().unwrap_or("??"));
            match &f.location {
                Some(l) if l.line > 0 => {
                    let _ = writeln!(out, "{}:{}", l.file.display(), l.line);
                }
                Some(l) => {
                    let _ = writeln!(out, "{}:?", l.file.display());
                }
                None => {
                    let _ = writeln!(out, "??:0");
                }
            }
        }
    }
}
