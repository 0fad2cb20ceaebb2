use super::*;

fn load(text: &str) -> (Job, Vec<FieldError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s3cret\n").unwrap();
    std::fs::write(dir.path().join("data.csv"), "a\n1\n").unwrap();
    let path = dir.path().join("job.toml");
    std::fs::write(&path, text).unwrap();
    JobFile::load(&path).unwrap().resolve()
}

const BASE: &str = r#"
    [account]
    client_id = "11111111-2222-3333-4444-555555555555"
    tenant_id = "contoso.onmicrosoft.com"
    client_secret = { file = "secret" }
    account_name = "acct"
    container = "box"
    [source]
    kind = "file"
    path = "data.csv"
"#;

#[test]
fn defaults_fill_the_gaps() {
    let (job, problems) = load(BASE);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(job.name, "job");
    assert_eq!(
        job.account.dfs_endpoint,
        "https://acct.dfs.core.windows.net"
    );
    assert_eq!(job.account.authority_host, DEFAULT_AUTHORITY_HOST);
    match job.account.credential.as_ref().unwrap() {
        crate::job::credential::Credential::ClientSecret(s) => assert_eq!(s.expose(), "s3cret"),
        other => panic!("{other:?}"),
    }
    assert_eq!(job.dataset_id(), "data");
    assert_eq!(job.output.naming, Naming::DatasetId);
    assert_eq!(job.output.block_size, DEFAULT_BLOCK_SIZE);
    assert_eq!(job.output.update, UpdateMode::Replace);
}

#[test]
fn every_host_side_problem_is_reported_at_once() {
    let text = BASE
        .replace("{ file = \"secret\" }", "{ file = \"missing\" }")
        .replace("path = \"data.csv\"", "path = \"nope.csv\"")
        + "[output]\nselect_filename = \"whatever\"\nupdate = \"merge\"\n";
    let text = text.replace(
        "tenant_id = \"contoso.onmicrosoft.com\"",
        "tenant_id = \"contoso.onmicrosoft.com\"\nauthority_host = \"http://login.example.com\"",
    );
    let (_, problems) = load(&text);
    let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "account.client_secret",
            "account.authority_host",
            "source.path",
            "output.select_filename",
            "output.update"
        ]
    );
    assert!(problems.iter().all(|p| !p.message.contains("s3cret")));
}

#[test]
fn unknown_keys_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.toml");
    std::fs::write(&path, BASE.replace("client_id =", "clientid =")).unwrap();
    let err = JobFile::load(&path).unwrap_err().to_string();
    assert!(err.contains("clientid"), "{err}");
}

#[test]
fn domo_source_needs_its_credentials() {
    let text = BASE.replace(
        "kind = \"file\"\n    path = \"data.csv\"",
        "kind = \"domo\"\ndataset_id = \"x\"",
    );
    let (job, problems) = load(&text);
    let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["source.domo.client_id", "source.domo.client_secret"]
    );
    assert!(matches!(job.source, Source::Domo(_)));
}

#[test]
fn http_and_stall_settings_are_read_and_checked_by_field() {
    let (job, problems) = load(BASE);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(job.http, Http::default());
    assert_eq!(job.http.retry.max_retries, 8);
    assert_eq!(job.limits.stall, Duration::from_secs(120));
    let text = BASE.to_string()
        + "[limits]\nstall_secs = 5\n[http]\nmax_retries = 2\nbackoff_initial_ms = 50\n\
           backoff_max_ms = 1000\nretry_timeout_secs = 30\nrequest_timeout_secs = 10\n";
    let (job, problems) = load(&text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(job.limits.stall, Duration::from_secs(5));
    let retry = &job.http.retry;
    assert_eq!(retry.max_retries, 2);
    assert_eq!(retry.backoff.initial, Duration::from_millis(50));
    assert_eq!(retry.backoff.max, Duration::from_secs(1));
    assert_eq!(retry.retry_timeout, Duration::from_secs(30));
    assert_eq!(job.http.request_timeout, Duration::from_secs(10));

    let text = BASE.to_string()
        + "[limits]\nstall_secs = 0\n[http]\nmax_retries = 99\nbackoff_initial_ms = 0\n\
           retry_timeout_secs = 0\nrequest_timeout_secs = 0\n";
    let (_, problems) = load(&text);
    let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "limits.stall_secs",
            "http.max_retries",
            "http.backoff_initial_ms",
            "http.retry_timeout_secs",
            "http.request_timeout_secs"
        ]
    );
    let text = BASE.to_string() + "[http]\nbackoff_initial_ms = 5000\nbackoff_max_ms = 100\n";
    let (_, problems) = load(&text);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "http.backoff_max_ms");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.toml");
    std::fs::write(&path, BASE.to_string() + "[http]\nretries = 1\n").unwrap();
    let err = JobFile::load(&path).unwrap_err().to_string();
    assert!(err.contains("retries"), "{err}");
}

#[test]
fn endpoints_must_be_https_or_loopback_http() {
    for (value, ok) in [
        ("https://login.microsoftonline.com", true),
        ("http://127.0.0.1:1234", true),
        ("http://localhost:80", true),
        ("http://[::1]:80", true),
        ("http://10.0.0.1", false),
        ("ftp://host", false),
        ("not a url", false),
    ] {
        let mut problems = Vec::new();
        check_endpoint("x", value, &mut problems);
        assert_eq!(problems.is_empty(), ok, "{value}: {problems:?}");
    }
}

#[test]
fn the_memory_cap_follows_the_blocks_in_flight() {
    let with = |extra: &str| load(&format!("{BASE}{extra}"));
    // Defaults fit the default cap.
    let (job, problems) = with("");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(job.limits.memory_bytes, 512 << 20);
    // Without a cap in the job, large blocks raise it to what they need.
    let (job, problems) = with("[output]\nblock_size = 16777216\nconcurrency = 32\n");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(job.limits.memory_bytes, (16 * 41 + 16) << 20);
    // A cap the job gives that is too small is refused up front, naming all three keys.
    let (_, problems) =
        with("[output]\nblock_size = 8388608\nconcurrency = 16\n[limits]\nmemory_mib = 64\n");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "limits.memory_mib");
    for needle in [
        "output.block_size",
        "output.concurrency",
        "8 MiB × 16",
        "216 MiB",
    ] {
        assert!(
            problems[0].message.contains(needle),
            "{}",
            problems[0].message
        );
    }
    // More than any cap may be.
    let (_, problems) = with("[output]\nblock_size = 104857600\nconcurrency = 64\n");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "output.concurrency");
    assert!(
        problems[0].message.contains("4096"),
        "{}",
        problems[0].message
    );
    let (_, problems) = with("[limits]\nmemory_mib = 9000\n");
    assert_eq!(problems[0].field, "limits.memory_mib");
}

#[test]
fn the_cloud_sets_the_endpoint_suffix_and_the_authority_unless_overridden() {
    let text = BASE.replace("[account]", "[account]\ncloud = \"china\"");
    let (job, problems) = load(&text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        job.account.dfs_endpoint,
        "https://acct.dfs.core.chinacloudapi.cn"
    );
    assert_eq!(job.account.authority_host, "https://login.chinacloudapi.cn");
    let text = BASE.replace(
        "[account]",
        "[account]\ncloud = \"us-government\"\ndfs_endpoint = \"https://x.example\"\n\
         authority_host = \"https://login.example\"",
    );
    let (job, _) = load(&text);
    assert_eq!(job.account.dfs_endpoint, "https://x.example");
    assert_eq!(job.account.authority_host, "https://login.example");
    let (_, problems) = load(&BASE.replace("[account]", "[account]\ncloud = \"mars\""));
    assert_eq!(problems[0].field, "account.cloud");
}

#[test]
fn a_key_or_a_sas_replaces_the_app() {
    let keyed = BASE.replace(
        "client_secret = { file = \"secret\" }",
        "auth = \"shared-key\"\naccount_key = { file = \"secret\" }",
    );
    let (job, problems) = load(&keyed);
    // `s3cret` is not base64, so not an account key.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "account.account_key");
    assert!(job.account.credential.is_none());
    let missing = BASE.replace("client_secret = { file = \"secret\" }", "auth = \"sas\"");
    let (_, problems) = load(&missing);
    assert_eq!(problems[0].field, "account.sas_token");
    assert!(
        problems[0].message.contains("AZURE_STORAGE_SAS_TOKEN"),
        "{}",
        problems[0].message
    );
}

#[test]
fn the_endpoint_choice_defaults_to_auto_and_the_blob_endpoint_sits_beside_dfs() {
    let (job, problems) = load(BASE);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(job.account.endpoint, Endpoint::Auto);
    assert_eq!(
        job.account.blob_endpoint,
        "https://acct.blob.core.windows.net"
    );
    let text = BASE.replace(
        "container = \"box\"",
        "container = \"box\"\nendpoint = \"blob\"\ndfs_endpoint = \"http://127.0.0.1:10004/acct/\"",
    );
    let (job, problems) = load(&text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(job.account.endpoint, Endpoint::Blob);
    // A path-style emulator serves both APIs at one address.
    assert_eq!(job.account.blob_endpoint, "http://127.0.0.1:10004/acct");
    let text = BASE.replace(
        "container = \"box\"",
        "container = \"box\"\nblob_endpoint = \"http://127.0.0.1:10000/devstoreaccount1\"",
    );
    let (job, _) = load(&text);
    assert_eq!(
        job.account.blob_endpoint,
        "http://127.0.0.1:10000/devstoreaccount1"
    );
}

#[test]
fn a_bad_endpoint_choice_or_blob_endpoint_names_its_field() {
    let text = BASE.replace(
        "container = \"box\"",
        "container = \"box\"\nendpoint = \"adls\"",
    );
    let (_, problems) = load(&text);
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["account.endpoint"], "{problems:?}");
    assert!(
        problems[0].message.contains("\"auto\""),
        "{}",
        problems[0].message
    );
    let text = BASE.replace(
        "container = \"box\"",
        "container = \"box\"\nblob_endpoint = \"http://blob.example.com\"",
    );
    let (_, problems) = load(&text);
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["account.blob_endpoint"], "{problems:?}");
}

#[test]
fn parquet_options_are_read_and_checked_by_key() {
    use crate::job::output::{DEFAULT_ROW_GROUP_ROWS, Format, ParquetCompression};
    let with = |output: &str| load(&format!("{BASE}[output]\n{output}"));
    let (job, problems) = with("format = \"parquet\"\n");
    assert!(problems.is_empty(), "{problems:?}");
    let files = &job.output.files;
    assert_eq!(files.format, Format::Parquet);
    assert_eq!(files.parquet_row_group_rows, DEFAULT_ROW_GROUP_ROWS);
    assert_eq!(files.parquet_compression, ParquetCompression::Snappy);
    let (job, problems) = with(
        "format = \"parquet\"\nparquet_row_group_rows = 5000\nparquet_compression = \"none\"\n",
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(job.output.files.parquet_row_group_rows, 5000);
    assert_eq!(
        job.output.files.parquet_compression,
        ParquetCompression::Uncompressed
    );
    let (job, problems) = with("format = \"parquet\"\nparquet_compression = \"zstd\"\n");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        job.output.files.parquet_compression,
        ParquetCompression::Zstd
    );
    for (output, field, words) in [
        (
            "format = \"parquet\"\nparquet_compression = \"lz4\"\n",
            "output.parquet_compression",
            "`lz4`",
        ),
        (
            "parquet_compression = \"snappy\"\n",
            "output.parquet_compression",
            "Parquet output only",
        ),
        (
            "format = \"csv.gz\"\nparquet_row_group_rows = 10\n",
            "output.parquet_row_group_rows",
            "Parquet output only",
        ),
        ("format = \"orc\"\n", "output.format", "\"parquet\""),
    ] {
        let (_, problems) = with(output);
        assert!(
            problems
                .iter()
                .any(|p| p.field == field && p.message.contains(words)),
            "{output}: {problems:?}"
        );
    }
}
