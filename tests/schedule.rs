//! End-to-end: `serve` over the scheduled examples, `run` and `history`, and saved accounts,
//! with the real binary against the emulator. The scheduler's timing rules (no overlap,
//! retries, catch-up, shutdown) are tested on a manual clock in
//! `host/src/commands/serve/dispatcher/tests.rs`.
//! The operator's conveniences (next runs, colours, abandoned runs, completions, man pages,
//! the Kubernetes example) are in `operator/`.

mod operator;

use crate::support::Cli;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use adls_writeback::runner::history::{History, Record};
use adls_writeback_emulator::{Emulator, EmulatorConfig, EntraApp, well_known};
use tokio::io::AsyncReadExt;

const DATASET: &str = "845305d8-da3d-4107-a9d6-13ef3f86d4a4";

/// An app that gets storage tokens but holds no data role.
const NO_ROLE_CLIENT_ID: &str = "5e5e5e5e-0000-4000-8000-00000000a0a0";
const NO_ROLE_SECRET: &str = "no-role-secret-for-tests";
/// An app with a read-only data role (`Storage Blob Data Reader`).
const READER_CLIENT_ID: &str = "5e5e5e5e-0000-4000-8000-00000000b0b0";
const READER_SECRET: &str = "reader-secret-for-tests";

/// The CLI with `env` set (the run history as the test says) and `stdin` fed in.
async fn cli_env(args: &[&str], env: &[(&str, &Path)], stdin: Option<&str>) -> Output {
    let mut cli = Cli::new(args).env_remove("ADLS_WRITEBACK_HISTORY");
    for (name, value) in env {
        cli = cli.env(name, value);
    }
    if let Some(text) = stdin {
        cli = cli.stdin(text);
    }
    cli.output().await
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Polls the history until `done` holds, or panics at the deadline.
async fn wait_for_history(
    path: &Path,
    deadline: Duration,
    done: impl Fn(&[Record]) -> bool,
) -> Vec<Record> {
    let start = Instant::now();
    loop {
        if path.exists() {
            let rows = History::open(path).unwrap().list(None, 100).unwrap();
            if done(&rows) {
                return rows;
            }
        }
        assert!(
            start.elapsed() < deadline,
            "the history did not get there in {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_scheduled_examples_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.sqlite");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scheduled");
    let jobs = ["sales-every-15-minutes", "sales-weekdays-berlin"];

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_adls-writeback"))
        .args([
            "serve",
            examples.to_str().unwrap(),
            "--poll-secs",
            "1",
            "--grace-secs",
            "30",
        ])
        .env("ADLS_WRITEBACK_HISTORY", &history)
        .env("ADLS_WRITEBACK_ACCOUNTS", dir.path().join("accounts.toml"))
        .env("ADLS_WRITEBACK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    // A fresh history and a `start` in the past: each job makes one catch-up run at once.
    let finished = |rows: &[Record]| {
        jobs.iter().all(|j| {
            rows.iter()
                .any(|r| r.job == *j && r.status.as_str() != "running")
        })
    };
    let rows = wait_for_history(&history, Duration::from_secs(180), finished).await;

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .unwrap()
        .unwrap();
    let log = log.await.unwrap();
    assert!(status.success(), "serve exited with {status}:\n{log}");
    assert!(log.contains("stopping"), "{log}");
    // At start, each job's next run, in its zone's wall clock and in UTC.
    let berlin = log
        .lines()
        .find(|l| l.contains("job `sales-weekdays-berlin`"))
        .unwrap_or_else(|| panic!("no start line for the Berlin job:\n{log}"));
    assert!(
        berlin.contains("next run now, catching up (missed ")
            && berlin.contains("; then ")
            && berlin.contains(" 06:00:00 CE")
            && berlin.contains(" UTC"),
        "{berlin}"
    );

    for job in jobs {
        let runs: Vec<&Record> = rows.iter().filter(|r| r.job == job).collect();
        assert_eq!(runs.len(), 1, "{job}: {runs:?}\n{log}");
        let r = runs[0];
        assert_eq!(
            (r.status.as_str(), r.trigger.as_str(), r.attempt),
            ("succeeded", "catch-up", 1),
            "{r:?}\n{log}"
        );
        assert_eq!(r.rows, Some(120));
        assert_eq!(r.bytes, Some(8049));
        assert!(r.md5.as_deref().is_some_and(|m| m.len() == 24), "{r:?}");
        assert!(
            r.component_sha256.as_deref().is_some_and(|s| s.len() == 64),
            "{r:?}"
        );
        assert!(r.scheduled_for.is_some() && r.ended_at.is_some(), "{r:?}");
        assert!(r.error.is_none(), "{r:?}");
    }
    let files: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.files.iter().map(String::as_str))
        .collect();
    assert!(
        files.contains(&"writeback/scheduled/weekdays/regional-sales.csv"),
        "{files:?}"
    );
    assert!(
        files.contains(&format!("writeback/scheduled/every-15-minutes/{DATASET}.csv").as_str()),
        "{files:?}"
    );

    // `history` prints the same rows.
    let env = [("ADLS_WRITEBACK_HISTORY", history.as_path())];
    let output = cli_env(
        &["history", "sales-weekdays-berlin", "--json", "--limit", "5"],
        &env,
        None,
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["status"], "succeeded");
    let table = cli_env(&["history"], &env, None).await;
    let table = text(&table);
    assert!(
        table.contains("catch-up") && table.contains("sales-every-15-minutes"),
        "{table}"
    );
}

struct Accounts {
    dir: tempfile::TempDir,
    emulator: Emulator,
}

impl Accounts {
    async fn start() -> Accounts {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EmulatorConfig::well_known(dir.path().join("emulator-data"));
        config.apps.push(EntraApp {
            tenant_id: well_known::TENANT_ID.into(),
            tenant_domain: None,
            client_id: NO_ROLE_CLIENT_ID.into(),
            client_secret: NO_ROLE_SECRET.into(),
            data_access: false,
            read_only: false,
            federated: Vec::new(),
            certificates: Vec::new(),
            managed_identity: false,
        });
        config.apps.push(EntraApp {
            tenant_id: well_known::TENANT_ID.into(),
            tenant_domain: None,
            client_id: READER_CLIENT_ID.into(),
            client_secret: READER_SECRET.into(),
            data_access: true,
            read_only: true,
            federated: Vec::new(),
            certificates: Vec::new(),
            managed_identity: false,
        });
        let emulator = Emulator::start(config).await.unwrap();
        Accounts { dir, emulator }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("config/accounts.toml")
    }

    fn history(&self) -> PathBuf {
        self.dir.path().join("history.sqlite")
    }

    async fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let (file, history) = (self.file(), self.history());
        let env = [
            ("ADLS_WRITEBACK_ACCOUNTS", file.as_path()),
            ("ADLS_WRITEBACK_HISTORY", history.as_path()),
            ("WRONG_SECRET", Path::new("not-the-secret")),
        ];
        cli_env(args, &env, stdin).await
    }

    async fn add(
        &self,
        name: &str,
        client_id: &str,
        container: &str,
        secret: &[&str],
        stdin: Option<&str>,
    ) -> Output {
        let (dfs, authority) = (
            self.emulator.account_endpoint(well_known::ACCOUNT_NAME),
            self.emulator.authority_url(),
        );
        let mut args = vec![
            "accounts",
            "add",
            name,
            "--client-id",
            client_id,
            "--tenant-id",
            well_known::TENANT_ID,
            "--account-name",
            well_known::ACCOUNT_NAME,
            "--container",
            container,
            "--dfs-endpoint",
            &dfs,
            "--authority-host",
            &authority,
        ];
        args.extend_from_slice(secret);
        self.cli(&args, stdin).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_accounts_are_added_tested_and_named_by_jobs() {
    use std::os::unix::fs::PermissionsExt;
    let a = Accounts::start().await;
    let secret = format!("{}\n", well_known::CLIENT_SECRET);
    let added = a
        .add(
            "emu",
            well_known::CLIENT_ID,
            well_known::CONTAINER,
            &["--secret-stdin"],
            Some(&secret),
        )
        .await;
    assert!(added.status.success(), "{}", text(&added));
    assert!(
        !text(&added).contains(well_known::CLIENT_SECRET),
        "never echoed"
    );
    let mode = std::fs::metadata(a.file()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let others: [(&str, &str, &str, &[&str]); 4] = [
        (
            "wrong",
            well_known::CLIENT_ID,
            well_known::CONTAINER,
            &["--secret-env", "WRONG_SECRET"],
        ),
        (
            "norole",
            NO_ROLE_CLIENT_ID,
            well_known::CONTAINER,
            &["--secret-stdin"],
        ),
        (
            "nofs",
            well_known::CLIENT_ID,
            "missing",
            &["--secret-stdin"],
        ),
        (
            "reader",
            READER_CLIENT_ID,
            well_known::CONTAINER,
            &["--secret-stdin"],
        ),
    ];
    for (name, client, container, secret_args) in others {
        let stdin = match client {
            NO_ROLE_CLIENT_ID => NO_ROLE_SECRET,
            READER_CLIENT_ID => READER_SECRET,
            _ => well_known::CLIENT_SECRET,
        };
        let added = a
            .add(name, client, container, secret_args, Some(stdin))
            .await;
        assert!(added.status.success(), "{name}: {}", text(&added));
    }

    let listed = text(&a.cli(&["accounts", "list"], None).await);
    for name in ["emu", "wrong", "norole", "nofs", "reader"] {
        assert!(listed.contains(name), "{listed}");
    }
    let shown = a.cli(&["accounts", "show", "emu"], None).await;
    assert!(
        shown.status.success() && text(&shown).contains("stored in the accounts file"),
        "{}",
        text(&shown)
    );
    assert!(
        !text(&shown).contains(well_known::CLIENT_SECRET)
            && !listed.contains(well_known::CLIENT_SECRET)
    );

    let ok = a.cli(&["accounts", "test", "emu"], None).await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("works"), "{}", text(&ok));
    assert!(
        text(&ok).contains(
            "write        ok: created, wrote and deleted `writeback/_adls-writeback-probe-"
        ),
        "{}",
        text(&ok)
    );
    for (name, needles) in [
        ("wrong", &["AADSTS7000215", "client_secret"][..]),
        (
            "norole",
            &[
                "AuthorizationPermissionMismatch",
                "Storage Blob Data Contributor",
            ][..],
        ),
        (
            "nofs",
            &["FilesystemNotFound", "`missing` does not exist"][..],
        ),
        // A read-only role lists the container, and is caught when it writes.
        (
            "reader",
            &[
                "file system  ok",
                "write        FAILED: AuthorizationPermissionMismatch (403 Forbidden)",
                "read-only",
                "Storage Blob Data Contributor",
            ][..],
        ),
    ] {
        let failed = a.cli(&["accounts", "test", name], None).await;
        let out = text(&failed);
        assert_eq!(failed.status.code(), Some(1), "{name}: {out}");
        for needle in needles {
            assert!(out.contains(needle), "{name}: `{needle}` not in:\n{out}");
        }
        assert!(
            !out.contains("not-the-secret")
                && !out.contains(NO_ROLE_SECRET)
                && !out.contains(READER_SECRET),
            "{out}"
        );
    }
    // The probe files are gone: the container holds nothing but what jobs write.
    let left = list_container(&a.emulator).await;
    assert!(
        !left.iter().any(|p| p.contains("_adls-writeback-probe")),
        "{left:?}"
    );

    // A job names the account instead of repeating it; `run` records its attempt.
    let data = a.dir.path().join("rows.csv");
    std::fs::write(&data, "id,name\n1,a\n2,b\n").unwrap();
    let job = a.dir.path().join("named.toml");
    let mut body = toml::Table::new();
    body.insert("account".into(), "emu".into());
    let mut source = toml::Table::new();
    source.insert("kind".into(), "file".into());
    source.insert("path".into(), data.display().to_string().into());
    body.insert("source".into(), source.into());
    let mut output = toml::Table::new();
    output.insert("directory".into(), "named".into());
    body.insert("output".into(), output.into());
    std::fs::write(&job, toml::to_string(&body).unwrap()).unwrap();
    let run = a.cli(&["run", job.to_str().unwrap(), "--json"], None).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let rows = History::open(&a.history())
        .unwrap()
        .list(Some("named"), 10)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].trigger.as_str(),
            rows[0].status.as_str(),
            rows[0].rows
        ),
        ("manual", "succeeded", Some(2))
    );
    assert_eq!(rows[0].files, ["writeback/named/rows.csv"]);

    // An unknown name is a problem of field `account`.
    let ghost = a.dir.path().join("ghost.toml");
    std::fs::write(
        &ghost,
        std::fs::read_to_string(&job)
            .unwrap()
            .replace("\"emu\"", "\"ghost\""),
    )
    .unwrap();
    let invalid = a.cli(&["validate", ghost.to_str().unwrap()], None).await;
    assert_eq!(invalid.status.code(), Some(2), "{}", text(&invalid));
    assert!(
        text(&invalid).contains("account: no saved account `ghost`"),
        "{}",
        text(&invalid)
    );

    // A file holding secrets that others can read is refused, with the fix.
    std::fs::set_permissions(a.file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = a.cli(&["accounts", "list"], None).await;
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused).contains(&format!("chmod 600 {}", a.file().display())),
        "{}",
        text(&refused)
    );
    std::fs::set_permissions(a.file(), std::fs::Permissions::from_mode(0o600)).unwrap();

    let removed = a.cli(&["accounts", "remove", "nofs"], None).await;
    assert!(removed.status.success());
    assert!(!text(&a.cli(&["accounts", "list"], None).await).contains("nofs"));
}

/// Every path in the well-known container, as a DFS listing shows it.
async fn list_container(emulator: &Emulator) -> Vec<String> {
    let client = reqwest::Client::new();
    let token: serde_json::Value = client
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emulator.authority_url(),
            well_known::TENANT_ID
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", well_known::CLIENT_ID),
            ("client_secret", well_known::CLIENT_SECRET),
            ("scope", "https://storage.azure.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listing: serde_json::Value = client
        .get(format!(
            "{}/{}?resource=filesystem&recursive=true",
            emulator.account_endpoint(well_known::ACCOUNT_NAME),
            well_known::CONTAINER
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("x-ms-version", "2023-11-03")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listing["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_account_key_is_tested_and_never_printed() {
    let a = Accounts::start().await;
    let dfs = a.emulator.account_endpoint(well_known::ACCOUNT_NAME);
    let wrong = "d3Jvbmcta2V5LW9mLXRoZS1yaWdodC1sZW5ndGgtZm9yLWEtdGVzdA==";
    for (name, key) in [("keyed", well_known::ACCOUNT_KEY), ("wrongkey", wrong)] {
        let args = [
            "accounts",
            "add",
            name,
            "--auth",
            "shared-key",
            "--account-name",
            well_known::ACCOUNT_NAME,
            "--container",
            well_known::CONTAINER,
            "--dfs-endpoint",
            &dfs,
            "--secret-stdin",
        ];
        let added = a.cli(&args, Some(&format!("{key}\n"))).await;
        assert_eq!(added.status.code(), Some(0), "{}", text(&added));
        assert!(!text(&added).contains(key));
    }
    let shown = a.cli(&["accounts", "show", "keyed"], None).await;
    assert!(text(&shown).contains("shared-key"), "{}", text(&shown));
    assert!(!text(&shown).contains(well_known::ACCOUNT_KEY));
    let ok = a.cli(&["accounts", "test", "keyed"], None).await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("works"), "{}", text(&ok));
    let failed = a.cli(&["accounts", "test", "wrongkey"], None).await;
    let out = text(&failed);
    assert_eq!(failed.status.code(), Some(1), "{out}");
    assert!(out.contains("AuthenticationFailed"), "{out}");
    assert!(
        !out.contains(wrong) && !out.contains(well_known::ACCOUNT_KEY),
        "{out}"
    );
}
