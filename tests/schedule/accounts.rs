//! Saved accounts end to end: `accounts add|list|show|test|remove` of every credential kind,
//! jobs that name them, and no secret in any output.

use std::path::{Path, PathBuf};
use std::process::Output;

use adls_writeback::runner::history::History;
use adls_writeback_emulator::{Emulator, EmulatorConfig, EntraApp, well_known};

use super::{cli_env, text};

/// An app that gets storage tokens but holds no data role.
const NO_ROLE_CLIENT_ID: &str = "5e5e5e5e-0000-4000-8000-00000000a0a0";
const NO_ROLE_SECRET: &str = "no-role-secret-for-tests";
/// An app with a read-only data role (`Storage Blob Data Reader`).
const READER_CLIENT_ID: &str = "5e5e5e5e-0000-4000-8000-00000000b0b0";
const READER_SECRET: &str = "reader-secret-for-tests";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credential_kind_is_saved_and_tested_without_printing_a_secret() {
    let a = Accounts::start().await;
    let dfs = a.emulator.account_endpoint(well_known::ACCOUNT_NAME);
    let authority = a.emulator.authority_url();
    let token_file = a.dir.path().join("service-account-token");
    let token = crate::credentials::service_account_token(well_known::FEDERATED_SUBJECT, 3600);
    std::fs::write(&token_file, &token).unwrap();
    let pem_file = a.dir.path().join("app.pem");
    std::fs::write(&pem_file, well_known::CLIENT_CERTIFICATE_PEM).unwrap();
    let imds = format!("{authority}/metadata/identity/oauth2/token");
    let app = [
        "--client-id",
        well_known::CLIENT_ID,
        "--tenant-id",
        well_known::TENANT_ID,
        "--authority-host",
        &authority,
    ];
    let (token_path, pem_path) = (token_file.to_str().unwrap(), pem_file.to_str().unwrap());
    let cases: [(&str, Vec<&str>, Option<&str>); 4] = [
        (
            "certificate-file",
            [
                &app[..],
                &["--auth", "client-certificate", "--secret-file", pem_path],
            ]
            .concat(),
            None,
        ),
        (
            "certificate-stdin",
            [
                &app[..],
                &["--auth", "client-certificate", "--secret-stdin"],
            ]
            .concat(),
            Some(well_known::CLIENT_CERTIFICATE_PEM),
        ),
        (
            "workload",
            [
                &app[..],
                &[
                    "--auth",
                    "workload-identity",
                    "--federated-token-file",
                    token_path,
                ],
            ]
            .concat(),
            None,
        ),
        (
            "managed",
            vec!["--auth", "managed-identity", "--identity-endpoint", &imds],
            None,
        ),
    ];
    let key_body = well_known::CLIENT_CERTIFICATE_PEM
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap();
    for (name, kind_args, stdin) in cases {
        let mut args = vec![
            "accounts",
            "add",
            name,
            "--account-name",
            well_known::ACCOUNT_NAME,
            "--container",
            well_known::CONTAINER,
            "--dfs-endpoint",
            &dfs,
        ];
        args.extend(kind_args);
        let added = a.cli(&args, stdin).await;
        assert_eq!(added.status.code(), Some(0), "{name}: {}", text(&added));
        let tested = a.cli(&["accounts", "test", name], None).await;
        let out = text(&tested);
        assert_eq!(tested.status.code(), Some(0), "{name}: {out}");
        assert!(
            out.contains("Entra ID issued a storage token"),
            "{name}: {out}"
        );
        assert!(out.contains("works"), "{name}: {out}");
        let shown = text(&a.cli(&["accounts", "show", name, "--json"], None).await);
        for output in [&out, &shown, &text(&added)] {
            assert!(
                !output.contains(key_body) && !output.contains(&token),
                "{name}: a secret was printed: {output}"
            );
        }
    }
    let shown = text(
        &a.cli(&["accounts", "show", "managed", "--json"], None)
            .await,
    );
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["auth"], "managed-identity");
    assert_eq!(shown["identity_endpoint"], imds.as_str());

    // A job naming a saved workload identity runs with it.
    let data = a.dir.path().join("rows.csv");
    std::fs::write(&data, "id\n1\n").unwrap();
    let job = a.dir.path().join("workload-job.toml");
    let body = format!(
        "account = \"workload\"\n[source]\nkind = \"file\"\npath = {:?}\n[output]\ndirectory = \"saved-kinds\"\n",
        data.display().to_string()
    );
    std::fs::write(&job, body).unwrap();
    let run = a.cli(&["run", job.to_str().unwrap(), "--json"], None).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    // Wrong combinations are refused, naming the flag, and save nothing.
    let refused = [
        (
            vec!["--auth", "managed-identity", "--secret-stdin"],
            "has no secret",
        ),
        (
            [&app[..], &["--auth", "client-certificate"]].concat(),
            "needs its certificate",
        ),
        (
            vec![
                "--auth",
                "sas",
                "--federated-token-file",
                token_path,
                "--secret-stdin",
            ],
            "--federated-token-file is for --auth workload-identity",
        ),
    ];
    for (kind_args, cause) in refused {
        let mut args = vec![
            "accounts",
            "add",
            "refused",
            "--account-name",
            well_known::ACCOUNT_NAME,
            "--container",
            well_known::CONTAINER,
        ];
        args.extend(kind_args);
        let out = a.cli(&args, Some("x\n")).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(cause), "{}", text(&out));
    }
    let listed = text(&a.cli(&["accounts", "list"], None).await);
    assert!(!listed.contains("refused"), "{listed}");
}
