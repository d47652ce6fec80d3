//! Disk names by device number: /proc/partitions (pure parser) and
//! /sys/block, and the kernel-internal dev_t that block tracepoints record
//! (`MAJOR << 20 | MINOR`, include/linux/kdev_t.h).

use anyhow::{bail, Context, Result};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// Block devices and partitions with their numbers.
pub const PROC_PARTITIONS: &str = "/proc/partitions";
/// One directory per disk, each with a `dev` file (`MAJOR:MINOR`).
pub const SYS_BLOCK: &str = "/sys/block";
/// Every disk and partition, each with a `partition` file if it is one.
pub const SYS_CLASS_BLOCK: &str = "/sys/class/block";

// ---------------------------------------------------------------- dev_t

/// Bits of the minor number in the kernel's internal `dev_t` (what block
/// tracepoints record): `MINORBITS` in include/linux/kdev_t.h.
pub const MINOR_BITS: u32 = 20;

/// The kernel-internal dev_t of MAJOR:MINOR (`MKDEV`); `None` when a part
/// does not fit (major >= 4096 or minor >= 2^20).
pub fn checked_mkdev(major: u32, minor: u32) -> Option<u32> {
    (major < (1 << (32 - MINOR_BITS)) && minor < (1 << MINOR_BITS)).then_some((major << MINOR_BITS) | minor)
}

/// `MKDEV(major, minor)`; out-of-range parts are masked.
pub fn mkdev(major: u32, minor: u32) -> u32 {
    ((major & 0xfff) << MINOR_BITS) | (minor & 0xfffff)
}

/// MAJOR of a kernel dev_t.
pub fn major(dev: u32) -> u32 {
    dev >> MINOR_BITS
}

/// MINOR of a kernel dev_t.
pub fn minor(dev: u32) -> u32 {
    dev & ((1 << MINOR_BITS) - 1)
}

// ---------------------------------------------------------------- disks

/// Disk and partition names by device number.
#[derive(Debug, Clone, Default)]
pub struct Disks {
    by_dev: HashMap<u32, String>,
}

impl Disks {
    /// Parses `/proc/partitions` text (`major minor #blocks name`, after a
    /// header line). Lines that do not parse are skipped; never panics.
    pub fn parse_partitions(text: &str) -> Disks {
        let mut d = Disks::default();
        for line in text.lines() {
            let mut w = line.split_whitespace();
            let (Some(ma), Some(mi), Some(_blocks), Some(name), None) =
                (w.next(), w.next(), w.next(), w.next(), w.next())
            else {
                continue;
            };
            if let (Ok(ma), Ok(mi)) = (ma.parse(), mi.parse()) {
                d.add(ma, mi, name);
            }
        }
        d
    }

    /// Parses the text of `/sys/block/NAME/dev` (`MAJOR:MINOR`).
    pub fn parse_sys_dev(text: &str) -> Option<u32> {
        let (ma, mi) = text.trim().split_once(':')?;
        checked_mkdev(ma.parse().ok()?, mi.parse().ok()?)
    }

    fn add(&mut self, major: u32, minor: u32, name: &str) {
        if let Some(dev) = checked_mkdev(major, minor) {
            self.by_dev.entry(dev).or_insert_with(|| name.to_owned());
        }
    }

    /// The disks of the running system: /proc/partitions, plus any disk
    /// under /sys/block it does not list (it hides empty and hidden
    /// devices). Fails only when neither can be read.
    pub fn for_running_kernel() -> Result<Disks> {
        let part = std::fs::read_to_string(PROC_PARTITIONS);
        let mut d = part.as_deref().map(Disks::parse_partitions).unwrap_or_default();
        match std::fs::read_dir(SYS_BLOCK) {
            Ok(dir) => {
                for e in dir.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if d.by_dev.values().any(|n| *n == name) {
                        continue;
                    }
                    if let Some(dev) = std::fs::read_to_string(e.path().join("dev"))
                        .ok()
                        .as_deref()
                        .and_then(Disks::parse_sys_dev)
                    {
                        d.by_dev.entry(dev).or_insert(name);
                    }
                }
            }
            Err(e) if part.is_err() => {
                return Err(e).with_context(|| format!("reading {PROC_PARTITIONS} and {SYS_BLOCK}"))
            }
            Err(_) => {}
        }
        Ok(d)
    }

    /// The name of kernel dev_t `dev`.
    pub fn name(&self, dev: u32) -> Option<&str> {
        self.by_dev.get(&dev).map(String::as_str)
    }

    /// The name of `dev`, else `MAJOR:MINOR`.
    pub fn display(&self, dev: u32) -> Cow<'_, str> {
        match self.name(dev) {
            Some(n) => Cow::Borrowed(n),
            None => Cow::Owned(format!("{}:{}", major(dev), minor(dev))),
        }
    }

    /// The dev_t of disk `name` (`sda`, `/dev/sda`, or `MAJOR:MINOR`).
    pub fn dev_of(&self, name: &str) -> Option<u32> {
        let bare = name.strip_prefix("/dev/").unwrap_or(name);
        self.by_dev
            .iter()
            .find(|(_, n)| *n == bare)
            .map(|(d, _)| *d)
            .or_else(|| Disks::parse_sys_dev(bare))
    }

    /// The dev_t of disk `name`, or an error listing the disks there are.
    /// A partition is refused, naming its disk: request events record the
    /// whole disk's number (`disk_devt(rq->q->disk)`), so a filter on a
    /// partition's number would silently match nothing.
    pub fn require(&self, name: &str) -> Result<u32> {
        if let Some(d) = self.dev_of(name) {
            let sys = Path::new(SYS_CLASS_BLOCK).join(name.strip_prefix("/dev/").unwrap_or(name));
            if sys.join("partition").exists() {
                let disk = std::fs::canonicalize(&sys)
                    .ok()
                    .and_then(|p| Some(p.parent()?.file_name()?.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| "its disk".to_owned());
                bail!("{name} is a partition; block requests are traced per disk: use -d {disk}");
            }
            return Ok(d);
        }
        let mut names: Vec<&str> = self.by_dev.values().map(String::as_str).collect();
        names.sort_unstable();
        bail!(
            "no disk named {name:?} in {PROC_PARTITIONS} or {SYS_BLOCK} (there are: {})",
            names.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PARTITIONS: &str = "major minor  #blocks  name\n\n 254        0  268435456 vda\n 254        1     1024 vda1\n   8       16  1000 sdb\n 259 0 10 nvme0n1\n";

    #[test]
    fn partitions_parse() {
        let d = Disks::parse_partitions(PARTITIONS);
        assert_eq!(d.name(mkdev(254, 0)), Some("vda"));
        assert_eq!(d.name(mkdev(254, 1)), Some("vda1"));
        assert_eq!(d.name(mkdev(8, 16)), Some("sdb"));
        assert_eq!(d.dev_of("/dev/nvme0n1"), Some(mkdev(259, 0)));
        assert_eq!(d.dev_of("8:16"), Some(mkdev(8, 16)));
        assert_eq!(d.dev_of("sdz"), None);
        assert_eq!(d.display(mkdev(7, 3)), "7:3");
        let err = d.require("sdz").unwrap_err().to_string();
        assert!(
            err.contains("no disk named \"sdz\"") && err.contains("nvme0n1, sdb, vda, vda1"),
            "{err}"
        );
        assert_eq!(Disks::parse_sys_dev("254:16\n"), Some(mkdev(254, 16)));
        assert_eq!(Disks::parse_sys_dev("4096:0"), None);
        assert_eq!(Disks::parse_sys_dev("1:1048576"), None);
        assert_eq!((major(mkdev(259, 65537)), minor(mkdev(259, 65537))), (259, 65537));
    }
    proptest! {
        #[test]
        fn partitions_never_panic(text in ".{0,400}") {
            let d = Disks::parse_partitions(&text);
            for dev in d.by_dev.keys() {
                prop_assert!(d.name(*dev).is_some());
            }
        }

        #[test]
        fn partitions_like_lines_never_panic(lines in prop::collection::vec("[ 0-9]{0,12} [0-9]{0,12} [0-9]{0,5} [a-z0-9]{0,8}", 0..8)) {
            let d = Disks::parse_partitions(&lines.join("\n"));
            let _ = d.require("x");
        }
    }
}
