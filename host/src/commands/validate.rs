//! `adls-writeback validate JOB.toml [--next N [--from INSTANT]]`: every problem of a job,
//! by field, with no network call; and, asked for, the next run times of its schedule.

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::job::schedule::{MAX_UPCOMING, Schedule};
use crate::runner::Runner;
use crate::sandbox::Sandbox;

/// What `--next` asks for: how many run times, from when.
#[derive(Debug, Clone, Copy)]
pub struct NextRuns {
    /// How many.
    pub count: usize,
    /// At or after this instant.
    pub from: DateTime<Utc>,
}

/// Parses `--next`: 1 to [`MAX_UPCOMING`].
pub fn parse_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_UPCOMING).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{text}` is not a count of run times: give 1 to {MAX_UPCOMING}"
        )),
    }
}

/// Parses `--from`: an RFC 3339 instant with its offset.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "`{text}` is not an RFC 3339 instant ({e}): give a date, a time and an offset, \
                 like 2026-03-29T00:00:00+01:00 or 2026-03-29T00:00:00Z"
            )
        })
}

/// Prints all problems (or `valid`) and the next runs when asked; exit code 2 when there
/// are problems.
pub async fn main(job_path: &Path, json: bool, next: Option<NextRuns>) -> anyhow::Result<ExitCode> {
    let (job, host_problems) = super::load_job(job_path)?;
    let runner = Runner::new(Sandbox::builtin()?)?;
    let problems = runner.validate(&job, host_problems).await?;
    // The run times are shown whenever the schedule itself is valid, even if other fields
    // are not: they do not depend on them.
    let schedule_ok = !problems.iter().any(|p| p.field.starts_with("schedule"));
    let runs = next
        .filter(|_| schedule_ok)
        .map(|n| (n, job.schedule.upcoming(n.from, n.count)));
    if json {
        let mut value = serde_json::json!({ "job": job.name, "valid": problems.is_empty(), "problems": problems });
        if let Some((n, runs)) = &runs {
            let list: Vec<String> = runs
                .iter()
                .map(|t| job.schedule.rfc3339_local(*t))
                .collect();
            value["schedule"] = job.schedule.describe().into();
            value["time_zone"] = job.schedule.zone().name().into();
            value["from"] = crate::runner::history::format_time(n.from).into();
            value["next_runs"] = list.into();
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        if problems.is_empty() {
            println!("{}: valid", job_path.display());
        } else {
            println!("{}: {} problem(s)", job_path.display(), problems.len());
            for p in &problems {
                println!("  {}: {}", p.field, p.message);
            }
        }
        if let Some((n, runs)) = &runs {
            print_runs(&job.schedule, n, runs);
        } else if next.is_some() {
            println!("no run times: the schedule is invalid");
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_INVALID)
    })
}

fn print_runs(schedule: &Schedule, n: &NextRuns, runs: &[DateTime<Utc>]) {
    let from = crate::runner::history::format_time(n.from);
    if schedule.is_manual() {
        println!("schedule: manual: it runs only when asked (`adls-writeback run`)");
        return;
    }
    println!("schedule: {}", schedule.describe());
    match runs.len() {
        0 => println!("no run at or after {from}"),
        len => {
            println!("next {len} run(s) at or after {from}:");
            for t in runs {
                println!("  {}", schedule.wall_clock(*t));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_and_from_are_checked_with_the_fix_in_the_message() {
        assert_eq!(parse_count("5"), Ok(5));
        for bad in ["0", "-1", "many", "1001"] {
            let e = parse_count(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("1 to 1000"), "{e}");
        }
        assert_eq!(
            parse_instant("2026-03-29T00:00:00+01:00").unwrap(),
            "2026-03-28T23:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        for bad in ["2026-03-29", "2026-03-29T00:00", "tomorrow"] {
            let e = parse_instant(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("RFC 3339"), "{e}");
        }
    }
}
