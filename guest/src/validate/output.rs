//! The output options beyond the path: format, CSV dialect, splitting, manifest.

use super::quote;
use crate::model::{Job, UpdateMode};

/// Smallest `output.max_bytes_per_file`: 64 KiB, so a part is more than a header.
pub const MIN_PART_BYTES: u64 = 64 * 1024;

/// Checks the output options of `job`, reporting each problem through `check`.
pub(super) fn check_output(job: &Job, check: &mut impl FnMut(&str, Option<String>)) {
    let output = &job.output;
    let delimiter = output.dialect.delimiter;
    check(
        "output.delimiter",
        (!matches!(delimiter, b',' | b';' | b'|' | b'\t')).then(|| {
            format!(
                "{} is not a delimiter this writer offers: use \",\", \";\", \"|\" or \"\\t\" (tab)",
                quote(&char::from(delimiter).to_string())
            )
        }),
    );
    if let Some(rows) = output.split.max_rows {
        check(
            "output.max_rows_per_file",
            (rows == 0).then(|| "0 would write no rows to any part: use at least 1".into()),
        );
    }
    if let Some(bytes) = output.split.max_bytes {
        check(
            "output.max_bytes_per_file",
            (bytes < MIN_PART_BYTES)
                .then(|| format!("{bytes} is too small: use at least {MIN_PART_BYTES} (64 KiB)")),
        );
    }
    check(
        "output.update",
        (output.update == UpdateMode::Append && !output.passthrough()).then(|| {
            "append is offered for a plain CSV file only (no format, dialect, split or \
             manifest options) for now: use update = \"replace\", with a templated \
             directory or file name (`{date}`, `{run_id}`) to keep every run's files"
                .into()
        }),
    );
    if !output.multi_file() {
        return;
    }
    let directory = output.directory.as_deref().unwrap_or_default();
    check(
        "output.directory",
        directory.is_empty().then(|| {
            "missing: a split output (or one with a manifest) is a directory of files that \
             a replace swaps as a whole, so it needs a directory of its own, such as \
             `sales` or `sales/{yyyy}/{mm}/{dd}`"
                .into()
        }),
    );
}
