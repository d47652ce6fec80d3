//! GNU build-id notes, and the .gnu_debuglink section.
//!
//! Notes are parsed by hand because /sys/kernel/notes is a bare note
//! stream, not an ELF file the `object` crate could open.

use std::fmt;

/// Where the running kernel exposes its own ELF notes.
pub const KERNEL_NOTES: &str = "/sys/kernel/notes";

const NT_GNU_BUILD_ID: u32 = 3;

/// A build-id: the bytes of the NT_GNU_BUILD_ID note.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BuildId(pub Vec<u8>);

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
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

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|n| n & !3)
}

/// Finds the GNU build-id in a stream of ELF notes (4-byte aligned
/// `namesz descsz type name desc` records). Truncated or malformed notes
/// end the search.
pub fn parse_build_id_notes(notes: &[u8], little_endian: bool) -> Option<BuildId> {
    let mut at = 0usize;
    while at + 12 <= notes.len() {
        let namesz = u32_at(notes, at, little_endian)? as usize;
        let descsz = u32_at(notes, at + 4, little_endian)? as usize;
        let kind = u32_at(notes, at + 8, little_endian)?;
        let name_at = at + 12;
        let desc_at = name_at.checked_add(align4(namesz)?)?;
        let end = desc_at.checked_add(align4(descsz)?)?;
        let name = notes.get(name_at..name_at.checked_add(namesz)?)?;
        let desc = notes.get(desc_at..desc_at.checked_add(descsz)?)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" && !desc.is_empty() {
            return Some(BuildId(desc.to_vec()));
        }
        at = end;
    }
    None
}

/// The running kernel's build-id from /sys/kernel/notes, if readable.
pub fn kernel_build_id() -> Option<BuildId> {
    let notes = std::fs::read(KERNEL_NOTES).ok()?;
    parse_build_id_notes(&notes, cfg!(target_endian = "little"))
}

/// Parses a .gnu_debuglink section: a NUL-terminated file name, padding to
/// 4 bytes, then the CRC32 of the debug file. Returns the name and CRC.
pub fn parse_debuglink(section: &[u8], little_endian: bool) -> Option<(Vec<u8>, u32)> {
    let nul = section.iter().position(|&b| b == 0)?;
    if nul == 0 {
        return None;
    }
    let crc = u32_at(section, align4(nul + 1)?, little_endian)?;
    Some((section[..nul].to_vec(), crc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend((name.len() as u32).to_le_bytes());
        v.extend((desc.len() as u32).to_le_bytes());
        v.extend(kind.to_le_bytes());
        v.extend(name);
        v.resize(align4(v.len()).unwrap(), 0);
        v.extend(desc);
        v.resize(align4(v.len()).unwrap(), 0);
        v
    }

    #[test]
    fn finds_the_gnu_build_id_after_other_notes() {
        let mut n = note(b"Xen\0", 1, &[1, 2, 3]);
        n.extend(note(b"GNU\0", 3, &[0xde, 0xad, 0xbe, 0xef, 0x01]));
        let id = parse_build_id_notes(&n, true).unwrap();
        assert_eq!(id.to_string(), "deadbeef01");
        assert_eq!(parse_build_id_notes(&n[..n.len() - 4], true), None);
    }

    #[test]
    fn reads_debuglink() {
        let mut s = b"ftr.debug\0\0\0".to_vec();
        s.extend(0x1234_5678u32.to_le_bytes());
        assert_eq!(
            parse_debuglink(&s, true),
            Some((b"ftr.debug".to_vec(), 0x1234_5678))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_notes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256), le in any::<bool>()) {
            let _ = parse_build_id_notes(&b, le);
            let _ = parse_debuglink(&b, le);
        }
    }
}
