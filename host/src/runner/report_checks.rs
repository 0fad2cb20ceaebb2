//! What the host checks of a component's answers before it believes them. A report must
//! name the job's file system, a clean path inside the job's directory, a URL on the job's
//! endpoint, and sizes that add up; a component whose report breaks these rules fails its
//! run (kind `contract`) instead of being printed as a success. Validation problems are
//! capped in number and length.

use base64::Engine as _;

use crate::capabilities::bindings::types;
use crate::capabilities::log::printable;
use crate::job::{Job, UpdateMode};
use crate::runner::report::RunFailure;

/// Longest path or URL a report may hold, in bytes.
const MAX_PATH: usize = 4096;
/// Longest dataset name or ownership detail, in bytes.
const MAX_TEXT: usize = 1024;
/// Most files a run's report may list.
const MAX_FILES: usize = 1_000_000;
/// Most validation problems kept from a component.
const MAX_PROBLEMS: usize = 100;
/// Longest field name or problem message kept, in characters.
const MAX_PROBLEM_TEXT: usize = 1000;
/// Longest failure message kept from a component's error, in characters.
const MAX_ERROR_TEXT: usize = 4000;

/// The directories of `directory` before its first name template token: what every path
/// the job writes starts with.
fn literal_prefix(directory: &str) -> &str {
    let directory = directory.trim_matches('/');
    match directory.find('{') {
        None => directory,
        Some(at) => directory[..at]
            .rsplit_once('/')
            .map_or("", |(before, _)| before),
    }
}

/// Whether `job` writes a directory of files (its report's path is that directory).
fn multi_file(job: &Job) -> bool {
    let f = &job.output.files;
    f.max_rows_per_file.is_some()
        || f.max_bytes_per_file.is_some()
        || f.manifest
        || f.success_marker
}

/// Every way `report` breaks the contract for `job`; `Ok` when it keeps it.
pub fn check_report(job: &Job, report: &types::Report) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let shown = |text: &str| printable(text, 120);

    let file_system = job
        .output
        .file_system
        .as_deref()
        .filter(|fs| !fs.is_empty())
        .unwrap_or(&job.account.container);
    if report.file_system != file_system {
        problems.push(format!(
            "file_system `{}` is not the job's (`{file_system}`)",
            shown(&report.file_system)
        ));
    }

    if let Err(why) = clean_path(&report.path) {
        problems.push(format!("path `{}` {why}", shown(&report.path)));
    } else if let Some(dir) = job
        .output
        .directory
        .as_deref()
        .map(literal_prefix)
        .filter(|d| !d.is_empty())
        && !report
            .path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/') || (rest.is_empty() && multi_file(job)))
    {
        problems.push(format!(
            "path `{}` is not inside the job's directory `{dir}`",
            shown(&report.path)
        ));
    }

    let prefix = job
        .output
        .directory
        .as_deref()
        .map(literal_prefix)
        .unwrap_or("");
    for file in report.files.iter().take(MAX_PROBLEMS) {
        let inside = prefix.is_empty()
            || file
                .path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'));
        if clean_path(&file.path).is_err() || !inside {
            problems.push(format!(
                "file `{}` is not a clean path inside the job's directory",
                shown(&file.path)
            ));
        }
    }
    if report.files.is_empty() || report.files.len() > MAX_FILES {
        problems.push(format!(
            "files lists {} files: a run writes 1 to {MAX_FILES}",
            report.files.len()
        ));
    }

    let through = match report.endpoint {
        types::EndpointChoice::Blob => &job.account.blob_endpoint,
        _ => &job.account.dfs_endpoint,
    };
    let endpoint = format!("{}/", through.trim_end_matches('/'));
    if !report.url.starts_with(&endpoint) || report.url.len() > MAX_PATH {
        problems.push(format!(
            "url `{}` is not on the job's endpoint `{endpoint}`",
            shown(&report.url)
        ));
    }

    let mode = match job.output.update {
        UpdateMode::Replace => types::UpdateMode::Replace,
        UpdateMode::Append => types::UpdateMode::Append,
    };
    if report.update != mode {
        problems.push(format!(
            "update `{:?}` is not the job's `{mode:?}`",
            report.update
        ));
    }
    if report.bytes > report.file_size {
        problems.push(format!(
            "bytes ({}) is more than file_size ({})",
            report.bytes, report.file_size
        ));
    }
    if report.rows > report.bytes {
        problems.push(format!(
            "rows ({}) is more than bytes ({}), and every row takes at least one byte",
            report.rows, report.bytes
        ));
    }
    if u64::from(report.blocks) > report.bytes.max(1) {
        problems.push(format!(
            "blocks ({}) is more than bytes ({})",
            report.blocks, report.bytes
        ));
    }
    let md5 = base64::engine::general_purpose::STANDARD.decode(&report.md5);
    if !md5.is_ok_and(|digest| digest.len() == 16) {
        problems.push(format!(
            "md5 `{}` is not a base64 MD5 digest",
            shown(&report.md5)
        ));
    }
    let sha256 = base64::engine::general_purpose::STANDARD.decode(&report.sha256);
    if !sha256.is_ok_and(|digest| digest.len() == 32) {
        problems.push(format!(
            "sha256 `{}` is not a base64 SHA-256 digest",
            shown(&report.sha256)
        ));
    }
    let detail = match &report.ownership {
        types::Ownership::Owner(p) | types::Ownership::CoOwner(p) => &p.id,
        types::Ownership::NotApplicable(why) => why,
    };
    for (field, text) in [
        ("dataset_name", &report.dataset_name),
        ("ownership", detail),
    ] {
        if text.len() > MAX_TEXT {
            problems.push(format!(
                "{field} is {} bytes long (at most {MAX_TEXT})",
                text.len()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Why `path` is not a clean relative path inside a file system.
fn clean_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.len() > MAX_PATH {
        return Err("is too long");
    }
    if path.starts_with('/') {
        return Err("is absolute");
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err("holds control characters or backslashes");
    }
    if path
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err("has an empty, `.` or `..` segment");
    }
    Ok(())
}

/// A failure built from a component's error, with its text capped and control characters
/// escaped: guest text is data, not terminal output.
pub fn tame(mut failure: RunFailure) -> RunFailure {
    failure.message = printable(&failure.message, MAX_ERROR_TEXT);
    failure.fields.truncate(MAX_PROBLEMS);
    for field in &mut failure.fields {
        field.field = printable(&field.field, MAX_PROBLEM_TEXT);
        field.message = printable(&field.message, MAX_PROBLEM_TEXT);
    }
    failure
}

/// A component's validation problems, capped in number and length, control characters
/// escaped.
pub fn cap_problems(problems: Vec<types::ValidationError>) -> Vec<types::ValidationError> {
    let total = problems.len();
    let mut kept: Vec<types::ValidationError> = problems
        .into_iter()
        .take(MAX_PROBLEMS)
        .map(|p| types::ValidationError {
            field: printable(&p.field, MAX_PROBLEM_TEXT),
            message: printable(&p.message, MAX_PROBLEM_TEXT),
        })
        .collect();
    if total > MAX_PROBLEMS {
        kept.push(types::ValidationError {
            field: "component".into(),
            message: format!(
                "{} more problems were dropped (at most {MAX_PROBLEMS} are shown)",
                total - MAX_PROBLEMS
            ),
        });
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_clean_and_relative() {
        for ok in ["a.csv", "out/a.csv", "x/y/z b.csv"] {
            assert_eq!(clean_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x.csv",
            "out/../../x.csv",
            "out//x.csv",
            "./x.csv",
            "a\nb.csv",
            "a\\b.csv",
        ] {
            assert!(clean_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn problems_are_capped() {
        let many = (0..150)
            .map(|i| types::ValidationError {
                field: format!("f{i}"),
                message: "m\u{1b}[2J".into(),
            })
            .collect();
        let kept = cap_problems(many);
        assert_eq!(kept.len(), MAX_PROBLEMS + 1);
        assert_eq!(kept[0].message, "m\\u{1b}[2J");
        assert!(kept[MAX_PROBLEMS].message.starts_with("50 more problems"));
    }
}
