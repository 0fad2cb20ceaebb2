//! `adls-writeback run JOB.toml [--guest COMPONENT.wasm]`: validates, runs once in the
//! sandbox, prints the report. Another component than the built-in one runs only if the
//! audit accepts it.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use crate::runner::report::FailureKind;
use crate::runner::{RunOptions, Runner};
use crate::sandbox::{Sandbox, SandboxError};

/// Runs the job; exit code 0 on success, 1 on failure (a `--verify` mismatch included), 2
/// for an invalid job or a component the audit refuses, 130 or 143 when SIGINT or SIGTERM
/// stopped it (nothing published).
pub async fn main(
    job_path: &Path,
    guest: Option<&Path>,
    json: bool,
    verify: bool,
) -> anyhow::Result<ExitCode> {
    let (mut job, host_problems) = super::load_job(job_path)?;
    let sandbox = match guest {
        Some(path) => Sandbox::from_file(path),
        None => Sandbox::builtin(),
    };
    let sandbox = match sandbox {
        Ok(sandbox) => sandbox,
        Err(SandboxError::Refused(audit)) => {
            if json {
                let value = serde_json::json!({
                    "status": "refused",
                    "job": job.name,
                    "component_sha256": audit.component.sha256,
                    "problems": audit.problems,
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                eprintln!(
                    "{}: this host refuses the component {} (sha256:{}), nothing was run:",
                    job_path.display(),
                    audit.component.source,
                    audit.component.sha256
                );
                for problem in &audit.problems {
                    eprintln!("  {problem}");
                }
                eprintln!(
                    "`adls-writeback audit {}` shows all it imports.",
                    audit.component.source
                );
            }
            return Ok(ExitCode::from(super::EXIT_INVALID));
        }
        Err(other) => return Err(other.into()),
    };
    let runner = Runner::new(sandbox)?;
    let problems = runner.validate(&job, host_problems).await?;
    if !problems.is_empty() {
        if json {
            let value =
                serde_json::json!({ "status": "invalid", "job": job.name, "problems": problems });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            eprintln!(
                "{}: the job is invalid, nothing was written:",
                job_path.display()
            );
            for p in &problems {
                eprintln!("  {}: {}", p.field, p.message);
            }
        }
        return Ok(ExitCode::from(super::EXIT_INVALID));
    }

    let emulator = match job.emulator.is_some() {
        true => Some(crate::commands::in_process_emulator::start_for(&mut job).await?),
        false => None,
    };
    let options = RunOptions {
        progress: !json && std::io::stderr().is_terminal(),
        verify,
    };
    // With the job's [retry] policy; each attempt is recorded in the run history.
    let (outcome, signal) = crate::runner::recorded::run_recorded(&runner, &job, options).await?;
    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    match outcome {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&failure)?);
            } else {
                eprintln!("{failure}");
            }
            // Stopped by a signal: 130 for SIGINT, 143 for SIGTERM, as shells report it.
            match (failure.kind, signal) {
                (FailureKind::Cancelled, Some(signal)) => Ok(ExitCode::from(signal.exit_code())),
                _ => Ok(ExitCode::from(super::EXIT_FAILED)),
            }
        }
    }
}
