//! The operator's conveniences, end to end with the real binary: next run times
//! (`validate --next`), colours and pipes, abandoned runs in the history, completions and
//! man pages, and the Kubernetes example's checks.

mod abandoned;
mod next_runs;
mod packaging;
mod terminal;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::support::{AccountTable, DomoTable, SecretFile, SourceTable};

/// The repository's root.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The job file [`scheduled_job`] writes: the built-in emulator's sample DataSet.
#[derive(Serialize)]
struct ScheduledJob {
    name: String,
    schedule: toml::Table,
    account: AccountTable,
    source: SourceTable,
    output: toml::Table,
    emulator: EmulatorTable,
}

/// `[emulator]`: the in-process emulator's folders.
#[derive(Serialize)]
struct EmulatorTable {
    data_dir: String,
    datasets_dir: String,
}

/// A valid job file in `dir` named `name`, for the built-in emulator, with `schedule` as
/// its `[schedule]` table's body.
fn scheduled_job(dir: &Path, name: &str, schedule: &str) -> PathBuf {
    let examples = repo_root().join("examples");
    let secret = |file: &str| {
        SecretFile::named(
            &examples
                .join("emulator-secrets")
                .join(file)
                .display()
                .to_string(),
        )
    };
    let mut output = toml::Table::new();
    output.insert("directory".into(), "next-runs".into());
    let job = ScheduledJob {
        name: name.into(),
        schedule: schedule.parse().unwrap(),
        account: AccountTable {
            client_id: "3c6a2f1e-0000-4000-8000-0000000c11e1".into(),
            tenant_id: "72f988bf-0000-4000-8000-00000000e1d0".into(),
            client_secret: secret("client-secret"),
            account_name: "devstoreaccount1".into(),
            container: "writeback".into(),
            dfs_endpoint: None,
            authority_host: None,
        },
        source: SourceTable {
            kind: "domo",
            dataset_id: Some("845305d8-da3d-4107-a9d6-13ef3f86d4a4".into()),
            path: None,
            domo: Some(DomoTable {
                client_id: "d0d0c11e-0000-4000-8000-000000000027".into(),
                client_secret: secret("domo-client-secret"),
                api_host: None,
                instance: None,
                developer_token: None,
            }),
        },
        output,
        emulator: EmulatorTable {
            data_dir: dir.join("emulator-data").display().to_string(),
            datasets_dir: examples.join("datasets").display().to_string(),
        },
    };
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml::to_string(&job).unwrap()).unwrap();
    path
}
