//! `adls-writeback validate JOB.toml`: every problem of a job, by field, with no network
//! call.

use std::path::Path;
use std::process::ExitCode;

use crate::runner::Runner;
use crate::sandbox::Sandbox;

/// Prints all problems (or `valid`); exit code 2 when there are any.
pub async fn main(job_path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (job, host_problems) = super::load_job(job_path)?;
    let runner = Runner::new(Sandbox::builtin()?)?;
    let problems = runner.validate(&job, host_problems).await?;
    if json {
        let value = serde_json::json!({ "job": job.name, "valid": problems.is_empty(), "problems": problems });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if problems.is_empty() {
        println!("{}: valid", job_path.display());
    } else {
        println!("{}: {} problem(s)", job_path.display(), problems.len());
        for p in &problems {
            println!("  {}: {}", p.field, p.message);
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_INVALID)
    })
}
