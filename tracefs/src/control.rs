//! The only way ftr writes to a tracefs control file.
//!
//! Control files are command interpreters: `kprobe_events` and
//! `uprobe_events` take one definition per line, `set_event` one event per
//! line, and a filter file takes the whole write as an expression. A value
//! that carries a newline (or a NUL, which the kernel treats as the end of
//! the buffer) could therefore add a second command that ftr never meant to
//! run. [`check_value`] refuses those before anything is opened, and every
//! write is a single write(2) so the kernel sees exactly one command.

use crate::error::{Error, Result};
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::path::Path;

/// How a control file is opened for writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// O_TRUNC: replace the value (`enable`, `buffer_size_kb`, `filter`, ...).
    /// On `*_events` files this would delete every definition: never use it there.
    Replace,
    /// O_APPEND: add one command (`kprobe_events`, `uprobe_events`, `set_event`).
    Append,
}

/// Checks that `value` holds exactly one command: no newline, carriage
/// return, NUL or other control character (tabs are allowed: the kernel's
/// parsers treat them as spaces). Returns the rule broken, if any.
pub fn check_value(value: &str) -> std::result::Result<(), &'static str> {
    for c in value.chars() {
        match c {
            '\n' | '\r' => return Err("it holds a line break, which would start a second command"),
            '\0' => return Err("it holds a NUL byte, which would cut the command short"),
            '\t' => {}
            c if c.is_control() => return Err("it holds a control character"),
            _ => {}
        }
    }
    Ok(())
}

/// Writes `value` to the control file `path` through one open file, after
/// [`check_value`]. A trailing newline is added because some old kernels'
/// parsers want one; it is the only newline that ever reaches the kernel.
///
/// Fails with [`Error::UnsafeValue`] without opening anything, or with
/// [`Error::Write`] carrying the errno (EINVAL for values the kernel rejects).
pub fn write_control(path: &Path, value: &str, mode: WriteMode) -> Result<()> {
    check_value(value).map_err(|why| Error::UnsafeValue {
        path: path.to_owned(),
        value: value.to_owned(),
        why,
    })?;
    let mut opts = OpenOptions::new();
    opts.write(true);
    match mode {
        WriteMode::Replace => opts.truncate(true),
        WriteMode::Append => opts.append(true),
    };
    let mut buf = Vec::with_capacity(value.len() + 1);
    buf.extend_from_slice(value.as_bytes());
    buf.push(b'\n');
    let result = opts.open(path).and_then(|mut f| {
        // The function filter files (ftrace_regex_write) take one pattern
        // per write(2) and answer with the bytes consumed, keeping the
        // parse state in the open file: the rest goes on the same fd, as
        // echo's stdio does. A write that takes nothing is an error.
        let mut done = 0;
        while done < buf.len() {
            let n = f.write(&buf[done..])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write: {done} of {} bytes", buf.len()),
                ));
            }
            done += n;
        }
        Ok(())
    });
    result.map_err(|source| Error::Write {
        path: path.to_owned(),
        value: value.to_owned(),
        detail: String::new(),
        source,
    })
}

/// Size of the first read of a tracefs text file. Some files are generated
/// whole on each read and answer a second read with EOF (6.18's
/// `header_page` after a 32-byte first read), so the first read(2) must
/// ask for all of it; std's read_to_end starts with small reads.
const FIRST_READ: usize = 256 * 1024;

/// Reads a whole control or text file as (lossy) UTF-8, asking for the
/// whole file in the first read(2).
pub fn read_text(path: &Path) -> Result<String> {
    let err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut buf = vec![0u8; FIRST_READ];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(e)),
        }
    }
    buf.truncate(len);
    Ok(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Opens `path` for appending and closes it without writing: tells whether
/// the kernel lets us write there at all (lockdown refuses at open) without
/// changing anything.
pub fn can_open_for_append(path: &Path) -> io::Result<()> {
    OpenOptions::new().append(true).open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_second_commands() {
        assert!(check_value("p:ftr_1/a /bin/true:0x10").is_ok());
        assert!(check_value("common_pid == 5\t&& prev_pid > 0").is_ok());
        assert!(check_value("1\n-:ftr_1/a").is_err());
        assert!(check_value("1\r").is_err());
        assert!(check_value("a\0b").is_err());
        assert!(check_value("a\x1bb").is_err());
    }

    #[test]
    fn refused_value_is_never_written() {
        let dir = std::env::temp_dir().join(format!("ftr-control-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("kprobe_events");
        std::fs::write(&f, "keep\n").unwrap();
        let e = write_control(&f, "x\n-:all", WriteMode::Replace).unwrap_err();
        assert!(matches!(e, Error::UnsafeValue { .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "keep\n");
        write_control(&f, "more", WriteMode::Append).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "keep\nmore\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #[test]
        fn accepted_values_hold_one_line(s in ".*") {
            if check_value(&s).is_ok() {
                prop_assert!(!s.contains('\n') && !s.contains('\0') && !s.contains('\r'));
            }
        }
    }
}
