//! Samples a command (and its children) the way `perf record` does, and
//! prints how many samples and lost records it read: the measuring end of
//! bench/sampling_overhead.py, not a tool.
//!
//! usage: sample_cmd [-F HZ | -c PERIOD] [-g] [--pages N] -- CMD [ARGS...]

use std::process::ExitCode;
use std::time::Duration;

use ftr_pmu::{Record, SampleRate, SampleSource, SampleTarget, SamplerBuilder, Workload};

fn nothing() -> std::io::Result<()> {
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sample_cmd: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut rate, mut callchain, mut pages) = (SampleRate::Frequency(4000), false, 128usize);
    let mut i = 0;
    while i < args.len() && args[i] != "--" {
        let value = |i: usize| args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match args[i].as_str() {
            "-F" => rate = SampleRate::Frequency(value(i).ok_or("-F needs a number")?),
            "-c" => rate = SampleRate::Period(value(i).ok_or("-c needs a number")?),
            "--pages" => pages = value(i).ok_or("--pages needs a number")? as usize,
            "-g" => {
                callchain = true;
                i += 1;
                continue;
            }
            other => return Err(format!("unknown option {other}")),
        }
        i += 2;
    }
    let argv = args
        .get(i + 1..)
        .filter(|a| !a.is_empty())
        .ok_or("no command after --")?;
    let workload = Workload::prepare(argv, nothing).map_err(|e| e.to_string())?;
    let mut sampler = SamplerBuilder::new(SampleTarget::Task {
        pid: workload.pid(),
        inherit: true,
    })
    .source(SampleSource::cpu_clock())
    .rate(rate)
    .callchain(callchain)
    .track_tasks(true)
    .ring_pages(pages)
    .enable_on_exec(true)
    .open()
    .map_err(|e| {
        format!(
            "{e}: {}",
            std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default()
        )
    })?;
    for note in sampler.notes() {
        eprintln!("sample_cmd: {note}");
    }
    let mut child = workload.start().map_err(|e| e.to_string())?;
    let mut frames = 0u64;
    let mut count = |r: &Record<'_>, _| {
        if let Record::Sample(s) = r {
            frames += s
                .callchain
                .as_ref()
                .map_or(0, |c| (c.kernel.len() + c.user.len()) as u64);
        }
    };
    let status = loop {
        sampler
            .wait(Some(Duration::from_millis(100)), None)
            .map_err(|e| e.to_string())?;
        sampler.drain(&mut count).map_err(|e| e.to_string())?;
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
    };
    sampler.drain(&mut count).map_err(|e| e.to_string())?;
    let stats = sampler.stats();
    eprintln!(
        "sample_cmd: {} samples, {} lost, {} records, {} callchain frames",
        stats.samples, stats.lost, stats.records, frames
    );
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
