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
use crate::model::{
    AccessControl, EndpointChoice, Job, JobError, Level, UpdateMode, ValidationError,
};
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

/// What `job` asks that a run through the Blob endpoint (a flat namespace) cannot do, by
/// field: an append of parts (it needs renames) and POSIX access control.
pub(super) fn blob_problems(job: &Job) -> Vec<ValidationError> {
    let output = &job.output;
    let mut problems = Vec::new();
    if output.multi_file() && output.update == UpdateMode::Append {
        problems.push(ValidationError {
            field: "output.update".into(),
            message: "an append to a split output adds parts by renames, which a flat \
                      namespace (the Blob endpoint) does not have: use update = \"replace\" \
                      with a templated directory (`{date}`, `{run_id}`) to keep every run's \
                      parts, or an account with a hierarchical namespace"
                .into(),
        });
    }
    if output.access != AccessControl::default() {
        let access = &output.access;
        let set = [
            ("output.permissions", access.permissions.is_some()),
            ("output.umask", access.umask.is_some()),
            ("output.acl", access.acl.is_some()),
        ];
        problems.extend(
            set.into_iter()
                .filter(|(_, given)| *given)
                .map(|(field, _)| ValidationError {
                    field: field.into(),
                    message: "POSIX permissions and ACLs belong to a hierarchical namespace; this \
                          run writes through the Blob endpoint, where blobs have none: leave \
                          it out, or write to an account with a hierarchical namespace"
                        .into(),
                }),
        );
    }
    problems
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
