//! The emulator started in-process for a job with an `[emulator]` table: it registers the
//! well-known app, the job's account and file systems, and serves the job's datasets
//! folder; the job's endpoints are pointed at it.

use std::path::PathBuf;

use adls_writeback_emulator::{Emulator, EmulatorConfig, StorageAccountConfig};

use crate::job::{Job, Source};

/// Starts the emulator `job` asks for and points `job` at it.
pub async fn start_for(job: &mut Job) -> anyhow::Result<Emulator> {
    let section = job.emulator.clone().unwrap_or_default();
    let data_dir: PathBuf = job
        .base_dir
        .join(section.data_dir.unwrap_or_else(|| ".adls-emulator".into()));
    let mut config = EmulatorConfig::well_known(data_dir);
    config.datasets_dir = section.datasets_dir.map(|d| job.base_dir.join(d));
    let mut file_systems = vec![job.account.container.clone()];
    file_systems.extend(job.output.file_system.clone());
    file_systems.retain(|fs| !fs.is_empty());
    config.accounts.push(StorageAccountConfig {
        name: job.account.account_name.clone(),
        file_systems,
        hierarchical_namespace: true,
    });
    let emulator = Emulator::start(config).await?;

    job.account.dfs_endpoint = emulator.account_endpoint(&job.account.account_name);
    job.account.blob_endpoint = job.account.dfs_endpoint.clone();
    job.account.authority_host = emulator.authority_url();
    if let Source::Domo(domo) = &mut job.source {
        domo.api_host = emulator.domo_url();
        if let Some((instance, _)) = &mut domo.instance {
            *instance = emulator.domo_url();
        }
    }
    Ok(emulator)
}
