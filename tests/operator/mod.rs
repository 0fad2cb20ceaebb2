//! The operator's conveniences, end to end with the real binary: next run times
//! (`validate --next`), colours and pipes, abandoned runs in the history, completions and
//! man pages, and the Kubernetes example's checks.

mod abandoned;
mod next_runs;
mod packaging;
mod terminal;

use std::path::{Path, PathBuf};

/// The repository's root.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A valid job file in `dir` named `name`, for the built-in emulator, with `schedule` as
/// its `[schedule]` table's body.
fn scheduled_job(dir: &Path, name: &str, schedule: &str) -> PathBuf {
    let examples = repo_root().join("examples");
    let text = format!(
        "name = \"{name}\"\n\n[schedule]\n{schedule}\n\n[account]\n\
         client_id = \"3c6a2f1e-0000-4000-8000-0000000c11e1\"\n\
         tenant_id = \"72f988bf-0000-4000-8000-00000000e1d0\"\n\
         client_secret = {{ file = \"{secrets}/client-secret\" }}\n\
         account_name = \"devstoreaccount1\"\ncontainer = \"writeback\"\n\n\
         [source]\nkind = \"domo\"\ndataset_id = \"845305d8-da3d-4107-a9d6-13ef3f86d4a4\"\n\n\
         [source.domo]\nclient_id = \"d0d0c11e-0000-4000-8000-000000000027\"\n\
         client_secret = {{ file = \"{secrets}/domo-client-secret\" }}\n\n\
         [output]\ndirectory = \"next-runs\"\n\n\
         [emulator]\ndata_dir = \"{data}\"\ndatasets_dir = \"{datasets}\"\n",
        secrets = examples.join("emulator-secrets").display(),
        data = dir.join("emulator-data").display(),
        datasets = examples.join("datasets").display(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}
