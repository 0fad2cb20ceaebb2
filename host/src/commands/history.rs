//! `adls-writeback history [JOB] [--json] [--limit N]`: the run history, newest first.

use std::process::ExitCode;

use crate::runner::history::{History, Record};

/// Prints the latest `limit` rows (of `job`, or of every job).
pub fn main(job: Option<&str>, json: bool, limit: usize) -> anyhow::Result<ExitCode> {
    let Some(history) = History::open_default()? else {
        anyhow::bail!("the run history is turned off (ADLS_WRITEBACK_HISTORY=off)");
    };
    let rows = history.list(job, limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no runs recorded in {}", history.path().display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:<25} {:>3} {:<9} {:<10} {:<24} {:>8} {:>9}  FILES / ERROR",
        "JOB", "RUN", "TRY", "TRIGGER", "STATUS", "STARTED", "SECONDS", "ROWS"
    );
    for r in &rows {
        println!("{}", line(r));
    }
    Ok(ExitCode::SUCCESS)
}

fn line(r: &Record) -> String {
    let seconds = r
        .ended_at
        .as_deref()
        .and_then(|end| {
            let start = chrono::DateTime::parse_from_rfc3339(&r.started_at).ok()?;
            let end = chrono::DateTime::parse_from_rfc3339(end).ok()?;
            Some(format!(
                "{:.1}",
                (end - start).num_milliseconds() as f64 / 1000.0
            ))
        })
        .unwrap_or_else(|| "-".into());
    let detail = match &r.error {
        Some(error) => error.clone(),
        None => format!(
            "{} md5 {}",
            r.files.join(", "),
            r.md5.as_deref().unwrap_or("-")
        ),
    };
    format!(
        "{:<24} {:<25} {:>3} {:<9} {:<10} {:<24} {:>8} {:>9}  {}",
        r.job,
        r.run_id,
        r.attempt,
        r.trigger.as_str(),
        r.status.as_str(),
        r.started_at,
        seconds,
        r.rows.map_or("-".into(), |n| n.to_string()),
        detail
    )
}
