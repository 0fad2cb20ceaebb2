//! `adls-writeback run JOB.toml`: validates, runs once in the sandbox, prints the report.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use crate::runner::{RunOptions, Runner, new_run_id};
use crate::sandbox::Sandbox;

/// Runs the job; exit code 0 on success, 1 on failure, 2 for an invalid job.
pub async fn main(job_path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (mut job, host_problems) = super::load_job(job_path)?;
    let runner = Runner::new(Sandbox::builtin()?)?;
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
        true => Some(crate::embedded::start_for(&mut job).await?),
        false => None,
    };
    let options = RunOptions {
        progress: !json && std::io::stderr().is_terminal(),
    };
    let outcome = runner.run(&job, &new_run_id(), options).await?;
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
            Ok(ExitCode::from(super::EXIT_FAILED))
        }
    }
}
