//! Table-driven tests of job validation.

use super::*;
use crate::model::{FileNaming, Job, SourceKind, UpdateMode, sample_job};

/// Applies `edit` to a valid job and returns the fields reported.
fn fields_after(edit: impl FnOnce(&mut Job)) -> Vec<(String, String)> {
    let mut job = sample_job();
    edit(&mut job);
    validate(&job)
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}

type Edit = fn(&mut Job, &str);

fn set_account(j: &mut Job, v: &str) {
    j.account.dfs_endpoint = "http://127.0.0.1:10004/acct".into();
    j.account.account_name = v.into();
}
fn set_container(j: &mut Job, v: &str) {
    j.account.container = v.into();
}
fn set_file_system(j: &mut Job, v: &str) {
    j.output.file_system = Some(v.into());
}
fn set_endpoint(j: &mut Job, v: &str) {
    j.account.dfs_endpoint = v.into();
}
fn set_domo_id(j: &mut Job, v: &str) {
    j.dataset.id = v.into();
}
fn set_local_id(j: &mut Job, v: &str) {
    j.dataset.kind = SourceKind::LocalFile;
    j.dataset.id = v.into();
}
fn set_directory(j: &mut Job, v: &str) {
    j.output.directory = Some(v.into());
}
fn set_file_name(j: &mut Job, v: &str) {
    j.output.naming = FileNaming::FileName(v.into());
}
fn set_block_size(j: &mut Job, v: &str) {
    j.output.block_size = v.parse().unwrap();
}
fn set_concurrency(j: &mut Job, v: &str) {
    j.output.concurrency = v.parse().unwrap();
}
fn set_run_id(j: &mut Job, v: &str) {
    j.run_id = v.into();
}
fn set_owner(j: &mut Job, v: &str) {
    j.owner = Some(v.into());
}

/// (field, setter, good values, bad values)
const CASES: &[(&str, Edit, &[&str], &[&str])] = &[
    (
        "account.account_name",
        set_account,
        &["abc", "contosolake", "a1b2c3d4e5f6g7h8i9j0k1l2"],
        &[
            "",
            "ab",
            "Contoso",
            "contoso-lake",
            "contoso_lake",
            "a1b2c3d4e5f6g7h8i9j0k1l2m",
        ],
    ),
    (
        "account.container",
        set_container,
        &["abc", "my-container-1", "0ab"],
        &["ab", "-abc", "abc-", "a--b", "ABC", "a_b", "a.b"],
    ),
    (
        "output.file_system",
        set_file_system,
        &["lake", "raw-zone"],
        &["", "Lake", "raw--zone", "x"],
    ),
    (
        "account.dfs_endpoint",
        set_endpoint,
        &[
            "https://contosolake.dfs.core.windows.net",
            "https://CONTOSOLAKE.dfs.core.windows.net",
            "https://lake.example.com:8443/base",
            "http://127.0.0.1:10004/contosolake",
            "http://127.255.0.9",
            "http://localhost:10004/acct",
            "http://[::1]:10004/acct",
        ],
        &[
            "",
            "contosolake.dfs.core.windows.net",
            "ftp://contosolake.dfs.core.windows.net",
            "https://contosolake.dfs.core.windows.net/",
            "https://contosolake.dfs.core.windows.net?sv=1",
            "https://contosolake.dfs.core.windows.net#x",
            "http://contosolake.dfs.core.windows.net",
            "http://10.0.0.1:10004",
            "http://128.0.0.1",
            "http://127.0.0.256",
            "http://[::2]:10004",
            "https://other.dfs.core.windows.net",
            "https://contosolake.blob.core.windows.net",
            "https://user@host.example.com",
            "https://host.example.com:99999",
            "https://host.example.com:",
            "https:///path",
            "https://ho st.example.com",
        ],
    ),
    (
        "source.dataset_id",
        set_domo_id,
        &["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"],
        &["", "sales", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeeee"],
    ),
    (
        "source.dataset_id",
        set_local_id,
        &["sales", "sales 2024", "ventes-été"],
        &["", "a/b", "a\\b", "a\nb"],
    ),
    (
        "output.directory",
        set_directory,
        &["out", "a/b/c", "daily reports/2024", "é"],
        &[
            "", "/out", "out/", "a//b", "a/./b", "../out", "a\\b", "a\tb",
        ],
    ),
    (
        "output.file_name",
        set_file_name,
        &["sales", "sales.csv", "2024/sales", "a b#c%d", "x.y"],
        &[
            "", "/sales", "sales/", "sales.", "a//b", "a/../b", "./a", "a\u{7f}", "a\\b",
        ],
    ),
    (
        "output.block_size",
        set_block_size,
        &["65536", "4194304", "104857600"],
        &["0", "65535", "104857601"],
    ),
    (
        "output.concurrency",
        set_concurrency,
        &["1", "8", "64"],
        &["0", "65"],
    ),
    (
        "run_id",
        set_run_id,
        &[
            "r",
            "20240101T000000Z-abc_1",
            "0123456789012345678901234567890123456789012345678901234567890123",
        ],
        &[
            "",
            "a b",
            "a.b",
            "a/b",
            "01234567890123456789012345678901234567890123456789012345678901234",
        ],
    ),
    ("owner", set_owner, &["27", "dana"], &["", "  "]),
];

#[test]
fn sample_job_is_valid() {
    assert_eq!(validate(&sample_job()), vec![]);
}

#[test]
fn azures_blob_endpoint_is_valid_beside_its_dfs_endpoint() {
    use crate::model::EndpointChoice;
    for endpoint in [EndpointChoice::Auto, EndpointChoice::Blob] {
        assert_eq!(fields_after(|j| j.account.endpoint = endpoint), []);
        let found = fields_after(|j| {
            j.account.endpoint = endpoint;
            j.account.blob_endpoint = "https://otheracct.blob.core.windows.net".into();
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "account.blob_endpoint");
        assert!(
            found[0].1.contains("names storage account `otheracct`"),
            "{found:?}"
        );
    }
    let found = fields_after(|j| {
        j.account.dfs_endpoint = "https://contosolake.blob.core.windows.net".into();
    });
    assert!(
        found
            .iter()
            .any(|(f, m)| f == "account.dfs_endpoint" && m.contains("is the Blob endpoint"))
    );
}

#[test]
fn every_field_good_and_bad() {
    for (field, edit, good, bad) in CASES {
        for value in *good {
            let errors = fields_after(|j| edit(j, value));
            assert!(errors.is_empty(), "{field} = {value:?}: {errors:?}");
        }
        for value in *bad {
            let errors = fields_after(|j| edit(j, value));
            assert_eq!(errors.len(), 1, "{field} = {value:?}: {errors:?}");
            let (got, message) = &errors[0];
            assert_eq!(got, field, "{value:?}: {message}");
            // The message quotes the value (escaped when it holds control characters).
            assert!(
                message.contains(&quote(value)) || message.contains(value),
                "{message}"
            );
        }
    }
}

#[test]
fn many_errors_at_once() {
    let errors = fields_after(|j| {
        j.account.account_name = "NOPE".into();
        j.account.container = "N".into();
        j.account.dfs_endpoint = "http://example.com".into();
        j.dataset.id = "x".into();
        j.output.file_system = Some("--".into());
        j.output.directory = Some("/".into());
        j.output.naming = FileNaming::FileName("".into());
        j.output.block_size = 1;
        j.output.concurrency = 0;
        j.run_id = "".into();
        j.owner = Some("".into());
    });
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "account.account_name",
            "account.container",
            "account.dfs_endpoint",
            "source.dataset_id",
            "output.file_system",
            "output.directory",
            "output.file_name",
            "output.block_size",
            "output.concurrency",
            "run_id",
            "owner",
        ]
    );
}

#[test]
fn messages_say_what_would_be_right() {
    let errors = fields_after(|j| j.account.dfs_endpoint = "http://10.1.2.3:80".into());
    assert_eq!(
        errors[0].1,
        "`http://10.1.2.3:80` uses plain http:// for the non-loopback host `10.1.2.3`; http \
         is allowed only for 127.0.0.0/8, [::1] and localhost: use \
         `https://contosolake.dfs.core.windows.net`, or `http://127.0.0.1:PORT/...` for a \
         local emulator"
    );
    let errors = fields_after(|j| j.output.block_size = 1000);
    assert_eq!(
        errors[0].1,
        "1000 is out of range: use 65536 (64 KiB) to 104857600 (100 MiB) bytes"
    );
}

#[test]
fn whole_path_limits() {
    // 1024 characters in all for the temporary path `[dir/]_<name>.csv.run-1.tmp`.
    let long = "d".repeat(1000);
    let errors = fields_after(|j| j.output.directory = Some(long.clone()));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "output.directory");
    assert!(errors[0].1.contains("temporary path"), "{}", errors[0].1);

    let errors = fields_after(|j| {
        j.output.naming = FileNaming::FileName("n".repeat(1010));
        j.output.update = UpdateMode::Append;
    });
    assert_eq!(errors[0].0, "output.file_name");
    assert!(
        errors[0].1.contains("1025 characters long"),
        "{}",
        errors[0].1
    );

    let errors = fields_after(|j| {
        j.output.naming = FileNaming::FileName("n".repeat(1009));
        j.output.update = UpdateMode::Append;
    });
    assert_eq!(errors, vec![], "1 + 1009 + 4 + 10 is exactly 1024");

    let errors = fields_after(|j| {
        j.output.naming = FileNaming::FileName(vec!["s"; 254].join("/"));
        j.output.update = UpdateMode::Append;
    });
    assert_eq!(errors, vec![]);
    let errors = fields_after(|j| {
        j.output.directory = Some("d".into());
        j.output.naming = FileNaming::FileName(vec!["s"; 254].join("/"));
    });
    assert!(errors[0].1.contains("255 segments"), "{}", errors[0].1);
}

#[test]
fn quoting_escapes_and_truncates() {
    assert_eq!(quote("a\nb"), "`a\\nb`");
    let q = quote(&"x".repeat(300));
    assert_eq!(q.chars().count(), 103);
    assert!(q.ends_with("…`"));
}

#[test]
fn templates_are_checked_by_field() {
    let bad: &[(Edit, &str, &str, &str)] = &[
        (
            set_directory,
            "sales/{year}",
            "output.directory",
            "`{year}` is not a token",
        ),
        (
            set_directory,
            "sales/{yyyy",
            "output.directory",
            "never closed",
        ),
        (
            set_directory,
            "{part}",
            "output.directory",
            "output.file_name only",
        ),
        (
            set_directory,
            "../{yyyy}",
            "output.directory",
            "`..` segment",
        ),
        (
            set_directory,
            "/{yyyy}",
            "output.directory",
            "starts with a slash",
        ),
        (
            set_file_name,
            "{dataset_name}}",
            "output.file_name",
            "without its `{`",
        ),
        (
            set_file_name,
            "../{date}",
            "output.file_name",
            "`..` segment",
        ),
        (
            set_file_name,
            "a//{date}",
            "output.file_name",
            "empty segment",
        ),
    ];
    for (edit, value, field, want) in bad {
        let found = fields_after(|j| edit(j, value));
        assert!(
            found.iter().any(|(f, m)| f == field && m.contains(want)),
            "{value}: {found:?}"
        );
    }
    for (edit, value) in [
        (set_directory as Edit, "sales/{yyyy}/{mm}/{dd}"),
        (set_directory, "{dataset_name}/{date}"),
        (set_file_name, "{dataset_id}_{date}_{time}"),
        (set_file_name, "{dataset_name}/part-{part}"),
    ] {
        assert_eq!(fields_after(|j| edit(j, value)), [], "{value}");
    }
}

#[test]
fn output_options_are_checked_by_field() {
    use crate::model::OutputFormat;
    type Case = (fn(&mut Job), &'static str, &'static str);
    let cases: &[Case] = &[
        (
            |j| j.output.dialect.delimiter = b'x',
            "output.delimiter",
            "`x`",
        ),
        (
            |j| j.output.split.max_rows = Some(0),
            "output.max_rows_per_file",
            "at least 1",
        ),
        (
            |j| j.output.split.max_bytes = Some(100),
            "output.max_bytes_per_file",
            "64 KiB",
        ),
        (
            |j| j.output.parquet.row_group_rows = 0,
            "output.parquet_row_group_rows",
            "at least 1",
        ),
        (
            |j| j.output.parquet.row_group_rows = 20_000_000,
            "output.parquet_row_group_rows",
            "at most 10000000",
        ),
        (
            |j| {
                j.output.format = OutputFormat::Parquet;
                j.output.update = UpdateMode::Append;
            },
            "output.update",
            "append to one file is offered for plain CSV only",
        ),
        (
            |j| j.output.split.max_rows = Some(5),
            "output.directory",
            "directory of its own",
        ),
        (
            |j| {
                j.output.manifest = true;
                j.output.directory = Some("out".into());
                j.output.naming = FileNaming::FileName("by-day/sales".into());
                j.output.update = UpdateMode::Append;
            },
            "output.file_name",
            "part names cannot hold `/`",
        ),
    ];
    for (edit, field, want) in cases {
        let found = fields_after(edit);
        assert!(
            found.iter().any(|(f, m)| f == field && m.contains(want)),
            "{field}: {found:?}"
        );
    }
    let found = fields_after(|j| {
        j.output.format = OutputFormat::Parquet;
        j.output.split.max_rows = Some(1000);
        j.output.directory = Some("out".into());
        j.output.update = UpdateMode::Append;
    });
    assert!(found.is_empty(), "an append of parts is valid: {found:?}");
    let found = fields_after(|j| {
        j.output.format = OutputFormat::CsvGz;
        j.output.dialect.delimiter = b'\t';
        j.output.split.max_bytes = Some(1 << 20);
        j.output.directory = Some("out/{date}".into());
        j.output.manifest = true;
    });
    assert_eq!(found, []);
}

#[test]
fn permissions_umask_and_acl_are_checked_by_field() {
    let set = |p: Option<&str>, u: Option<&str>, a: Option<&str>| {
        fields_after(|j| {
            j.output.access.permissions = p.map(Into::into);
            j.output.access.umask = u.map(Into::into);
            j.output.access.acl = a.map(Into::into);
        })
    };
    for good in ["0640", "1777", "rw-r-----", "rwxrwxrwt", "---------"] {
        assert_eq!(set(Some(good), None, None), [], "{good}");
    }
    for bad in ["640", "0800", "2640", "rw-r--r", "rwxrwxrwz", "wrx------"] {
        let found = set(Some(bad), None, None);
        assert_eq!(found.len(), 1, "{bad}: {found:?}");
        assert_eq!(found[0].0, "output.permissions");
        assert!(found[0].1.contains(bad), "{found:?}");
    }
    assert_eq!(set(None, Some("0027"), None), []);
    for bad in ["027", "1027", "0028"] {
        assert_eq!(set(None, Some(bad), None)[0].0, "output.umask", "{bad}");
    }
    let acl = "user::rw-,group::r--,other::---,user:11111111-2222-3333-4444-555555555555:r--,\
               default:user::rwx,mask::r-x";
    assert_eq!(set(None, None, Some(acl)), []);
    for (bad, why) in [
        ("", "is empty"),
        ("user:rw-", "scope:id:permissions"),
        ("owner::rw-", "not user, group, mask or other"),
        ("other:someone:r--", "names no one"),
        ("user::rwz", "not a permission triple"),
        ("user::rw-,,other::---", "scope:id:permissions"),
    ] {
        let found = set(None, None, Some(bad));
        assert_eq!(found.len(), 1, "{bad}: {found:?}");
        assert_eq!(found[0].0, "output.acl");
        assert!(found[0].1.contains(why), "{bad}: {found:?}");
    }
}

#[test]
fn the_blob_endpoint_is_checked_when_it_may_be_used() {
    use crate::model::EndpointChoice;
    for choice in [EndpointChoice::Auto, EndpointChoice::Blob] {
        let errors = fields_after(|j| {
            j.account.endpoint = choice;
            j.account.blob_endpoint = "http://example.com/acct".into();
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "account.blob_endpoint");
        assert!(
            errors[0].1.contains(".blob.core.windows.net"),
            "{}",
            errors[0].1
        );
    }
    let errors = fields_after(|j| {
        j.account.endpoint = EndpointChoice::Dfs;
        j.account.blob_endpoint = "http://example.com/acct".into();
    });
    assert!(errors.is_empty(), "{errors:?}");
    // The account's own Blob endpoint passes; its DFS one, given as the Blob endpoint, not.
    let errors = fields_after(|j| {
        j.account.endpoint = EndpointChoice::Auto;
        j.account.blob_endpoint = "https://contosolake.blob.core.windows.net".into();
    });
    assert!(errors.is_empty(), "{errors:?}");
    let errors = fields_after(|j| {
        j.account.endpoint = EndpointChoice::Blob;
        j.account.blob_endpoint = "https://contosolake.dfs.core.windows.net".into();
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .1
            .contains("is the DFS endpoint: use the Blob endpoint"),
        "{}",
        errors[0].1
    );
}
