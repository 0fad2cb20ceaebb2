//! Bad input, table-driven: invalid job files, bad CSV, and sources and credentials that
//! fail. Every case must fail with the right exit code and kind, name its field or its
//! `line N`, keep every secret out of the output, and write nothing. All cases run; the
//! failures are listed together at the end.

use std::time::{Duration, Instant};

use crate::support::{Cli, Harness, JobSpec, generated_csv};
use adls_writeback_emulator::{Fault, FaultPlan, FaultRule, Operation, Service, well_known};
use serde_json::Value;

const OWNER: u64 = 27; // the emulator's well-known Domo user
const STRANGER: u64 = 99;
const WRONG_ENTRA_SECRET: &str = "wrong-entra-secret-Zq8~value";
const WRONG_DOMO_SECRET: &str = "wrong-domo-secret-Kx3~value";
/// Longest a failing case may take.
const DEADLINE: Duration = Duration::from_secs(120);

/// What a case must end with.
enum Expect {
    /// Exit 2 from `run` and `validate`, listing a problem of this job-file field.
    Invalid(&'static str),
    /// Exit 2: the job file does not parse; the error names this key.
    Unparsable(&'static str),
    /// Exit 1, a failure of this kind whose message contains the needle.
    Failed(&'static str, &'static str),
}

struct Case {
    name: &'static str,
    spec: JobSpec,
    /// Text replacements in the written job file, for keys `JobSpec` does not set.
    edits: Vec<(String, String)>,
    /// The case's dataset (Domo, owned by the well-known user) unless `None`.
    dataset: Option<Vec<u8>>,
    /// Owner of the dataset, when not the well-known user.
    owner: u64,
    faults: Option<FaultPlan>,
    expect: Expect,
}

impl Case {
    fn new(name: &'static str, expect: Expect) -> Case {
        Case {
            name,
            spec: JobSpec::default(),
            edits: Vec::new(),
            dataset: Some(b"a,b\n1,2\n".to_vec()),
            owner: OWNER,
            faults: None,
            expect,
        }
    }

    fn output(mut self, extra: &str) -> Case {
        self.spec.output.push_str(extra);
        self
    }

    fn edit(mut self, from: impl Into<String>, to: impl Into<String>) -> Case {
        self.edits.push((from.into(), to.into()));
        self
    }

    fn data(mut self, csv: impl Into<Vec<u8>>) -> Case {
        self.dataset = Some(csv.into());
        self
    }

    fn spec(mut self, f: impl FnOnce(&mut JobSpec)) -> Case {
        f(&mut self.spec);
        self
    }
}

fn invalid(name: &'static str, field: &'static str) -> Case {
    Case::new(name, Expect::Invalid(field))
}

fn data(name: &'static str, csv: impl Into<Vec<u8>>, needle: &'static str) -> Case {
    Case::new(name, Expect::Failed("data", needle)).data(csv)
}

fn key_line(key: &str, value: &str) -> String {
    format!("{key} = \"{value}\"")
}

/// A CSV of about `size` bytes (several 64 KiB blocks) whose last record holds `bad`, and
/// the line that record starts on.
fn bad_after_blocks(size: usize, bad: &[u8]) -> (Vec<u8>, u64) {
    let mut csv = generated_csv(size, 77);
    let line = csv.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    csv.extend_from_slice(b"999999,late,");
    csv.extend_from_slice(bad);
    csv.extend_from_slice(b",1.00\r\n");
    (csv, line)
}

fn cases(h: &Harness) -> Vec<Case> {
    let dfs = h.emulator.account_endpoint(well_known::ACCOUNT_NAME);
    let file_name = |name: &str| {
        format!("select_filename = \"file-name\"\nfile_name = \"{name}\"\n")
            .replace('\x07', "\\u0007")
    };
    let long_record = {
        let mut csv = b"a,b\n1,2\n3,".to_vec();
        csv.extend(std::iter::repeat_n(b'x', 70_000));
        csv.extend_from_slice(b"\n4,5\n");
        csv
    };
    let (late_nul, late_nul_line) = bad_after_blocks(300 << 10, b"x\0y");
    let (late_utf8, late_utf8_line) = bad_after_blocks(300 << 10, b"caf\xE9");
    // Leaked on purpose so that the needles can be `&'static str`.
    let late_nul_needle: &'static str = format!("line {late_nul_line}").leak();
    let late_utf8_needle: &'static str = format!("line {late_utf8_line}").leak();
    let export = |fault: Fault| {
        Some(FaultPlan::new(vec![
            FaultRule::new(fault)
                .service(Service::Domo)
                .operation(Operation::Export),
        ]))
    };
    vec![
        // The job file: [account].
        invalid("client-id-not-a-guid", "account.client_id").edit(
            key_line("client_id", well_known::CLIENT_ID),
            key_line("client_id", "my-app"),
        ),
        invalid("tenant-neither-guid-nor-domain", "account.tenant_id")
            .spec(|s| s.tenant_id = "contoso tenant!".into()),
        invalid("account-name-uppercase", "account.account_name").edit(
            key_line("account_name", well_known::ACCOUNT_NAME),
            key_line("account_name", "DevStoreAccount1"),
        ),
        invalid("account-name-too-short", "account.account_name").edit(
            key_line("account_name", well_known::ACCOUNT_NAME),
            key_line("account_name", "ab"),
        ),
        invalid("account-name-too-long", "account.account_name").edit(
            key_line("account_name", well_known::ACCOUNT_NAME),
            key_line("account_name", "abcdefghijklmnopqrstuvwxy"),
        ),
        invalid("container-double-hyphen", "account.container").edit(
            key_line("container", well_known::CONTAINER),
            key_line("container", "write--back"),
        ),
        invalid("container-leading-hyphen", "account.container").edit(
            key_line("container", well_known::CONTAINER),
            key_line("container", "-writeback"),
        ),
        invalid("container-too-short", "account.container").edit(
            key_line("container", well_known::CONTAINER),
            key_line("container", "wb"),
        ),
        invalid("client-secret-file-missing", "account.client_secret")
            .edit("file = \"client-secret\"", "file = \"no-such-secret-file\""),
        invalid("client-secret-env-unset", "account.client_secret").edit(
            "file = \"client-secret\"",
            "env = \"ADLS_WRITEBACK_TEST_UNSET_SECRET\"",
        ),
        invalid("plain-http-to-a-remote-host", "account.dfs_endpoint").edit(
            key_line("dfs_endpoint", &dfs),
            key_line(
                "dfs_endpoint",
                "http://storage.example.com/devstoreaccount1",
            ),
        ),
        // [source] and [output].
        invalid("dataset-id-not-a-guid", "source.dataset_id")
            .spec(|s| s.dataset_id = "12345".into()),
        invalid("file-system-bad-name", "output.file_system")
            .output("file_system = \"Bad_Name\"\n"),
        invalid("directory-with-dot-dot", "output.directory")
            .edit("directory = \"out\"", "directory = \"out/../etc\""),
        invalid("file-name-with-control-char", "output.file_name")
            .output(&file_name("bad\x07name")),
        invalid("file-name-ending-in-dot", "output.file_name").output(&file_name("report.")),
        invalid("file-name-ending-in-slash", "output.file_name").output(&file_name("report/")),
        invalid("file-name-selected-but-missing", "output.file_name")
            .output("select_filename = \"file-name\"\n"),
        invalid("select-filename-unknown", "output.select_filename")
            .output("select_filename = \"title\"\n"),
        invalid("update-mode-unknown", "output.update").output("update = \"merge\"\n"),
        invalid("block-size-too-small", "output.block_size").output("block_size = 1024\n"),
        invalid("block-size-too-large", "output.block_size").output("block_size = 209715200\n"),
        invalid("concurrency-zero", "output.concurrency").output("concurrency = 0\n"),
        invalid("concurrency-100", "output.concurrency").output("concurrency = 100\n"),
        Case::new("unknown-key-typo", Expect::Unparsable("blocksize"))
            .output("blocksize = 65536\n"),
        // The data.
        data("empty-dataset", Vec::new(), "line 1"),
        data("header-only-dataset", b"a,b\n".to_vec(), "allow_empty"),
        data(
            "ragged-rows-strict",
            b"a,b\n1,2\n3\n4,5\n".to_vec(),
            "line 3",
        )
        .output("strict = true\n"),
        data(
            "unterminated-quote",
            b"a,b\n1,2\n3,\"open\n4,5\n".to_vec(),
            "line 3",
        ),
        data("nul-byte", b"a,b\n1,2\n3,x\0y\n4,5\n".to_vec(), "line 3"),
        data(
            "invalid-utf8",
            b"a,b\n1,2\n3,caf\xE9\n4,5\n".to_vec(),
            "line 3",
        ),
        data("record-longer-than-block-size", long_record, "line 3").output("block_size = 65536\n"),
        data(
            "nul-byte-after-blocks-were-appended",
            late_nul,
            late_nul_needle,
        )
        .output("block_size = 65536\n"),
        data(
            "invalid-utf8-after-blocks-were-appended",
            late_utf8,
            late_utf8_needle,
        )
        .output("block_size = 65536\n"),
        // The source and the credentials.
        Case {
            faults: export(Fault::DropResponse {
                body_bytes: Some(200_000),
            }),
            ..Case::new(
                "dataset-vanishes-mid-export",
                Expect::Failed("source", "export"),
            )
            .data(generated_csv(1 << 20, 3))
            .output("block_size = 65536\n")
        },
        Case {
            faults: export(Fault::Slow { ms: 8000 }),
            spec: JobSpec {
                tables: "[limits]\nstall_secs = 1\n".into(),
                ..JobSpec::default()
            },
            ..Case::new("source-stalls", Expect::Failed("source", "stall_secs"))
        },
        Case {
            dataset: None,
            ..Case::new(
                "unknown-dataset",
                Expect::Failed("source", "0bad0000-0000-4000-8000-00000000dead"),
            )
            .spec(|s| s.dataset_id = "0bad0000-0000-4000-8000-00000000dead".into())
        },
        Case::new(
            "wrong-domo-secret",
            Expect::Failed("source", "source.domo.client_secret"),
        )
        .spec(|s| s.domo_client_secret = WRONG_DOMO_SECRET.into()),
        Case {
            owner: STRANGER,
            ..Case::new(
                "not-owner-or-co-owner",
                Expect::Failed("ownership", "neither owner nor co-owner"),
            )
            .spec(|s| s.with_instance = true)
        },
        Case::new(
            "wrong-entra-secret",
            Expect::Failed("auth", "AADSTS7000215"),
        )
        .spec(|s| s.client_secret = WRONG_ENTRA_SECRET.into()),
        Case::new("unknown-tenant", Expect::Failed("auth", "AADSTS90002"))
            .spec(|s| s.tenant_id = "0b0b0b0b-1111-4222-8333-444444444444".into()),
    ]
}

/// Secrets the output must never show.
const SECRETS: [&str; 5] = [
    well_known::CLIENT_SECRET,
    well_known::DOMO_CLIENT_SECRET,
    well_known::DOMO_DEVELOPER_TOKEN,
    WRONG_ENTRA_SECRET,
    WRONG_DOMO_SECRET,
];

/// Runs `adls-writeback ARGS` within the deadline: exit code, stdout, stderr.
async fn run_cli(args: &[&str]) -> Result<(i32, String, String), String> {
    let output = Cli::new(args).deadline(DEADLINE).try_output().await?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// Checks one case; every problem found is pushed to `problems`.
async fn check(h: &Harness, index: usize, case: Case, problems: &mut Vec<String>) {
    let name = case.name;
    let mut fail = |message: String| problems.push(format!("{name}: {message}"));
    let mut spec = case.spec;
    spec.name = name.into();
    if spec.dataset_id.is_empty() {
        spec.dataset_id = format!("{index:08x}-0000-4000-8000-0000000000{index:02x}");
    }
    if let Some(csv) = &case.dataset {
        h.add_dataset(&spec.dataset_id, csv, case.owner, &[31]);
    }
    let job = h.write_job(&spec);
    if !case.edits.is_empty() {
        let mut text = std::fs::read_to_string(&job).unwrap();
        for (from, to) in &case.edits {
            assert!(
                text.contains(from.as_str()),
                "{name}: `{from}` not in:\n{text}"
            );
            text = text.replace(from.as_str(), to);
        }
        std::fs::write(&job, text).unwrap();
    }
    let job = job.to_str().unwrap().to_string();
    let before = h.list_files().await;
    if let Some(plan) = case.faults {
        h.emulator.set_faults(plan).unwrap();
    }
    let started = Instant::now();
    let ran = run_cli(&["run", &job, "--json"]).await;
    let elapsed = started.elapsed();
    h.emulator.set_faults(FaultPlan::default()).unwrap();
    let (code, stdout, stderr) = match ran {
        Ok(ran) => ran,
        Err(e) => return fail(e),
    };
    let shown = format!("exit {code}\nstdout: {stdout}\nstderr: {stderr}");
    for secret in SECRETS {
        if stdout.contains(secret) || stderr.contains(secret) {
            fail(format!("a secret reached the output: {shown}"));
        }
    }
    let json: Option<Value> = serde_json::from_str(&stdout).ok();
    match case.expect {
        Expect::Invalid(field) => {
            let listed = json.as_ref().is_some_and(|j| {
                j["status"] == "invalid"
                    && j["problems"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["field"] == field))
            });
            if code != 2 || !listed {
                fail(format!("`run` should exit 2 listing `{field}`: {shown}"));
            }
            match run_cli(&["validate", &job]).await {
                Ok((2, out, _)) if out.contains(field) => {}
                Ok((code, out, err)) => fail(format!(
                    "`validate` should exit 2 listing `{field}`: exit {code}\n{out}{err}"
                )),
                Err(e) => fail(e),
            }
        }
        Expect::Unparsable(key) => {
            if code != 2 || !stderr.contains(&format!("`{key}`")) {
                fail(format!(
                    "`run` should exit 2 naming the key `{key}`: {shown}"
                ));
            }
            match run_cli(&["validate", &job]).await {
                Ok((2, _, err)) if err.contains(&format!("`{key}`")) => {}
                Ok((code, out, err)) => fail(format!(
                    "`validate` should exit 2 naming `{key}`: exit {code}\n{out}{err}"
                )),
                Err(e) => fail(e),
            }
        }
        Expect::Failed(kind, needle) => {
            let message = json
                .as_ref()
                .and_then(|j| j["message"].as_str())
                .unwrap_or_default();
            let got_kind = json.as_ref().map(|j| j["kind"].clone());
            if code != 1 || got_kind != Some(Value::from(kind)) {
                fail(format!("expected exit 1, kind `{kind}`: {shown}"));
            } else if !message.contains(needle) {
                fail(format!("`{needle}` not in the message `{message}`"));
            } else if kind == "data" && !has_line_and_byte(message) {
                fail(format!("no `line N (byte N)` in `{message}`"));
            }
            if name == "source-stalls" && elapsed >= Duration::from_secs(8) {
                fail(format!("a 1 s stall limit took {elapsed:?} to end the run"));
            }
        }
    }
    let after = h.list_files().await;
    let written: Vec<&String> = after.iter().filter(|f| !before.contains(f)).collect();
    if !written.is_empty() {
        fail(format!("files were written: {written:?}"));
    }
}

/// `line N (byte M)` somewhere in `message`.
fn has_line_and_byte(message: &str) -> bool {
    message.match_indices("line ").any(|(i, _)| {
        let rest = &message[i + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(" (byte ") && {
            let rest = &rest[digits + 7..];
            let d = rest.bytes().take_while(u8::is_ascii_digit).count();
            d > 0 && rest[d..].starts_with(')')
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_cleanly_naming_its_cause() {
    let h = Harness::start().await;
    let cases = cases(&h);
    let count = cases.len();
    assert!(count >= 30, "only {count} cases");
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "case names repeat");
    let mut problems = Vec::new();
    let started = Instant::now();
    for (index, case) in cases.into_iter().enumerate() {
        check(&h, index + 1, case, &mut problems).await;
    }
    eprintln!("bad input: {count} cases in {:.1?}", started.elapsed());
    assert!(
        problems.is_empty(),
        "{} problem(s) in {count} cases:\n{}",
        problems.len(),
        problems.join("\n---\n")
    );
}
