//! The CLI's subcommands, one module each.

pub mod accounts;
pub mod audit;
pub mod completions;
pub mod emulator;
pub mod history;
pub mod in_process_emulator;
pub mod logging;
pub mod run;
pub mod serve;
pub mod validate;

use std::path::Path;

use crate::job::{FieldError, Job, JobFile};

/// Exit code of a run that failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of an invalid job file.
pub const EXIT_INVALID: u8 = 2;

/// Loads and resolves a job file: the job and the host-side problems found.
pub fn load_job(path: &Path) -> anyhow::Result<(Job, Vec<FieldError>)> {
    Ok(JobFile::load(path)?.resolve())
}
