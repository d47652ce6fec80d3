//! The online CPU list, which per-CPU sampling opens one ring on each of.

use std::path::Path;

use crate::access::read_text;
use crate::error::Error;

/// The online CPU list in sysfs.
pub const CPU_ONLINE: &str = "/sys/devices/system/cpu/online";

/// Parses a sysfs CPU list such as `0-3,8-11` or `2,4\n` into CPU numbers,
/// ascending. Fails with [`Error::Parse`] on anything else.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, Error> {
    let bad = || Error::Parse {
        what: "a CPU list (e.g. 0-3,8)",
        text: text.trim().to_owned(),
    };
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (
                lo.parse::<u32>().map_err(|_| bad())?,
                hi.parse::<u32>().map_err(|_| bad())?,
            ),
            None => {
                let c = part.parse::<u32>().map_err(|_| bad())?;
                (c, c)
            }
        };
        // A real machine has at most a few thousand CPUs; a larger range
        // is corrupt input, not a reason to allocate gigabytes.
        if lo > hi || hi - lo > 65_536 {
            return Err(bad());
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// The CPUs online now, from [`CPU_ONLINE`].
pub fn online_cpus() -> Result<Vec<u32>, Error> {
    parse_cpu_list(&read_text(Path::new(CPU_ONLINE))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_and_singles() {
        assert_eq!(parse_cpu_list("0-3,8\n").unwrap(), vec![0, 1, 2, 3, 8]);
        assert_eq!(parse_cpu_list("1").unwrap(), vec![1]);
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(!online_cpus().unwrap().is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,40}") {
            let _ = parse_cpu_list(&text);
        }
    }
}
