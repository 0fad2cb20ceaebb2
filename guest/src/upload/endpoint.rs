//! `account.endpoint = "auto"`: finding out once per run whether the account has a
//! hierarchical namespace, and so which endpoint to write through.
//!
//! The Blob service's account information says it (`x-ms-is-hns-enabled`). When it cannot
//! be had (a SAS scoped to the container may not read account information), the DFS
//! endpoint's file system properties say it too (`x-ms-namespace-enabled`). When neither
//! answers, the run writes through DFS, as it did before Blob writes existed, and says so.

use super::Host;
use crate::blob::{self, Blob};
use crate::dfs::Dfs;
use crate::model::{EndpointChoice, Job, JobError, Level};
use crate::naming;

/// The endpoint this run writes through: the job's choice, or for `auto` what the account
/// says of its namespace.
pub(super) fn choose<H: Host>(host: &mut H, job: &Job) -> Result<EndpointChoice, JobError> {
    let choice = match job.account.endpoint {
        EndpointChoice::Auto => detect(host, job)?,
        fixed => fixed,
    };
    let name = match choice {
        EndpointChoice::Blob => "Blob",
        _ => "DFS",
    };
    host.log(Level::Info, &format!("writing through the {name} endpoint"));
    Ok(choice)
}

fn detect<H: Host>(host: &mut H, job: &Job) -> Result<EndpointChoice, JobError> {
    host.ready()?;
    let mut blob = Blob::new(&job.account.blob_endpoint, "", &job.run_id);
    // An endpoint that cannot be reached only means that it cannot tell.
    let from_blob = host
        .send(blob.account_information())
        .ok()
        .and_then(|response| {
            blob::hierarchical(&response).or_else(|| {
                // An answer without the header comes from a service that predates
                // hierarchical namespaces (Azurite): a flat account.
                (200..300).contains(&response.status).then_some(false)
            })
        });
    let hns = from_blob.or_else(|| {
        let mut dfs = Dfs::new(
            &job.account.dfs_endpoint,
            naming::file_system(job),
            &job.account,
            &job.run_id,
        );
        host.send(dfs.get_filesystem_properties())
            .ok()
            .filter(|r| (200..300).contains(&r.status))
            .and_then(|r| {
                r.header("x-ms-namespace-enabled")
                    .map(|v| v.trim().eq_ignore_ascii_case("true"))
            })
    });
    Ok(match hns {
        Some(true) => {
            host.log(
                Level::Info,
                "account.endpoint = auto: the account has a hierarchical namespace",
            );
            EndpointChoice::Dfs
        }
        Some(false) => {
            host.log(
                Level::Info,
                "account.endpoint = auto: the account has a flat namespace",
            );
            EndpointChoice::Blob
        }
        None => {
            host.log(
                Level::Warn,
                "account.endpoint = auto: neither the Blob service's account information nor \
                 the DFS file system's properties said whether the account has a hierarchical \
                 namespace; writing through DFS (set account.endpoint to choose)",
            );
            EndpointChoice::Dfs
        }
    })
}
