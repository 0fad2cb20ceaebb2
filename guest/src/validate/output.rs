//! The output options beyond the path: format, CSV dialect, splitting, manifest.

use super::quote;
use crate::model::{FileNaming, Job, UpdateMode};

/// Smallest `output.max_bytes_per_file`: 64 KiB, so a part is more than a header.
pub const MIN_PART_BYTES: u64 = 64 * 1024;

/// Most `output.parquet_row_group_rows`: the guest buffers a row group's values.
pub const MAX_ROW_GROUP_ROWS: u32 = 10_000_000;

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
    check(
        "output.parquet_row_group_rows",
        match output.parquet.row_group_rows {
            0 => Some("0 would put no rows in a row group: use at least 1".into()),
            n if n > MAX_ROW_GROUP_ROWS => Some(format!(
                "{n} is more rows than a row group held in memory should have: use at most \
                 {MAX_ROW_GROUP_ROWS}"
            )),
            _ => None,
        },
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
        (output.update == UpdateMode::Append && !output.passthrough() && !output.multi_file())
            .then(|| {
                "append to one file is offered for plain CSV only (no format or dialect \
                 options): a split output (max_rows_per_file, max_bytes_per_file) or one \
                 with a manifest takes appends as new parts; or use update = \"replace\" \
                 with a templated file name (`{date}`, `{run_id}`) to keep every run's file"
                    .into()
            }),
    );
    let part_in_subdirectory = match &output.naming {
        FileNaming::FileName(name) => name.contains('/'),
        FileNaming::DatasetId => false,
    };
    check(
        "output.file_name",
        (output.update == UpdateMode::Append && output.multi_file() && part_in_subdirectory).then(
            || {
                "an append adds parts beside the existing ones in output.directory, so \
                 part names cannot hold `/`: put the subdirectories in output.directory"
                    .into()
            },
        ),
    );
    let access = &output.access;
    if let Some(p) = &access.permissions {
        check("output.permissions", permissions_problem(p));
    }
    if let Some(u) = &access.umask {
        let octal =
            u.len() == 4 && u.starts_with('0') && u.bytes().all(|b| (b'0'..=b'7').contains(&b));
        check(
            "output.umask",
            (!octal).then(|| {
                format!(
                    "{} is not a umask: give 4 octal digits starting with 0, such as \"0027\"",
                    quote(u)
                )
            }),
        );
    }
    if let Some(acl) = &access.acl {
        check("output.acl", acl_problem(acl));
    }
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

/// Why `p` is not an `x-ms-permissions` value: 4 octal digits (the first 0, or 1 for the
/// sticky bit) or 9 symbolic characters (`rwxr-x---`, a final `t`/`T` for the sticky bit).
fn permissions_problem(p: &str) -> Option<String> {
    let bytes = p.as_bytes();
    let octal = bytes.len() == 4
        && matches!(bytes[0], b'0' | b'1')
        && bytes[1..].iter().all(|b| (b'0'..=b'7').contains(b));
    let symbolic = bytes.len() == 9
        && bytes
            .iter()
            .enumerate()
            .all(|(i, &b)| b == b'-' || b == b"rwx"[i % 3] || (i == 8 && matches!(b, b't' | b'T')));
    (!octal && !symbolic).then(|| {
        format!(
            "{} is not a permission set: give 4 octal digits such as \"0640\" or 9 symbolic \
             characters such as \"rw-r-----\"",
            quote(p)
        )
    })
}

/// Why `acl` is not an `x-ms-acl` value: comma-separated
/// `[default:]user|group|mask|other:[object id]:rwx` entries, `mask` and `other` naming no one.
fn acl_problem(acl: &str) -> Option<String> {
    if acl.trim().is_empty() {
        return Some("is empty: give entries such as \"user::rw-,group::r--,other::---\"".into());
    }
    for entry in acl.split(',') {
        let parts: Vec<&str> = entry.split(':').collect();
        let parts = match parts.as_slice() {
            ["default", rest @ ..] => rest,
            all => all,
        };
        let why = match parts {
            [scope, id, perms] => {
                let perms_ok = perms.len() == 3
                    && perms
                        .bytes()
                        .enumerate()
                        .all(|(i, b)| b == b'-' || b == b"rwx"[i]);
                if !matches!(*scope, "user" | "group" | "mask" | "other") {
                    Some(format!(
                        "its scope {} is not user, group, mask or other",
                        quote(scope)
                    ))
                } else if matches!(*scope, "mask" | "other") && !id.is_empty() {
                    Some(format!("a {scope} entry names no one"))
                } else if !perms_ok {
                    Some(format!(
                        "{} is not a permission triple such as r-x",
                        quote(perms)
                    ))
                } else {
                    None
                }
            }
            _ => Some("it is not scope:id:permissions".into()),
        };
        if let Some(why) = why {
            return Some(format!(
                "the entry {} is not an ACL entry ({why}): write \
                 `[default:]user|group|mask|other:[object id]:rwx`, entries separated by commas",
                quote(entry)
            ));
        }
    }
    None
}
