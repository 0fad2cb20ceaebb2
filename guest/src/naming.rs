//! Where the output goes: file system, file name, target and temporary paths, URLs.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::model::{FileNaming, Job, OutputFormat};
pub use template::Vars;

pub mod template;

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

/// What the name templates' tokens stand for in `job`'s run, the dataset being called
/// `dataset_name` by its source.
pub fn vars(job: &Job, dataset_name: &str) -> Vars {
    Vars {
        dataset_id: job.dataset.id.clone(),
        dataset_name: dataset_name.to_owned(),
        run_id: job.run_id.clone(),
        started_at_ms: job.started_at_ms,
        utc_offset_minutes: job.output.utc_offset_minutes,
    }
}

/// The output directory (`output.directory` with its tokens filled in), `None` for the
/// file system's root.
pub fn directory(job: &Job, vars: &Vars) -> Option<String> {
    job.output
        .directory
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(|d| template::render(d, vars, None))
}

/// The output file's name (it may hold `/`-separated subdirectories when given by the job):
/// `<dataset id>.<ext>`, or the given name (its tokens filled in) with the format's
/// extension appended unless it already ends with it (in any case); a `.csv` name of a
/// `csv.gz` output gets `.gz`. A part of a split output (`part` given) is named by the
/// template's `{part}`, or else `<name>-<part, 5 digits>.<ext>`.
pub fn file_name(job: &Job, vars: &Vars, part: Option<u32>) -> String {
    let template = match &job.output.naming {
        FileNaming::DatasetId => "{dataset_id}",
        FileNaming::FileName(name) => name.as_str(),
    };
    let name = template::render(template, vars, part);
    let (stem, suffix) = split_extension(&name, job.output.format);
    match part {
        Some(n) if !template::has_token(template, "part") => format!("{stem}-{n:05}{suffix}"),
        _ => format!("{stem}{suffix}"),
    }
}

/// Reads part numbers back from names: what comes before and after the number in the
/// names [`file_name`] gives the parts of `job`'s output in this run, worked out once.
pub struct PartNames<'a> {
    job: &'a Job,
    vars: &'a Vars,
    prefix: String,
    suffix: String,
}

impl<'a> PartNames<'a> {
    /// The part names of `job`'s output in the run `vars` describes.
    pub fn new(job: &'a Job, vars: &'a Vars) -> PartNames<'a> {
        // Two renderings differ exactly where the number goes.
        let (low, high) = (
            file_name(job, vars, Some(11111)),
            file_name(job, vars, Some(99999)),
        );
        let prefix = low
            .bytes()
            .zip(high.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let suffix = low
            .bytes()
            .rev()
            .zip(high.bytes().rev())
            .take_while(|(a, b)| a == b)
            .count();
        PartNames {
            job,
            vars,
            prefix: low[..prefix].to_owned(),
            suffix: low[low.len() - suffix..].to_owned(),
        }
    }

    /// The part number `name` has if it is the name of some part; `None` for any other.
    pub fn number(&self, name: &str) -> Option<u32> {
        let digits = name
            .strip_prefix(&self.prefix)?
            .strip_suffix(&self.suffix)?;
        let number = digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())??;
        (file_name(self.job, self.vars, Some(number)) == name).then_some(number)
    }
}

/// `name` as stem and extension: the format's extension as `name` spells it, or the one
/// to add.
fn split_extension(name: &str, format: OutputFormat) -> (&str, String) {
    let ends_with = |ext: &str| {
        name.len() >= ext.len()
            && name.is_char_boundary(name.len() - ext.len())
            && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext)
    };
    let ext = format.extension();
    if ends_with(ext) {
        let at = name.len() - ext.len();
        (&name[..at], name[at..].to_owned())
    } else if format == OutputFormat::CsvGz && ends_with(".csv") {
        let at = name.len() - 4;
        (&name[..at], format!("{}.gz", &name[at..]))
    } else if format == OutputFormat::Parquet && ends_with(".csv") {
        // `sales.csv` names the dataset's file; its Parquet form is `sales.parquet`.
        (&name[..name.len() - 4], ext.to_owned())
    } else {
        (name, ext.to_owned())
    }
}

/// The target path inside the file system: `<directory>/<file name>`, or the file name alone.
pub fn target_path(job: &Job, vars: &Vars) -> String {
    join(directory(job, vars).as_deref(), &file_name(job, vars, None))
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

/// The directory a replaced multi-file output is moved to while the new one is renamed
/// into place: `_<name>.<run id>.old` beside it, deleted right after.
pub fn old_path(target: &str, run_id: &str) -> String {
    match target.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/_{name}.{run_id}.old"),
        None => format!("_{target}.{run_id}.old"),
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
    /// The published file's path; for a multi-file output, the output directory's.
    pub path: String,
    /// The temporary path used by replace (a directory, for a multi-file output).
    pub temp_path: String,
    /// What the name templates' tokens stand for in this run.
    pub vars: Vars,
}

impl Target {
    /// Names the target of `job`, whose dataset its source calls `dataset_name`.
    pub fn new(job: &Job, dataset_name: &str) -> Target {
        let vars = vars(job, dataset_name);
        let path = if job.output.multi_file() {
            directory(job, &vars).unwrap_or_default()
        } else {
            target_path(job, &vars)
        };
        Target {
            endpoint: job.account.dfs_endpoint.trim_end_matches('/').to_owned(),
            file_system: file_system(job).to_owned(),
            temp_path: temp_path(&path, &job.run_id),
            path,
            vars,
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
            let vars = vars(&job, "Sales");
            assert_eq!(target_path(&job, &vars), *want, "{dir:?} {name:?}");
        }
    }

    #[test]
    fn extensions_follow_the_format() {
        let cases: &[(OutputFormat, &str, Option<u32>, &str)] = &[
            (OutputFormat::CsvGz, "sales", None, "sales.csv.gz"),
            (OutputFormat::CsvGz, "sales.csv", None, "sales.csv.gz"),
            (OutputFormat::CsvGz, "sales.CSV.GZ", None, "sales.CSV.GZ"),
            (OutputFormat::Csv, "sales", Some(3), "sales-00003.csv"),
            (OutputFormat::Csv, "sales.csv", Some(12), "sales-00012.csv"),
            (OutputFormat::CsvGz, "sales", Some(1), "sales-00001.csv.gz"),
            (OutputFormat::Parquet, "sales", None, "sales.parquet"),
            (
                OutputFormat::Parquet,
                "sales.csv",
                Some(2),
                "sales-00002.parquet",
            ),
            (
                OutputFormat::Parquet,
                "sales.PARQUET",
                None,
                "sales.PARQUET",
            ),
            (
                OutputFormat::Csv,
                "part{part}_{dataset_name}",
                Some(7),
                "part00007_EMEA _ Q1.csv",
            ),
        ];
        for (format, name, part, want) in cases {
            let mut job = sample_job();
            job.output.format = *format;
            job.output.naming = FileNaming::FileName((*name).to_owned());
            let vars = vars(&job, "EMEA / Q1");
            assert_eq!(file_name(&job, &vars, *part), *want, "{name} {part:?}");
        }
    }

    #[test]
    fn templated_directories_are_date_partitions() {
        let mut job = sample_job();
        job.output.directory = Some("sales/{yyyy}/{mm}/{dd}".into());
        // 2023-11-14T22:13:20Z, and in UTC+2 already the 15th.
        job.started_at_ms = 1_700_000_000_000;
        let t = Target::new(&job, "x");
        assert_eq!(
            t.path,
            "sales/2023/11/14/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.csv"
        );
        job.output.utc_offset_minutes = 120;
        job.output.split.max_rows = Some(10);
        let t = Target::new(&job, "x");
        assert_eq!(t.path, "sales/2023/11/15");
        assert_eq!(t.temp_path, "sales/2023/11/_15.run-1.tmp");
        assert_eq!(old_path(&t.path, "r"), "sales/2023/11/_15.r.old");
    }

    #[test]
    fn part_numbers_are_read_back_from_part_names() {
        let part_number = |job: &Job, v: &Vars, name: &str| PartNames::new(job, v).number(name);
        let mut job = sample_job();
        job.output.split.max_rows = Some(10);
        job.output.naming = FileNaming::FileName("sales.csv".into());
        let v = vars(&job, "Sales");
        assert_eq!(file_name(&job, &v, Some(7)), "sales-00007.csv");
        assert_eq!(part_number(&job, &v, "sales-00007.csv"), Some(7));
        assert_eq!(part_number(&job, &v, "sales-123456.csv"), Some(123456));
        for other in [
            "sales-7.csv",
            "sales-0000x.csv",
            "sales.csv",
            "_manifest.json",
            "x-00001.csv",
        ] {
            assert_eq!(part_number(&job, &v, other), None, "{other}");
        }
        job.output.naming = FileNaming::FileName("p{part}1-{dataset_id}".into());
        let name = file_name(&job, &v, Some(42));
        assert_eq!(name, format!("p000421-{}.csv", job.dataset.id));
        assert_eq!(part_number(&job, &v, &name), Some(42));
    }

    #[test]
    fn temp_paths() {
        assert_eq!(temp_path("sales.csv", "r1"), "_sales.csv.r1.tmp");
        assert_eq!(temp_path("a/b/sales.csv", "r1"), "a/b/_sales.csv.r1.tmp");
        let job = sample_job();
        let t = Target::new(&job, "Sales");
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
        let t = Target::new(&job, "Sales");
        assert_eq!(
            t.url(),
            "https://contosolake.dfs.core.windows.net/exports/daily%20reports/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.csv"
        );
    }
}
