//! trace-cmd's start / stop / extract / reset / show for an instance-based
//! tool: `ftr start` leaves a named instance (`instances/ftr-keep-NAME`)
//! tracing after it exits, the others act on it, and `ftr reset` removes
//! it. These are the only ftr commands that leave kernel state behind, and
//! only because the user asked; reclaiming never touches them.

use super::record::{drain_to_spools, open_spools, write_file, BufferArgs};
use super::Global;
use anyhow::{Context, Result};
use ftr_tracefs::{read_text, EventName, Instance, RingReader, TracingDir};
use std::path::PathBuf;
use std::process::ExitCode;

/// The kept instance a command acts on.
#[derive(Debug, clap::Args)]
pub struct Name {
    /// The kept instance (instances/ftr-keep-NAME).
    #[arg(short = 'B', long = "buffer", value_name = "NAME", default_value = "default")]
    pub name: String,
}

/// `ftr start` flags.
#[derive(Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("what").required(true).args(["events"])),
    after_help = "EXAMPLES:\n    ftr start -e sched -B sched      # trace into instances/ftr-keep-sched, return\n    ftr extract -B sched -o s.dat    # save what it holds so far\n    ftr reset -B sched               # remove it"
)]
pub struct StartArgs {
    /// What to trace and how.
    #[command(flatten)]
    pub buffer: BufferArgs,
    /// The instance to create.
    #[command(flatten)]
    pub name: Name,
}

/// `ftr extract` flags.
#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    /// The instance to read.
    #[command(flatten)]
    pub name: Name,
    /// Write to FILE instead of trace.dat.
    #[arg(short = 'o', long, value_name = "FILE", default_value = "trace.dat")]
    pub output: PathBuf,
}

/// `ftr reset` flags.
#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// The instance to remove.
    #[command(flatten)]
    pub name: Name,
    /// Remove every kept instance.
    #[arg(short = 'a', long = "all", conflicts_with = "name")]
    pub all: bool,
}

/// Runs `ftr start`.
pub fn start(g: &Global, args: StartArgs) -> Result<ExitCode> {
    let t = g.tracing_for_writing()?;
    let events = args.buffer.events(&t)?;
    let name = &args.name.name;
    let instance = Instance::create_kept(&t, name).map_err(|e| {
        let exists = matches!(&e, ftr_tracefs::Error::CreateInstance { source, .. }
            if source.kind() == std::io::ErrorKind::AlreadyExists);
        if exists {
            anyhow::anyhow!("instance ftr-keep-{name} is already tracing: `ftr extract -B {name}` saves it, `ftr reset -B {name}` removes it")
        } else {
            anyhow::Error::new(e).context("creating the kept instance")
        }
    })?;
    // Any failure from here drops `instance`, which removes it.
    args.buffer.apply(&instance, &events)?;
    instance.set_tracing_on(true)?;
    for ev in &events {
        instance
            .enable_event(&ev.system, &ev.name)
            .with_context(|| format!("enabling {ev}"))?;
    }
    let dir = instance.dir().display().to_string();
    instance.keep();
    eprintln!(
        "ftr: tracing {} event(s) in {dir}; `ftr extract -B {name}` writes trace.dat, `ftr stop -B {name}` pauses, `ftr reset -B {name}` removes it",
        events.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn open(g: &Global, name: &Name) -> Result<(TracingDir, Instance)> {
    let t = g.tracing()?;
    let i = Instance::open_kept(&t, &name.name).map_err(|e| {
        let kept = Instance::kept_names(&t);
        let there = if kept.is_empty() {
            "none is running (start one with `ftr start`)".to_owned()
        } else {
            format!("running: {}", kept.join(", "))
        };
        anyhow::anyhow!("{e}; {there}")
    })?;
    Ok((t, i))
}

/// Runs `ftr stop`: recording pauses, the buffer keeps what it holds.
pub fn stop(g: &Global, args: Name) -> Result<ExitCode> {
    let (_, i) = open(g, &args)?;
    i.set_tracing_on(false)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `ftr restart`: recording resumes.
pub fn restart(g: &Global, args: Name) -> Result<ExitCode> {
    let (_, i) = open(g, &args)?;
    i.set_tracing_on(true)?;
    Ok(ExitCode::SUCCESS)
}

/// The events enabled in `instance`, from its `set_event` file.
fn enabled_events(i: &Instance) -> Result<Vec<EventName>> {
    let text = read_text(&i.dir().join("set_event"))?;
    Ok(text.lines().filter_map(|l| EventName::parse(l.trim())).collect())
}

/// Runs `ftr extract`: moves what the buffers hold into a trace.dat (the
/// reads consume it, as trace-cmd extract's do); tracing goes on.
pub fn extract(g: &Global, args: ExtractArgs) -> Result<ExitCode> {
    let (t, i) = open(g, &args.name)?;
    let events = enabled_events(&i)?;
    let layout = i.page_layout()?;
    let mut reader = RingReader::open(&i, layout)?;
    let cpus: Vec<u32> = reader.cpus().collect();
    let mut spools = open_spools(&args.output, &cpus)?;
    drain_to_spools(&mut reader, &layout, &cpus, &mut spools)?;
    write_file(&t, &i, &events, &layout, &cpus, &mut spools, &args.output, None)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `ftr reset`: disables and removes the kept instance(s).
pub fn reset(g: &Global, args: ResetArgs) -> Result<ExitCode> {
    let t = g.tracing()?;
    let names = if args.all {
        Instance::kept_names(&t)
    } else {
        vec![args.name.name.clone()]
    };
    for n in names {
        Instance::remove_kept(&t, &n).with_context(|| format!("removing ftr-keep-{n}"))?;
        eprintln!("ftr: removed ftr-keep-{n}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `ftr show`: the instance's `trace` file, as the kernel formats it.
pub fn show(g: &Global, args: Name) -> Result<ExitCode> {
    let (_, i) = open(g, &args)?;
    let text = read_text(&i.dir().join("trace"))?;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    Ok(ExitCode::SUCCESS)
}
