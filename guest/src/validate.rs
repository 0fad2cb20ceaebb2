//! Job validation: every problem at once, each as (job-file key, message).
//!
//! Messages quote the offending value and say what would be right. A job holds no secret,
//! so quoting values is safe.

use crate::model::{FileNaming, Job, SourceKind, ValidationError};
use crate::naming::{self, template};

mod output;
pub use output::{MAX_ROW_GROUP_ROWS, MIN_PART_BYTES};

/// Smallest `output.block_size`: 64 KiB.
pub const MIN_BLOCK_SIZE: u32 = 64 * 1024;
/// Largest `output.block_size`: 100 MiB, the largest append every service version accepts.
pub const MAX_BLOCK_SIZE: u32 = 100 * 1024 * 1024;
/// Largest `output.concurrency`.
pub const MAX_CONCURRENCY: u32 = 64;
/// Longest path Azure accepts, in characters.
pub const MAX_PATH_CHARS: usize = 1024;
/// Most path segments Azure accepts.
pub const MAX_PATH_SEGMENTS: usize = 254;

/// Checks every field of `job`; returns all problems, empty when the job is valid.
pub fn validate(job: &Job) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut check = |field: &str, problem: Option<String>| {
        if let Some(message) = problem {
            errors.push(ValidationError {
                field: field.to_owned(),
                message,
            });
        }
    };
    let account = &job.account;
    check(
        "account.account_name",
        account_name_problem(&account.account_name),
    );
    check(
        "account.container",
        container_problem(&account.container, "container"),
    );
    check(
        "account.dfs_endpoint",
        endpoint_problem(&account.dfs_endpoint, &account.account_name, "dfs"),
    );
    if account.endpoint != crate::model::EndpointChoice::Dfs {
        check(
            "account.blob_endpoint",
            endpoint_problem(&account.blob_endpoint, &account.account_name, "blob"),
        );
    }
    check("source.dataset_id", dataset_problem(job));
    if let Some(fs) = &job.output.file_system {
        check("output.file_system", container_problem(fs, "file system"));
    }
    // Templates are checked as written, then as a run would fill them in: the values
    // going in are path-safe, so the literal text decides the rest.
    let sample = naming::vars(job, "dataset");
    let directory_problem = job.output.directory.as_deref().and_then(|d| {
        template::problem(d, false)
            .map(|why| format!("{} is not a valid name template ({why})", quote(d)))
            .or_else(|| path_problem(&template::render(d, &sample, None), PathKind::Directory))
    });
    let directory_ok = directory_problem.is_none();
    check("output.directory", directory_problem);
    let name_problem = match &job.output.naming {
        FileNaming::FileName(name) => template::problem(name, true)
            .map(|why| format!("{} is not a valid name template ({why})", quote(name)))
            .or_else(|| {
                path_problem(
                    &template::render(name, &sample, Some(1)),
                    PathKind::FileName,
                )
            }),
        FileNaming::DatasetId => None,
    };
    let name_ok = name_problem.is_none();
    check("output.file_name", name_problem);
    if directory_ok && name_ok {
        let field = match job.output.naming {
            FileNaming::FileName(_) => "output.file_name",
            FileNaming::DatasetId => "output.directory",
        };
        check(field, whole_path_problem(job, &sample));
    }
    crate::validate::output::check_output(job, &mut check);
    let block_size = job.output.block_size;
    check(
        "output.block_size",
        (!(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size)).then(|| {
            format!(
                "{block_size} is out of range: use {MIN_BLOCK_SIZE} (64 KiB) to \
                     {MAX_BLOCK_SIZE} (100 MiB) bytes"
            )
        }),
    );
    let concurrency = job.output.concurrency;
    check(
        "output.concurrency",
        (!(1..=MAX_CONCURRENCY).contains(&concurrency))
            .then(|| format!("{concurrency} is out of range: use 1 to {MAX_CONCURRENCY}")),
    );
    check("run_id", run_id_problem(&job.run_id));
    if let Some(owner) = &job.owner {
        check(
            "owner",
            owner.trim().is_empty().then(|| {
                format!(
                    "{} is blank: name the owner's user ID, or leave `owner` out",
                    quote(owner)
                )
            }),
        );
    }
    errors
}

/// Quotes a value for a message: in backticks, control characters escaped, cut after 100
/// characters.
pub fn quote(value: &str) -> String {
    let mut out = String::from("`");
    for (i, c) in value.chars().enumerate() {
        if i == 100 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

/// Whether `s` is a GUID: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits.
pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn account_name_problem(s: &str) -> Option<String> {
    let ok = (3..=24).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (!ok).then(|| {
        format!(
            "{} is not a storage account name: use 3-24 lowercase letters and digits",
            quote(s)
        )
    })
}

/// Azure container (file system) naming rules.
fn container_problem(s: &str, what: &str) -> Option<String> {
    let why = if !(3..=63).contains(&s.len()) {
        format!("it is {} characters long", s.chars().count())
    } else if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        "it holds characters other than lowercase letters, digits and hyphens".into()
    } else if s.starts_with('-') || s.ends_with('-') {
        "it starts or ends with a hyphen".into()
    } else if s.contains("--") {
        "it has two hyphens in a row".into()
    } else {
        return None;
    };
    Some(format!(
        "{} is not a valid {what} name ({why}): use 3-63 lowercase letters, digits and \
         single hyphens, starting and ending with a letter or digit",
        quote(s)
    ))
}

fn endpoint_problem(s: &str, account_name: &str, service: &str) -> Option<String> {
    let bad = |why: &str| {
        Some(format!(
            "{} {why}: use `https://{account_name}.{service}.core.windows.net`, or \
             `http://127.0.0.1:PORT/...` for a local emulator",
            quote(s)
        ))
    };
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("holds whitespace or control characters");
    }
    let lower = s.to_ascii_lowercase();
    let (secure, rest) = if let Some(rest) = lower.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = lower.strip_prefix("http://") {
        (false, rest)
    } else {
        return bad("is not an https:// URL");
    };
    if rest.contains('?') || rest.contains('#') {
        return bad("has a query or fragment; give the base URL only");
    }
    if s.ends_with('/') {
        return bad("ends with a slash; remove it");
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return bad("holds user information (`user@`); give the host only");
    }
    let (host, port) = match split_host_port(authority) {
        Ok(hp) => hp,
        Err(why) => return bad(&why),
    };
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return bad(&format!("has an invalid port {}", quote(port)));
    }
    if !secure && !is_loopback(host) {
        return bad(&format!(
            "uses plain http:// for the non-loopback host {}; http is allowed only for \
             127.0.0.0/8, [::1] and localhost",
            quote(host)
        ));
    }
    let other = if service == "dfs" { "blob" } else { "dfs" };
    if let Some(label) = host.strip_suffix(&format!(".{other}.core.windows.net")) {
        return Some(format!(
            "{} is the {} endpoint: use the {} endpoint `https://{label}.{service}.core.windows.net`",
            quote(s),
            service_name(other),
            service_name(service),
        ));
    }
    if let Some(label) = host.strip_suffix(&format!(".{service}.core.windows.net"))
        && label != account_name
    {
        return Some(format!(
            "{} names storage account {} but account.account_name is {}: make them agree",
            quote(s),
            quote(label),
            quote(account_name)
        ));
    }
    None
}

/// How people name an endpoint: `DFS`, `Blob`.
fn service_name(service: &str) -> &'static str {
    match service {
        "dfs" => "DFS",
        _ => "Blob",
    }
}

/// Splits `host[:port]` or `[v6]:port`; the host is checked for allowed characters.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| "has an unclosed `[` in its host".to_owned())?;
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(format!("has an invalid IPv6 host {}", quote(v6)));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| "has characters after its IPv6 host".to_owned())?,
            ),
        };
        (v6, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !valid {
            return Err(format!("has an invalid host {}", quote(host)));
        }
        (host, port)
    };
    Ok((host, port))
}

/// Whether `host` (lowercase, IPv6 without brackets) is a loopback host.
fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

fn dataset_problem(job: &Job) -> Option<String> {
    let id = &job.dataset.id;
    match job.dataset.kind {
        SourceKind::Domo => (!is_guid(id)).then(|| {
            format!(
                "{} is not a DataSet ID: use the GUID from the DataSet's URL, like \
                 `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`",
                quote(id)
            )
        }),
        SourceKind::LocalFile => {
            let bad = id.is_empty() || id.contains(['/', '\\']) || id.chars().any(char::is_control);
            bad.then(|| {
                format!(
                    "{} is not a dataset name: use a non-empty name without `/`, `\\` or \
                     control characters",
                    quote(id)
                )
            })
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PathKind {
    Directory,
    FileName,
}

fn path_problem(s: &str, kind: PathKind) -> Option<String> {
    let (what, fix) = match kind {
        PathKind::Directory => (
            "directory",
            "use `/`-separated names without leading or trailing slash, or leave it out \
             to write at the file system's root",
        ),
        PathKind::FileName => (
            "file name",
            "use a name such as `sales` or `2024/sales.csv` (`/` makes subdirectories)",
        ),
    };
    let why = if s.is_empty() {
        "it is empty"
    } else if s.chars().any(char::is_control) {
        "it holds control characters"
    } else if s.contains('\\') {
        "it holds a backslash"
    } else if s.starts_with('/') {
        "it starts with a slash"
    } else if s.ends_with('/') {
        "it ends with a slash"
    } else if kind == PathKind::FileName && s.ends_with('.') {
        "it ends with a dot"
    } else if s.split('/').any(str::is_empty) {
        "it has an empty segment (`//`)"
    } else if s.split('/').any(|seg| seg == "." || seg == "..") {
        "it has a `.` or `..` segment"
    } else {
        return None;
    };
    Some(format!("{} is not a valid {what} ({why}): {fix}", quote(s)))
}

/// Azure's limits, checked on the temporary path: it is longer than the target path, and
/// written by every replace and by an append that finds no file yet.
fn whole_path_problem(job: &Job, sample: &naming::Vars) -> Option<String> {
    let target = match job.output.multi_file() {
        // A part's path is the longest a multi-file output writes, under its temporary
        // directory.
        true => format!(
            "{}/{}",
            naming::temp_path(
                &naming::directory(job, sample).unwrap_or_default(),
                &job.run_id
            ),
            naming::file_name(job, sample, Some(1))
        ),
        false => naming::temp_path(&naming::target_path(job, sample), &job.run_id),
    };
    let checked = &target;
    let what = "the temporary path written before the rename";
    let chars = checked.chars().count();
    let segments = checked.split('/').count();
    if chars > MAX_PATH_CHARS {
        Some(format!(
            "{what} {} is {chars} characters long; Azure allows {MAX_PATH_CHARS}: shorten \
             output.directory or output.file_name",
            quote(checked)
        ))
    } else if segments > MAX_PATH_SEGMENTS {
        Some(format!(
            "{what} {} has {segments} segments; Azure allows {MAX_PATH_SEGMENTS}: use fewer \
             directories",
            quote(checked)
        ))
    } else {
        None
    }
}

fn run_id_problem(s: &str) -> Option<String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (!ok).then(|| {
        format!(
            "{} is not a run ID: use 1-64 letters, digits, `-` and `_`",
            quote(s)
        )
    })
}

#[cfg(test)]
mod tests;
