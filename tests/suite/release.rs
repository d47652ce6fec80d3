//! The release build: `scripts/build-release.sh` must produce an `ftr` that
//! loads on RHEL7, i.e. one that asks for no glibc symbol version newer than
//! GLIBC_2.17, no shared library RHEL7's base system lacks, and the standard
//! x86_64 loader (or one that is static).
//!
//! The full build is slow, so it runs only with FTR_RELEASE_TEST=1 or
//! FTR_REQUIRE_KERNEL=1. The ELF reader it uses is checked on every run
//! against the test binary itself (and against `readelf` where installed).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest glibc ftr supports: RHEL/CentOS 7.
const MAX_GLIBC: [u32; 2] = [2, 17];

/// Libraries every glibc system has, RHEL7 included.
const BASE_LIBRARIES: [&str; 9] = [
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libutil.so.1",
    "libgcc_s.so.1",
    "ld-linux-x86-64.so.2",
    "linux-vdso.so.1",
];

const X86_64_LOADER: &str = "/lib64/ld-linux-x86-64.so.2";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn release_test_enabled() -> bool {
    ["FTR_RELEASE_TEST", "FTR_REQUIRE_KERNEL"]
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|v| v == "1"))
}

#[test]
fn release_binary_runs_on_glibc_2_17() {
    if !release_test_enabled() {
        eprintln!(
            "skipped: the release build takes a minute; \
             set FTR_RELEASE_TEST=1 (or FTR_REQUIRE_KERNEL=1) to run it"
        );
        return;
    }
    let script = repo().join("scripts/build-release.sh");
    let out = Command::new("bash")
        .arg(&script)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stderr}",
        script.display(),
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let binary = PathBuf::from(
        stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_else(|| panic!("the script printed no path; stderr:\n{stderr}"))
            .trim(),
    );
    let bytes = std::fs::read(&binary).unwrap_or_else(|e| panic!("could not read {}: {e}", binary.display()));
    let info = Elf::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", binary.display()));

    if info.is_static() {
        println!("{}: static, needs no glibc", binary.display());
    } else {
        assert_eq!(
            info.interpreter.as_deref(),
            Some(X86_64_LOADER),
            "{}",
            binary.display()
        );
        for lib in &info.needed {
            assert!(
                BASE_LIBRARIES.contains(&lib.as_str()),
                "{} needs {lib}, which RHEL7's base system may lack",
                binary.display()
            );
        }
        let glibc = info.glibc_versions();
        assert!(
            !info.versions.iter().any(|v| v == "GLIBC_PRIVATE"),
            "{} uses GLIBC_PRIVATE symbols",
            binary.display()
        );
        let max = glibc
            .iter()
            .max()
            .expect("a dynamic binary with no GLIBC_ versions");
        println!(
            "{}: needs {}; highest GLIBC_{}",
            binary.display(),
            info.needed.join(", "),
            dotted(max)
        );
        assert!(
            max.as_slice() <= MAX_GLIBC.as_slice(),
            "{} needs GLIBC_{}, newer than {}",
            binary.display(),
            dotted(max),
            dotted(&MAX_GLIBC)
        );
    }

    // It must also start. `--help` exits 0 under clap, and a bare main
    // ignores it.
    let run = Command::new(&binary)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", binary.display()));
    assert!(
        run.status.success(),
        "{} --help failed ({}):\n{}",
        binary.display(),
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn build_release_script_is_valid_bash() {
    let script = repo().join("scripts/build-release.sh");
    let status = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .expect("bash");
    assert!(status.success(), "bash -n {}", script.display());
}

/// The ELF reader agrees with what glibc's loader will see in this very test
/// binary: a dynamic executable linked against libc.so.6 with GLIBC_2.2.5.
#[test]
fn elf_reader_reads_the_test_binary() {
    let exe = std::env::current_exe().unwrap();
    let bytes = std::fs::read(&exe).unwrap();
    let info = Elf::parse(&bytes).unwrap();
    if cfg!(target_env = "musl") {
        assert!(info.is_static());
        return;
    }
    assert!(!info.is_static());
    assert!(info.needed.iter().any(|l| l == "libc.so.6"), "{:?}", info.needed);
    assert!(
        info.versions.iter().any(|v| v == "GLIBC_2.2.5"),
        "{:?}",
        info.versions
    );
    if let Some(from_readelf) = readelf_versions(&exe) {
        let mut ours = info.versions.clone();
        ours.sort();
        ours.dedup();
        assert_eq!(ours, from_readelf);
    }
}

#[test]
fn elf_reader_rejects_garbage() {
    assert!(Elf::parse(b"not an elf file at all, not even close......").is_err());
    assert!(Elf::parse(&[]).is_err());
    let mut header = vec![0u8; 64];
    header[..4].copy_from_slice(b"\x7fELF");
    header[4] = 2;
    header[5] = 1;
    // Section and program header tables claimed far past the end.
    header[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
    header[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    assert!(Elf::parse(&header).is_err());
}

#[test]
fn versions_compare_numerically() {
    assert_eq!(parse_glibc("GLIBC_2.3.4"), Some(vec![2, 3, 4]));
    assert_eq!(parse_glibc("GLIBC_PRIVATE"), None);
    assert_eq!(parse_glibc("GCC_3.0"), None);
    let v = |s| parse_glibc(s).unwrap();
    assert!(v("GLIBC_2.16") < MAX_GLIBC.to_vec());
    assert!(v("GLIBC_2.17") <= MAX_GLIBC.to_vec());
    assert!(v("GLIBC_2.18") > MAX_GLIBC.to_vec());
    assert!(v("GLIBC_2.3.4") < v("GLIBC_2.14"));
}

/// `readelf --version-info` names of the needed versions, when binutils are
/// installed.
fn readelf_versions(path: &Path) -> Option<Vec<String>> {
    let out = Command::new("readelf")
        .args(["--version-info", "--wide"])
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let section = text.split("Version needs section").nth(1)?;
    let mut names: Vec<String> = section
        .lines()
        .filter_map(|l| l.split("Name: ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    Some(names)
}

fn parse_glibc(version: &str) -> Option<Vec<u32>> {
    version
        .strip_prefix("GLIBC_")?
        .split('.')
        .map(|n| n.parse().ok())
        .collect()
}

fn dotted(version: &[u32]) -> String {
    version.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// What the dynamic loader needs from an ELF64 little-endian executable.
#[derive(Debug, Default)]
struct Elf {
    /// PT_INTERP.
    interpreter: Option<String>,
    /// DT_NEEDED entries.
    needed: Vec<String>,
    /// Every version name in .gnu.version_r (GLIBC_2.14, GCC_3.0, ...).
    versions: Vec<String>,
}

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const SHT_DYNAMIC: u32 = 6;
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;

impl Elf {
    fn parse(data: &[u8]) -> Result<Elf, String> {
        if data.get(..4) != Some(b"\x7fELF") {
            return Err("not an ELF file".into());
        }
        if data.get(4) != Some(&2) || data.get(5) != Some(&1) {
            return Err("not ELF64 little-endian".into());
        }
        let r = Reader(data);
        let phoff = r.u64(0x20)?;
        let shoff = r.u64(0x28)?;
        let phentsize = u64::from(r.u16(0x36)?);
        let phnum = u64::from(r.u16(0x38)?);
        let shentsize = u64::from(r.u16(0x3a)?);
        let shnum = u64::from(r.u16(0x3c)?);

        let mut elf = Elf::default();
        let mut has_dynamic_segment = false;
        for i in 0..phnum {
            let ph = at(phoff, i, phentsize)?;
            match r.u32(ph)? {
                PT_INTERP => {
                    let (off, size) = (r.u64(ph + 8)?, r.u64(ph + 32)?);
                    let bytes = r.slice(off, size)?;
                    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                    elf.interpreter = Some(String::from_utf8_lossy(&bytes[..end]).into_owned());
                }
                PT_DYNAMIC => has_dynamic_segment = true,
                _ => {}
            }
        }

        let section = |i: u64| -> Result<Section, String> {
            let sh = at(shoff, i, shentsize)?;
            Ok(Section {
                kind: r.u32(sh + 4)?,
                offset: r.u64(sh + 24)?,
                size: r.u64(sh + 32)?,
                link: u64::from(r.u32(sh + 40)?),
                info: u64::from(r.u32(sh + 44)?),
            })
        };
        for i in 0..shnum {
            let s = section(i)?;
            match s.kind {
                SHT_DYNAMIC => {
                    let strtab = section(s.link)?;
                    for entry in 0..s.size / 16 {
                        let e = s.offset + entry * 16;
                        match r.u64(e)? {
                            DT_NULL => break,
                            DT_NEEDED => elf.needed.push(r.cstr(strtab.offset, r.u64(e + 8)?)?),
                            _ => {}
                        }
                    }
                }
                SHT_GNU_VERNEED => {
                    let strtab = section(s.link)?;
                    // Verneed {vn_version u16, vn_cnt u16, vn_file u32,
                    // vn_aux u32, vn_next u32}; Vernaux {vna_hash u32,
                    // vna_flags u16, vna_other u16, vna_name u32, vna_next u32}.
                    let mut need = s.offset;
                    for _ in 0..s.info {
                        let count = r.u16(need + 2)?;
                        let mut aux = need + u64::from(r.u32(need + 8)?);
                        for _ in 0..count {
                            let name = u64::from(r.u32(aux + 8)?);
                            elf.versions.push(r.cstr(strtab.offset, name)?);
                            aux += u64::from(r.u32(aux + 12)?);
                        }
                        let next = r.u32(need + 12)?;
                        if next == 0 {
                            break;
                        }
                        need += u64::from(next);
                    }
                }
                _ => {}
            }
        }
        if !has_dynamic_segment && !elf.needed.is_empty() {
            return Err("DT_NEEDED without a PT_DYNAMIC segment".into());
        }
        Ok(elf)
    }

    /// Static (including static-pie): no loader and no shared libraries.
    fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }

    fn glibc_versions(&self) -> Vec<Vec<u32>> {
        self.versions.iter().filter_map(|v| parse_glibc(v)).collect()
    }
}

struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u64,
    info: u64,
}

/// Offset of entry `i` of a table at `base` with `size`-byte entries.
fn at(base: u64, i: u64, size: u64) -> Result<u64, String> {
    i.checked_mul(size)
        .and_then(|o| o.checked_add(base))
        .ok_or_else(|| "table offset overflows".to_owned())
}

/// Bounds-checked little-endian reads.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn slice(&self, off: u64, len: u64) -> Result<&[u8], String> {
        let start = usize::try_from(off).map_err(|_| "offset too large")?;
        let len = usize::try_from(len).map_err(|_| "length too large")?;
        start
            .checked_add(len)
            .and_then(|end| self.0.get(start..end))
            .ok_or_else(|| format!("{len} bytes at {off:#x} lie outside the file"))
    }

    fn array<const N: usize>(&self, off: u64) -> Result<[u8; N], String> {
        Ok(self.slice(off, N as u64)?.try_into().expect("length checked"))
    }

    fn u16(&self, off: u64) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array(off)?))
    }

    fn u32(&self, off: u64) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(off)?))
    }

    fn u64(&self, off: u64) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array(off)?))
    }

    /// The NUL-terminated string at `table + index`.
    fn cstr(&self, table: u64, index: u64) -> Result<String, String> {
        let start = table.checked_add(index).ok_or("string offset overflows")?;
        let rest = self.slice(start, (self.0.len() as u64).saturating_sub(start))?;
        let end = rest.iter().position(|&b| b == 0).ok_or("unterminated string")?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
}
