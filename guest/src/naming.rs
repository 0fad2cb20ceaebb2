//! Where the output goes: file system, file name, target and temporary paths, URLs.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::model::{FileNaming, Job};

/// Bytes left as they are in a URL path segment: RFC 3986 unreserved characters only
/// (letters, digits, `-`, `.`, `_`, `~`). Everything else, `/` inside a segment included,
/// is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The file system (container) written to: `output.file_system`, else `account.container`.
pub fn file_system(job: &Job) -> &str {
    job.output
        .file_system
        .as_deref()
        .unwrap_or(&job.account.container)
}

/// The output file's name (it may hold `/`-separated subdirectories when given by the job):
/// `<dataset id>.csv`, or the given name with `.csv` appended unless it already ends in
/// `.csv` (in any case).
pub fn file_name(job: &Job) -> String {
    match &job.output.naming {
        FileNaming::DatasetId => format!("{}.csv", job.dataset.id),
        FileNaming::FileName(name) => with_csv_extension(name),
    }
}

fn with_csv_extension(name: &str) -> String {
    let has_ext = name.len() >= 4
        && name.is_char_boundary(name.len() - 4)
        && name[name.len() - 4..].eq_ignore_ascii_case(".csv");
    if has_ext {
        name.to_owned()
    } else {
        format!("{name}.csv")
    }
}

/// The target path inside the file system: `<directory>/<file name>`, or the file name alone.
pub fn target_path(job: &Job) -> String {
    join(job.output.directory.as_deref(), &file_name(job))
}

/// The temporary path a replace writes before renaming it onto `target`: the same directory,
/// named `_<name>.<run id>.tmp`. The leading `_` makes Spark, Hive and Hadoop listings skip
/// it; the run ID makes a retried run find (and truncate) its own leftovers.
pub fn temp_path(target: &str, run_id: &str) -> String {
    match target.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/_{name}.{run_id}.tmp"),
        None => format!("_{target}.{run_id}.tmp"),
    }
}

fn join(directory: Option<&str>, name: &str) -> String {
    match directory {
        Some(dir) if !dir.is_empty() => format!("{dir}/{name}"),
        _ => name.to_owned(),
    }
}

/// Percent-encodes a `/`-separated path segment by segment, keeping the `/` between them.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The URL of `path` in `file_system`: `{endpoint}/{file system}/{path}`, percent-encoded.
pub fn url(endpoint: &str, file_system: &str, path: &str) -> String {
    format!(
        "{}/{}/{}",
        endpoint.trim_end_matches('/'),
        encode_path(file_system),
        encode_path(path)
    )
}

/// Everything a run needs to know about where it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The DFS endpoint, without trailing slash.
    pub endpoint: String,
    /// The file system written to.
    pub file_system: String,
    /// The published file's path.
    pub path: String,
    /// The temporary path used by replace.
    pub temp_path: String,
}

impl Target {
    /// Names the target of `job`.
    pub fn new(job: &Job) -> Target {
        let path = target_path(job);
        Target {
            endpoint: job.account.dfs_endpoint.trim_end_matches('/').to_owned(),
            file_system: file_system(job).to_owned(),
            temp_path: temp_path(&path, &job.run_id),
            path,
        }
    }

    /// The URL of `path` in this target's file system.
    pub fn url_of(&self, path: &str) -> String {
        url(&self.endpoint, &self.file_system, path)
    }

    /// The published file's URL.
    pub fn url(&self) -> String {
        self.url_of(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample_job;

    #[test]
    fn file_system_defaults_to_container() {
        let mut job = sample_job();
        assert_eq!(file_system(&job), "exports");
        job.output.file_system = Some("lake".into());
        assert_eq!(file_system(&job), "lake");
    }

    #[test]
    fn file_names() {
        let cases: &[(Option<&str>, Option<&str>, &str)] = &[
            // (directory, file name, expected target path)
            (None, None, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.csv"),
            (
                Some("a/b"),
                None,
                "a/b/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.csv",
            ),
            (None, Some("sales"), "sales.csv"),
            (None, Some("sales.csv"), "sales.csv"),
            (None, Some("sales.CSV"), "sales.CSV"),
            (None, Some("sales.csv.bak"), "sales.csv.bak.csv"),
            (None, Some("csv"), "csv.csv"),
            (None, Some("é"), "é.csv"),
            (Some("out"), Some("2024/sales"), "out/2024/sales.csv"),
        ];
        for (dir, name, want) in cases {
            let mut job = sample_job();
            job.output.directory = dir.map(str::to_owned);
            if let Some(n) = name {
                job.output.naming = FileNaming::FileName((*n).to_owned());
            }
            assert_eq!(target_path(&job), *want, "{dir:?} {name:?}");
        }
    }

    #[test]
    fn temp_paths() {
        assert_eq!(temp_path("sales.csv", "r1"), "_sales.csv.r1.tmp");
        assert_eq!(temp_path("a/b/sales.csv", "r1"), "a/b/_sales.csv.r1.tmp");
        let job = sample_job();
        let t = Target::new(&job);
        assert_eq!(
            t.temp_path,
            "_aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.csv.run-1.tmp"
        );
    }

    #[test]
    fn urls_are_encoded_per_segment() {
        let cases = [
            ("a b/c.csv", "a%20b/c.csv"),
            ("x#y%z.csv", "x%23y%25z.csv"),
            ("dir/é €.csv", "dir/%C3%A9%20%E2%82%AC.csv"),
            ("a+b?c&d=e;f.csv", "a%2Bb%3Fc%26d%3De%3Bf.csv"),
            ("Az09-._~", "Az09-._~"),
        ];
        for (path, want) in cases {
            assert_eq!(encode_path(path), want);
            assert_eq!(
                url("http://127.0.0.1:10004/acct", "fs", path),
                format!("http://127.0.0.1:10004/acct/fs/{want}")
            );
        }
    }

    #[test]
    fn target_url() {
        let mut job = sample_job();
        job.output.directory = Some("daily reports".into());
        let t = Target::new(&job);
        assert_eq!(
            t.url(),
            "https://contosolake.dfs.core.windows.net/exports/daily%20reports/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.csv"
        );
    }
}
