//! One run of a job: the capabilities it is granted, the sandboxed call, and the outcome;
//! and around it, the run's attempts, its history and its report.

pub mod attempts;
pub mod clock;
pub mod events;
pub mod history;
pub mod recorded;
pub mod report;
pub mod report_checks;
pub mod verify;
pub mod wording;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::capabilities::Capabilities;
use crate::capabilities::auth::authorizer::AppProof;
use crate::capabilities::auth::{AuthCapability, Authorizer, EntraCredential, StorageCredential};
use crate::capabilities::bindings;
use crate::capabilities::http::{HttpCapability, granted_origins};
use crate::capabilities::log::LogCapability;
use crate::capabilities::source::domo::DomoClient;
use crate::capabilities::source::{SourceCapability, SourceConfig};
use crate::job::{FieldError, Job, Source};
use crate::runner::report::{FailureKind, RunFailure, RunMeta, RunReport};
use crate::sandbox::{RunLimits, Sandbox};

/// Runs jobs in the sandbox; holds what runs share (the compiled component, the HTTP
/// client).
pub struct Runner {
    sandbox: Sandbox,
    client: reqwest::Client,
}

/// Options of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Draw a progress bar on a terminal.
    pub progress: bool,
    /// After a success, read the published file back and compare its digests with the
    /// report's (`run --verify`, `crate::runner::verify`).
    pub verify: bool,
}

impl Runner {
    /// A runner for `sandbox`'s component.
    pub fn new(sandbox: Sandbox) -> anyhow::Result<Runner> {
        Ok(Runner {
            sandbox,
            client: crate::plumbing::client::client_trusting(None)?,
        })
    }

    /// SHA-256 of the component that runs the jobs.
    pub fn component_sha256(&self) -> &str {
        self.sandbox.component_sha256()
    }

    /// Every problem with `job`: the host's (`host_problems`, from resolving the file)
    /// and the guest's validation, ordered as the job file's sections are.
    pub async fn validate(
        &self,
        job: &Job,
        host_problems: Vec<FieldError>,
    ) -> anyhow::Result<Vec<FieldError>> {
        let wit_job = bindings::to_wit_job(job, "validate", now_ms());
        let guest =
            crate::runner::report_checks::cap_problems(self.sandbox.validate(&wit_job).await?);
        let mut all = host_problems;
        for problem in guest {
            // A missing secret or a bad enum value is reported once, by the host.
            if !all.iter().any(|p| p.field == problem.field) {
                all.push(FieldError {
                    field: problem.field,
                    message: problem.message,
                });
            }
        }
        all.sort_by_key(|p| section_rank(&p.field));
        Ok(all)
    }

    /// Runs `job` once under `run_id`.
    pub async fn run(
        &self,
        job: &Job,
        run_id: &str,
        options: RunOptions,
    ) -> anyhow::Result<Result<RunReport, RunFailure>> {
        let started = SystemTime::now();
        let clock = Instant::now();
        let wit_job = bindings::to_wit_job(job, run_id, to_ms(started));
        let (client, credential) = self.credential(job)?;
        let capabilities = self.capabilities(job, options, &client, credential.clone())?;
        let limits = RunLimits {
            memory_bytes: job.limits.memory_bytes,
            timeout: job.limits.timeout,
            fuel: job.limits.fuel,
        };
        let outcome = self.sandbox.run(&wit_job, capabilities, limits).await;
        let elapsed = clock.elapsed();
        let (outcome, guest_time) = match outcome {
            Ok((answer, guest_time)) => (Ok(answer), guest_time),
            Err(trap) => (Err(trap), Duration::ZERO),
        };
        let meta = RunMeta {
            job: &job.name,
            run_id,
            component_sha256: self.sandbox.component_sha256(),
        };
        let checked = match outcome {
            // A report is believed only if it keeps the contract (`crate::runner::report_checks`).
            Ok(Ok(report)) => match crate::runner::report_checks::check_report(job, &report) {
                Ok(()) => {
                    Ok(RunReport::new(meta, job, report, elapsed).with_guest_time(guest_time))
                }
                Err(problems) => Err(RunFailure::new(
                    meta,
                    FailureKind::Contract,
                    format!(
                        "the component returned a report that breaks the contract, so its \
                         outcome is not trusted: {}; check the target, and the component",
                        problems.join("; ")
                    ),
                    elapsed,
                )),
            },
            Ok(Err(error)) => Err(crate::runner::report_checks::tame(
                RunFailure::from_job_error(meta, error, elapsed),
            )),
            Err(trap) => Err(RunFailure::new(
                meta,
                FailureKind::Sandbox,
                format!("{trap:#}"),
                elapsed,
            )),
        };
        Ok(match checked {
            Ok(mut report) if options.verify => {
                let verified =
                    crate::runner::verify::verify(&client, &credential, &job.http.retry, &report)
                        .await;
                let elapsed = clock.elapsed();
                match verified {
                    Ok(()) => {
                        report.verified = true;
                        report.elapsed_ms = elapsed.as_millis() as u64;
                        Ok(report)
                    }
                    Err(message) => {
                        Err(RunFailure::new(meta, FailureKind::Verify, message, elapsed))
                    }
                }
            }
            // `--verify` reads back what a believed report says was published.
            other => other,
        })
    }

    /// The HTTP client of `job`'s run and the authorizer of its storage requests (the run's
    /// and `--verify`'s).
    fn credential(&self, job: &Job) -> anyhow::Result<(reqwest::Client, Arc<Authorizer>)> {
        let client = match (&job.ca_file, &job.http.proxy) {
            (None, None) => self.client.clone(),
            (ca_file, proxy) => {
                crate::plumbing::client::client_with(ca_file.as_deref(), proxy.as_ref())?
            }
        };
        Ok((client.clone(), Arc::new(authorizer(job, &client)?)))
    }

    /// What this job's run is granted: HTTP to its DFS endpoint, storage tokens from its
    /// app, its dataset, and logging.
    fn capabilities(
        &self,
        job: &Job,
        options: RunOptions,
        client: &reqwest::Client,
        authorizer: Arc<Authorizer>,
    ) -> anyhow::Result<Capabilities> {
        let origins = granted_origins(job);
        let source = match &job.source {
            Source::LocalFile { path, dataset_id } => SourceConfig::LocalFile {
                path: path.clone(),
                dataset_id: dataset_id.clone(),
            },
            Source::Domo(d) => {
                let secret = d
                    .client_secret
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("source.domo.client_secret is missing"))?;
                let client = DomoClient::new(
                    client.clone(),
                    &d.api_host,
                    &d.client_id,
                    secret,
                    d.instance.clone(),
                )
                .with_retry(job.http.retry.clone());
                SourceConfig::Domo {
                    client: Arc::new(client),
                    dataset_id: d.dataset_id.clone(),
                }
            }
        };
        let http = HttpCapability::new(
            client.clone(),
            origins,
            job.output.concurrency as usize,
            job.http.retry.clone(),
        )
        .with_request_timeout(job.http.request_timeout)
        .with_authorizer(authorizer.clone());
        Ok(Capabilities {
            http,
            auth: AuthCapability::new(authorizer),
            source: SourceCapability::new(source).with_stall(job.limits.stall),
            log: LogCapability::new(&job.name, options.progress),
        })
    }
}

/// The authorizer of `job`'s storage requests, its Entra ID token requests sent by `client`.
pub fn authorizer(job: &Job, client: &reqwest::Client) -> anyhow::Result<Authorizer> {
    account_authorizer(&job.account, job.limits.timeout, &job.http.retry, client)
}

/// The authorizer of requests to `account` for a run of at most `run` (a SAS must outlive
/// it), Entra ID token requests sent by `client` and retried as `retry` says.
pub fn account_authorizer(
    a: &crate::job::Account,
    run: std::time::Duration,
    retry: &crate::plumbing::retry::RetryConfig,
    client: &reqwest::Client,
) -> anyhow::Result<Authorizer> {
    let credential = a
        .credential
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the [account] credential is missing"))?;
    if let crate::job::credential::Credential::Sas(sas) = credential {
        sas.check_expiry(SystemTime::now(), run)
            .map_err(|e| anyhow::anyhow!("account.sas_token: {e}"))?;
    }
    let storage = StorageCredential::of(credential, &a.account_name, client, |proof| {
        let (authority, tenant, app) = (&a.authority_host, &a.tenant_id, &a.client_id);
        match proof {
            AppProof::Secret(secret) => {
                EntraCredential::new(client.clone(), authority, tenant, app, secret.clone())
            }
            AppProof::FederatedTokenFile(file) => {
                EntraCredential::federated(client.clone(), authority, tenant, app, file.into())
            }
            AppProof::Certificate(certificate) => EntraCredential::certificate(
                client.clone(),
                authority,
                tenant,
                app,
                certificate.clone(),
            ),
        }
        .with_retry(retry.clone())
    });
    Ok(Authorizer::new(storage))
}

/// A new run ID: the start time and a random suffix, e.g. `20261128T224100Z-1a2b3c4d`.
pub fn new_run_id() -> String {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let compact: String = stamp
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{compact}-{}", &random[..8])
}

fn now_ms() -> u64 {
    to_ms(SystemTime::now())
}

fn to_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn section_rank(field: &str) -> usize {
    [
        "name", "owner", "account.", "source.", "output.", "limits.", "http.", "run_id",
    ]
    .iter()
    .position(|prefix| field.starts_with(prefix))
    .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_safe_for_temporary_names() {
        let id = new_run_id();
        assert_eq!(id.len(), "20261128T224100Z-1a2b3c4d".len(), "{id}");
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{id}"
        );
        assert_ne!(id, new_run_id());
    }

    #[test]
    fn problems_sort_by_section() {
        let mut fields = ["output.update", "account.tenant_id", "source.path", "owner"];
        fields.sort_by_key(|f| section_rank(f));
        assert_eq!(
            fields,
            ["owner", "account.tenant_id", "source.path", "output.update"]
        );
    }
}
