//! ftr: Linux tracing tools for hosts where BPF is missing, too old or
//! forbidden. Drives tracefs and perf_event_open itself and aggregates in
//! user space. See README.md.

use ftr::{cli, tools};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::parse();
    let result = match ftr_tracefs::run_guarded(|| tools::run(cli)) {
        Ok(r) => r,
        // The panic message is already printed; the guards have cleaned up.
        Err(_) => return ExitCode::from(101),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("ftr: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `ftr tp ... | head` must end quietly, as grep and perf do.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
