//! `ftr cachetop`: page cache hits and misses per process, refreshed like
//! top, in the layout of BCC cachetop (`PID UID CMD HITS MISSES DIRTIES
//! READ_HIT% WRITE_HIT%` under a `Buffers MB / Cached MB / Sort / Order`
//! line). Plain text, appended, when stdout is not a terminal.
//!
//! HITS, MISSES and DIRTIES are cachestat's arithmetic per process (BCC
//! cachetop prints raw sums there instead: mpa + mbd and apcl + apd);
//! READ_HIT% and WRITE_HIT% are BCC's: mpa, and apcl, over the sum of all
//! four counters.

use super::common::cache::{self, Counts, MemInfo, Method};
use super::common::interval::{hms_now, Aggregate};
use super::Global;
use crate::pipeline::comm::CommCache;
use crate::pipeline::session::Event;
use crate::pipeline::stop::Stop;
use crate::pipeline::tasks::parse_status_uid;
use anyhow::Result;
use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// The columns, which are also the sort keys of `-s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Field {
    /// Process id.
    #[value(name = "PID", alias = "pid")]
    Pid,
    /// User name.
    #[value(name = "UID", alias = "uid")]
    Uid,
    /// Process name.
    #[value(name = "CMD", alias = "cmd")]
    Cmd,
    /// Hits.
    #[value(name = "HITS", alias = "hits")]
    Hits,
    /// Misses.
    #[value(name = "MISSES", alias = "misses")]
    Misses,
    /// Dirtied pages.
    #[value(name = "DIRTIES", alias = "dirties")]
    Dirties,
    /// Read hit percentage.
    #[value(name = "READ_HIT%", alias = "read_hit%")]
    ReadHit,
    /// Write hit percentage.
    #[value(name = "WRITE_HIT%", alias = "write_hit%")]
    WriteHit,
}

/// `ftr cachetop` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr cachetop                # refresh every second, most hits first\n    ftr cachetop 5              # every 5 seconds\n    ftr cachetop -s MISSES -n 5 # the 5 processes with the most misses\n    ftr cachetop -p 181 1 10    # only process 181, 10 refreshes"
)]
pub struct Args {
    /// Sort rows by FIELD.
    #[arg(short = 's', long, value_enum, value_name = "FIELD", default_value = "HITS")]
    pub sort: Field,
    /// Sort in ascending order instead of descending.
    #[arg(short = 'r', long)]
    pub reverse: bool,
    /// Print at most ROWS rows per refresh.
    #[arg(short = 'n', long = "rows", value_name = "ROWS", default_value_t = 20)]
    pub rows: usize,
    /// Show only process PID.
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Use METHOD instead of the best one that works here.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub method: Option<Method>,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long, value_name = "KB")]
    pub buffer_kb: Option<u64>,
    /// Refresh every INTERVAL seconds.
    #[arg(value_name = "INTERVAL", default_value_t = 1.0)]
    pub interval: f64,
    /// Exit after COUNT refreshes.
    #[arg(value_name = "COUNT")]
    pub count: Option<u64>,
}

/// One row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Process id.
    pub pid: i32,
    /// User name (or the number when unknown).
    pub user: String,
    /// Process name.
    pub comm: String,
    /// The process's counters.
    pub counts: Counts,
}

impl Row {
    /// BCC's READ_HIT% and WRITE_HIT%: mpa and apcl over all four counters.
    pub fn hit_percents(&self) -> (f64, f64) {
        let c = &self.counts;
        let all = (c.accessed + c.buffer_dirtied + c.added + c.dirtied) as f64;
        if all == 0.0 {
            return (0.0, 0.0);
        }
        (100.0 * c.accessed as f64 / all, 100.0 * c.added as f64 / all)
    }

    fn cmp_by(&self, o: &Row, f: Field) -> std::cmp::Ordering {
        let (a, b) = (self.counts.derive(), o.counts.derive());
        let fl = |x: f64, y: f64| x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
        match f {
            Field::Pid => self.pid.cmp(&o.pid),
            Field::Uid => self.user.cmp(&o.user),
            Field::Cmd => self.comm.cmp(&o.comm),
            Field::Hits => a.hits.cmp(&b.hits),
            Field::Misses => a.misses.cmp(&b.misses),
            Field::Dirties => a.dirties.cmp(&b.dirties),
            Field::ReadHit => fl(self.hit_percents().0, o.hit_percents().0),
            Field::WriteHit => fl(self.hit_percents().1, o.hit_percents().1),
        }
    }
}

/// Sorts rows by `field`, descending unless `ascending`, ties by pid.
pub fn sort_rows(rows: &mut [Row], field: Field, ascending: bool) {
    rows.sort_by(|a, b| {
        let o = a.cmp_by(b, field);
        let o = if ascending { o } else { o.reverse() };
        o.then(a.pid.cmp(&b.pid))
    });
}

fn field_name(f: Field) -> &'static str {
    match f {
        Field::Pid => "PID",
        Field::Uid => "UID",
        Field::Cmd => "CMD",
        Field::Hits => "HITS",
        Field::Misses => "MISSES",
        Field::Dirties => "DIRTIES",
        Field::ReadHit => "READ_HIT%",
        Field::WriteHit => "WRITE_HIT%",
    }
}

/// Writes one refresh in BCC's layout.
pub fn write_table(
    out: &mut dyn Write,
    time: &str,
    mem: MemInfo,
    sort: Field,
    ascending: bool,
    rows: &[Row],
) -> io::Result<()> {
    writeln!(
        out,
        "{:<8} Buffers MB: {:.0} / Cached MB: {:.0} / Sort: {} / Order: {}",
        time,
        mem.buffers_kb as f64 / 1024.0,
        mem.cached_kb as f64 / 1024.0,
        field_name(sort),
        if ascending { "ascending" } else { "descending" }
    )?;
    writeln!(
        out,
        "{:<8} {:<8} {:<16} {:<8} {:<8} {:<8} {:<10} {:<10}",
        "PID", "UID", "CMD", "HITS", "MISSES", "DIRTIES", "READ_HIT%", "WRITE_HIT%"
    )?;
    for r in rows {
        let d = r.counts.derive();
        let (rh, wh) = r.hit_percents();
        let user: String = r.user.chars().take(8).collect();
        writeln!(
            out,
            "{:>8} {:<8} {:<16} {:>8} {:>8} {:>8} {:>9.1}% {:>9.1}%",
            r.pid, user, r.comm, d.hits, d.misses, d.dirties, rh, wh
        )?;
    }
    Ok(())
}

/// The aggregator: counters per process.
pub struct Cachetop {
    decoder: cache::CacheDecoder,
    filter: cache::ProcessFilter,
    comms: CommCache,
    users: HashMap<i32, String>,
    names: HashMap<u32, String>,
    counts: HashMap<i32, Counts>,
    sort: Field,
    ascending: bool,
    rows: usize,
    clear: bool,
}

impl Cachetop {
    fn user_of(&mut self, pid: i32) -> String {
        if let Some(u) = self.users.get(&pid) {
            return u.clone();
        }
        let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| parse_status_uid(&s));
        let name = match uid {
            Some(uid) => self
                .names
                .entry(uid)
                .or_insert_with(|| {
                    nix::unistd::User::from_uid(uid.into())
                        .ok()
                        .flatten()
                        .map_or_else(|| format!("UNKNOWN({uid})"), |u| u.name)
                })
                .clone(),
            None => "?".to_owned(),
        };
        self.users.insert(pid, name.clone());
        name
    }
}

impl Aggregate for Cachetop {
    fn event(&mut self, ev: &Event<'_>) {
        let Some((role, n)) = self.decoder.decode(ev) else {
            return;
        };
        let Some(pid) = self.filter.process_of(ev.pid) else {
            return;
        };
        if !self.counts.contains_key(&pid) {
            // Learn the name and user while the process is still alive.
            self.comms.get(pid);
            self.user_of(pid);
        }
        self.counts.entry(pid).or_default().add(role, n);
    }

    fn report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.clear {
            write!(out, "\x1b[H\x1b[2J")?;
        }
        let mut rows: Vec<Row> = Vec::new();
        for (pid, counts) in std::mem::take(&mut self.counts) {
            rows.push(Row {
                pid,
                user: self.user_of(pid),
                // The name now: a process first seen as `sh -c cmd` has
                // usually become `cmd` by the report.
                comm: self.comms.current(pid).to_owned(),
                counts,
            });
        }
        sort_rows(&mut rows, self.sort, self.ascending);
        rows.truncate(self.rows);
        write_table(out, &hms_now(), MemInfo::now(), self.sort, self.ascending, &rows)?;
        if !self.clear {
            writeln!(out)?;
        }
        Ok(())
    }
}

/// Runs cachetop.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    let iv = super::common::validate_top(args.interval, args.count, args.rows, "-n", args.pid)?;
    let (cs, decoder) = cache::start(g, args.method, args.buffer_kb)?;
    cs.announce();
    let mut agg = Cachetop {
        decoder,
        filter: cache::ProcessFilter::new(args.pid),
        comms: CommCache::new(g.tracing().ok().map(|t| t.path("saved_cmdlines"))),
        users: HashMap::new(),
        names: HashMap::new(),
        counts: HashMap::new(),
        sort: args.sort,
        ascending: args.reverse,
        rows: args.rows,
        clear: io::stdout().is_terminal(),
    };
    cs.run_to_stdout(&stop, &iv, None, &mut agg)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: i32, accessed: u64, added: u64) -> Row {
        Row {
            pid,
            user: "root".into(),
            comm: format!("p{pid}"),
            counts: Counts {
                accessed,
                added,
                dirtied: 0,
                buffer_dirtied: 0,
            },
        }
    }

    #[test]
    fn bcc_layout_and_sorting() {
        let mut rows = vec![row(10, 100, 0), row(20, 1000, 900), row(30, 50, 0)];
        sort_rows(&mut rows, Field::Hits, false);
        assert_eq!(rows.iter().map(|r| r.pid).collect::<Vec<_>>(), [10, 20, 30]);
        sort_rows(&mut rows, Field::Misses, false);
        assert_eq!(rows[0].pid, 20);
        sort_rows(&mut rows, Field::Pid, true);
        assert_eq!(rows[0].pid, 10);
        let mem = MemInfo {
            buffers_kb: 5 * 1024,
            cached_kb: 1215 * 1024,
        };
        let mut out = Vec::new();
        write_table(&mut out, "13:01:01", mem, Field::Hits, false, &rows[..2]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "13:01:01 Buffers MB: 5 / Cached MB: 1215 / Sort: HITS / Order: descending\n\
PID      UID      CMD              HITS     MISSES   DIRTIES  READ_HIT%  WRITE_HIT%\n\
\x20     10 root     p10                   100        0        0     100.0%       0.0%\n\
\x20     20 root     p20                   100      900        0      52.6%      47.4%\n"
        );
    }
}
