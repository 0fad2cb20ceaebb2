//! Rust bindings of the WIT contract (`wit/writeback.wit`) and the conversion of a
//! loaded job into the contract's `job` record.

use crate::job::output::{Format, ParquetCompression};
use crate::job::{Job, Naming, Source, UpdateMode};

/// The code `bindgen!` generates from the WIT; the contract's own documentation
/// (`wit/writeback.wit`) is the reference for its items.
#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        world: "writeback",
        path: "../wit",
        // The resources' functions may trap (an unknown handle, a body past the memory limit).
        imports: {
            "adls:writeback/digest": async | trappable,
            "adls:writeback/http.[constructor]body": async | trappable,
            "adls:writeback/http.[method]body.length": async | trappable,
            "adls:writeback/http.[constructor]pipeline": async | trappable,
            "adls:writeback/http.[method]pipeline.submit": async | trappable,
            "adls:writeback/http.[method]pipeline.next": async | trappable,
            "adls:writeback/source.[method]reader.read-kept": async | trappable,
            "adls:writeback/source.[method]reader.take": async | trappable,
            default: async,
        },
        exports: { default: async },
        with: {
            "adls:writeback/source.reader": crate::capabilities::source::DatasetReader,
            "adls:writeback/http.body": crate::capabilities::http::body::HeldBody,
            "adls:writeback/http.pipeline": crate::capabilities::http::pipeline::Pipeline,
            "adls:writeback/digest.hasher": crate::capabilities::digest::Hasher,
        },
    });
}

pub use generated::*;

pub use generated::adls::writeback::{auth, digest, errors, http, log, source, types};

/// The contract's view of `job` for the run `run_id` started at `started_at_ms`. It carries
/// no secret: the contract has no field for one.
pub fn to_wit_job(job: &Job, run_id: &str, started_at_ms: u64) -> types::Job {
    let a = &job.account;
    types::Job {
        name: job.name.clone(),
        account: types::Account {
            credential: credential_kind(job),
            identity: identity(job),
            account_name: a.account_name.clone(),
            container: a.container.clone(),
            dfs_endpoint: a.dfs_endpoint.clone(),
            blob_endpoint: a.blob_endpoint.clone(),
            endpoint: match a.endpoint {
                crate::job::Endpoint::Auto => types::EndpointChoice::Auto,
                crate::job::Endpoint::Dfs => types::EndpointChoice::Dfs,
                crate::job::Endpoint::Blob => types::EndpointChoice::Blob,
            },
        },
        dataset: dataset_ref(job),
        output: types::Output {
            file_system: job.output.file_system.clone(),
            directory: job.output.directory.clone(),
            naming: match &job.output.naming {
                Naming::DatasetId => types::FileNaming::DatasetId,
                Naming::FileName(name) => types::FileNaming::FileName(name.clone()),
            },
            update: match job.output.update {
                UpdateMode::Replace => types::UpdateMode::Replace,
                UpdateMode::Append => types::UpdateMode::Append,
            },
            block_size: job.output.block_size,
            concurrency: job.output.concurrency,
            allow_empty: job.output.allow_empty,
            strict: job.output.strict,
            format: match job.output.files.format {
                Format::Csv => types::OutputFormat::Csv,
                Format::CsvGz => types::OutputFormat::CsvGz,
                Format::Parquet => types::OutputFormat::Parquet,
            },
            parquet: types::ParquetOptions {
                row_group_rows: job.output.files.parquet_row_group_rows,
                compression: match job.output.files.parquet_compression {
                    ParquetCompression::Uncompressed => types::ParquetCompression::Uncompressed,
                    ParquetCompression::Snappy => types::ParquetCompression::Snappy,
                    ParquetCompression::Zstd => types::ParquetCompression::Zstd,
                },
            },
            dialect: types::CsvDialect {
                delimiter: job.output.files.delimiter,
                header: job.output.files.header,
                quote_all: job.output.files.quote_all,
                bom: job.output.files.bom,
            },
            split: types::SplitLimits {
                max_rows: job.output.files.max_rows_per_file,
                max_bytes: job.output.files.max_bytes_per_file,
            },
            manifest: job.output.files.manifest,
            success_marker: job.output.files.success_marker,
            utc_offset_minutes: job.output.files.utc_offset_minutes(started_at_ms),
            access: types::AccessControl {
                permissions: job.output.files.permissions.clone(),
                umask: job.output.files.umask.clone(),
                acl: job.output.files.acl.clone(),
            },
        },
        owner: job.owner.clone(),
        run_id: run_id.to_string(),
        started_at_ms,
    }
}

/// The kind of `job`'s storage credential, as the contract names it.
pub fn credential_kind(job: &Job) -> types::CredentialKind {
    use crate::job::credential::AuthKind;
    match job.account.credential.as_ref().map(|c| c.kind()) {
        Some(AuthKind::ClientCertificate) => types::CredentialKind::ClientCertificate,
        Some(AuthKind::SharedKey) => types::CredentialKind::SharedKey,
        Some(AuthKind::Sas) => types::CredentialKind::Sas,
        Some(AuthKind::WorkloadIdentity) => types::CredentialKind::WorkloadIdentity,
        Some(AuthKind::ManagedIdentity) => types::CredentialKind::ManagedIdentity,
        Some(AuthKind::ClientSecret) | None => types::CredentialKind::ClientSecret,
    }
}

/// Who `job`'s storage requests act as, for the guest's messages (never a secret).
pub fn identity(job: &Job) -> String {
    use crate::job::credential::AuthKind;
    let a = &job.account;
    match a.credential.as_ref().map(|c| c.kind()) {
        Some(AuthKind::SharedKey) => format!("the account key of `{}`", a.account_name),
        Some(AuthKind::Sas) => format!("the SAS for `{}`", a.account_name),
        Some(AuthKind::ManagedIdentity) if a.client_id.is_empty() => {
            "the system-assigned managed identity".to_string()
        }
        Some(AuthKind::ManagedIdentity) => format!("the managed identity {}", a.client_id),
        Some(AuthKind::WorkloadIdentity | AuthKind::ClientSecret | AuthKind::ClientCertificate)
        | None => {
            format!("the app {} in tenant {}", a.client_id, a.tenant_id)
        }
    }
}

/// The dataset the job names, as the contract addresses it.
pub fn dataset_ref(job: &Job) -> types::DatasetRef {
    let kind = match job.source {
        Source::LocalFile { .. } => types::SourceKind::LocalFile,
        Source::Domo(_) => types::SourceKind::Domo,
    };
    types::DatasetRef {
        kind,
        id: job.dataset_id().to_string(),
    }
}
