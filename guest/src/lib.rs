//! The adls-writeback guest: the transfer logic of an ADLS Gen2 writeback as a WebAssembly
//! component (world `writeback` of `wit/writeback.wit`).
//!
//! Everything but this file is plain Rust without I/O, tested on the native target:
//! [`validate`] checks a job, [`ownership`] applies the ownership rule, [`naming`] names the
//! target, [`chunk`] cuts the CSV stream at record boundaries, [`dfs`] builds and interprets
//! DFS requests, and [`upload`] drives a run over a [`upload::Host`]. The glue below (built
//! for `wasm32` only) implements that trait with the imported interfaces and converts
//! between the generated WIT types and [`model`].

#![warn(missing_docs)]

pub mod blob;
pub mod chunk;
pub mod dfs;
pub mod format;
pub mod model;
pub mod naming;
pub mod ownership;
pub mod upload;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mod glue {
    wit_bindgen::generate!({
        world: "writeback",
        path: "../wit",
    });

    use std::rc::Rc;

    use adls::writeback::{auth, digest, errors, http, log, source, types};
    use exports::adls::writeback::job as wit_job;

    use crate::model as m;
    use crate::upload::{self, Body, Host, Source};

    struct Component;

    impl wit_job::Guest for Component {
        fn validate(job: types::Job) -> Vec<types::ValidationError> {
            crate::validate::validate(&job_in(job))
                .into_iter()
                .map(validation_error_out)
                .collect()
        }

        fn run(job: types::Job) -> Result<types::Report, wit_job::JobError> {
            upload::run(&mut WitHost, &job_in(job))
                .map(report_out)
                .map_err(job_error_out)
        }
    }

    export!(Component);

    /// The imported interfaces as a [`Host`].
    struct WitHost;

    struct WitSource(source::Reader);

    /// A body the host holds, with its length (asked once).
    #[derive(Clone)]
    struct WitBody(Rc<(http::Body, u64)>);

    impl Body for WitBody {
        fn len(&self) -> u64 {
            self.0.1
        }
    }

    fn algorithm_out(a: m::Algorithm) -> digest::Algorithm {
        match a {
            m::Algorithm::Md5 => digest::Algorithm::Md5,
            m::Algorithm::Sha256 => digest::Algorithm::Sha256,
            m::Algorithm::Crc64 => digest::Algorithm::Crc64,
        }
    }

    impl Source<WitBody> for WitSource {
        fn read(&mut self, max_bytes: u32) -> Result<Vec<u8>, m::SourceError> {
            self.0.read(max_bytes).map_err(source_error_in)
        }

        fn read_kept(&mut self, max_bytes: u32) -> Result<Vec<u8>, m::SourceError> {
            self.0.read_kept(max_bytes).map_err(source_error_in)
        }

        fn take(&mut self, len: u64) -> WitBody {
            WitBody(Rc::new((self.0.take(len), len)))
        }
    }

    impl Host for WitHost {
        type Body = WitBody;
        type Hasher = digest::Hasher;
        type Pipeline = http::Pipeline;

        fn describe(&mut self, dataset: &m::DatasetRef) -> Result<m::DatasetInfo, m::SourceError> {
            source::describe(&dataset_out(dataset))
                .map(dataset_info_in)
                .map_err(source_error_in)
        }

        fn open(
            &mut self,
            dataset: &m::DatasetRef,
        ) -> Result<Box<dyn Source<WitBody>>, m::SourceError> {
            source::open(&dataset_out(dataset))
                .map(|r| Box::new(WitSource(r)) as Box<dyn Source<WitBody>>)
                .map_err(source_error_in)
        }

        fn ready(&mut self) -> Result<m::Generation, m::AuthError> {
            auth::ready().map_err(auth_error_in)
        }

        fn refresh(&mut self, refused: m::Generation) -> Result<m::Generation, m::AuthError> {
            auth::refresh(refused).map_err(auth_error_in)
        }

        fn send(&mut self, request: m::Request) -> Result<m::Response, m::HttpError> {
            http::send(&request_out(request))
                .map(response_in)
                .map_err(http_error_in)
        }

        fn body(&mut self, data: Vec<u8>) -> WitBody {
            let len = data.len() as u64;
            // The bytes are copied into the host once; the guest's copy is freed on return.
            WitBody(Rc::new((http::Body::new(&data), len)))
        }

        fn digest(&mut self, algorithm: m::Algorithm, body: &WitBody) -> Vec<u8> {
            digest::of_body(algorithm_out(algorithm), &body.0.0)
        }

        fn hasher(&mut self, algorithm: m::Algorithm) -> digest::Hasher {
            digest::Hasher::new(algorithm_out(algorithm))
        }

        fn hash(&mut self, hasher: &digest::Hasher, body: &WitBody) {
            hasher.update(&body.0.0);
        }

        fn hash_value(&mut self, hasher: &digest::Hasher) -> Vec<u8> {
            hasher.finish()
        }

        fn pipeline(&mut self, max_in_flight: u32) -> http::Pipeline {
            http::Pipeline::new(max_in_flight)
        }

        fn submit(&mut self, pipeline: &http::Pipeline, head: &m::Request, body: &WitBody) -> u64 {
            let head = http::RequestHead {
                method: method_out(head.method),
                url: head.url.clone(),
                headers: headers_out(&head.headers),
            };
            pipeline.submit(&head, &body.0.0)
        }

        fn next(
            &mut self,
            pipeline: &http::Pipeline,
        ) -> Option<(u64, Result<m::Response, m::HttpError>)> {
            pipeline
                .next()
                .map(|c| (c.ticket, c.outcome.map(response_in).map_err(http_error_in)))
        }

        fn log(&mut self, level: m::Level, message: &str) {
            let level = match level {
                m::Level::Trace => log::Level::Trace,
                m::Level::Debug => log::Level::Debug,
                m::Level::Info => log::Level::Info,
                m::Level::Warn => log::Level::Warn,
                m::Level::Error => log::Level::Error,
            };
            log::log(level, message);
        }

        fn progress(&mut self, rows: u64, bytes: u64) {
            log::progress(rows, bytes);
        }
    }

    fn auth_error_in(e: errors::AuthError) -> m::AuthError {
        match e {
            errors::AuthError::NotGranted(s) => m::AuthError::NotGranted(s),
            errors::AuthError::Rejected(s) => m::AuthError::Rejected(s),
            errors::AuthError::Unavailable(s) => m::AuthError::Unavailable(s),
        }
    }

    fn job_in(job: types::Job) -> m::Job {
        let types::Job {
            name,
            account,
            dataset,
            output,
            owner,
            run_id,
            started_at_ms,
        } = job;
        m::Job {
            name,
            account: m::Account {
                credential: match account.credential {
                    types::CredentialKind::ClientSecret => m::CredentialKind::ClientSecret,
                    types::CredentialKind::ClientCertificate => {
                        m::CredentialKind::ClientCertificate
                    }
                    types::CredentialKind::WorkloadIdentity => m::CredentialKind::WorkloadIdentity,
                    types::CredentialKind::ManagedIdentity => m::CredentialKind::ManagedIdentity,
                    types::CredentialKind::SharedKey => m::CredentialKind::SharedKey,
                    types::CredentialKind::Sas => m::CredentialKind::Sas,
                },
                identity: account.identity,
                account_name: account.account_name,
                container: account.container,
                dfs_endpoint: account.dfs_endpoint,
                blob_endpoint: account.blob_endpoint,
                endpoint: match account.endpoint {
                    types::EndpointChoice::Auto => m::EndpointChoice::Auto,
                    types::EndpointChoice::Dfs => m::EndpointChoice::Dfs,
                    types::EndpointChoice::Blob => m::EndpointChoice::Blob,
                },
            },
            dataset: m::DatasetRef {
                kind: match dataset.kind {
                    types::SourceKind::Domo => m::SourceKind::Domo,
                    types::SourceKind::LocalFile => m::SourceKind::LocalFile,
                },
                id: dataset.id,
            },
            output: m::Output {
                file_system: output.file_system,
                directory: output.directory,
                naming: match output.naming {
                    types::FileNaming::DatasetId => m::FileNaming::DatasetId,
                    types::FileNaming::FileName(n) => m::FileNaming::FileName(n),
                },
                update: update_in(output.update),
                block_size: output.block_size,
                concurrency: output.concurrency,
                allow_empty: output.allow_empty,
                strict: output.strict,
                format: match output.format {
                    types::OutputFormat::Csv => m::OutputFormat::Csv,
                    types::OutputFormat::CsvGz => m::OutputFormat::CsvGz,
                    types::OutputFormat::Parquet => m::OutputFormat::Parquet,
                },
                parquet: m::ParquetOptions {
                    row_group_rows: output.parquet.row_group_rows,
                    compression: match output.parquet.compression {
                        types::ParquetCompression::Uncompressed => {
                            m::ParquetCompression::Uncompressed
                        }
                        types::ParquetCompression::Snappy => m::ParquetCompression::Snappy,
                        types::ParquetCompression::Zstd => m::ParquetCompression::Zstd,
                    },
                },
                dialect: m::CsvDialect {
                    delimiter: output.dialect.delimiter,
                    header: output.dialect.header,
                    quote_all: output.dialect.quote_all,
                    bom: output.dialect.bom,
                },
                split: m::SplitLimits {
                    max_rows: output.split.max_rows,
                    max_bytes: output.split.max_bytes,
                },
                manifest: output.manifest,
                success_marker: output.success_marker,
                utc_offset_minutes: output.utc_offset_minutes,
                access: m::AccessControl {
                    permissions: output.access.permissions,
                    umask: output.access.umask,
                    acl: output.access.acl,
                },
            },
            owner,
            run_id,
            started_at_ms,
        }
    }

    fn update_in(u: types::UpdateMode) -> m::UpdateMode {
        match u {
            types::UpdateMode::Replace => m::UpdateMode::Replace,
            types::UpdateMode::Append => m::UpdateMode::Append,
        }
    }

    fn update_out(u: m::UpdateMode) -> types::UpdateMode {
        match u {
            m::UpdateMode::Replace => types::UpdateMode::Replace,
            m::UpdateMode::Append => types::UpdateMode::Append,
        }
    }

    fn dataset_out(d: &m::DatasetRef) -> types::DatasetRef {
        types::DatasetRef {
            kind: match d.kind {
                m::SourceKind::Domo => types::SourceKind::Domo,
                m::SourceKind::LocalFile => types::SourceKind::LocalFile,
            },
            id: d.id.clone(),
        }
    }

    fn principal_in(p: types::Principal) -> m::Principal {
        m::Principal {
            id: p.id,
            name: p.name,
        }
    }

    fn principal_out(p: m::Principal) -> types::Principal {
        types::Principal {
            id: p.id,
            name: p.name,
        }
    }

    fn dataset_info_in(i: source::DatasetInfo) -> m::DatasetInfo {
        m::DatasetInfo {
            id: i.id,
            name: i.name,
            owner: i.owner.map(principal_in),
            co_owners: i.co_owners.into_iter().map(principal_in).collect(),
            requester: i.requester.map(principal_in),
            columns: i
                .columns
                .into_iter()
                .map(|c| m::Column {
                    name: c.name,
                    kind: c.kind,
                })
                .collect(),
            rows: i.rows,
        }
    }

    fn source_error_in(e: errors::SourceError) -> m::SourceError {
        match e {
            errors::SourceError::NotFound(s) => m::SourceError::NotFound(s),
            errors::SourceError::Denied(s) => m::SourceError::Denied(s),
            errors::SourceError::NotGranted(s) => m::SourceError::NotGranted(s),
            errors::SourceError::Unavailable(s) => m::SourceError::Unavailable(s),
        }
    }

    fn source_error_out(e: m::SourceError) -> errors::SourceError {
        match e {
            m::SourceError::NotFound(s) => errors::SourceError::NotFound(s),
            m::SourceError::Denied(s) => errors::SourceError::Denied(s),
            m::SourceError::NotGranted(s) => errors::SourceError::NotGranted(s),
            m::SourceError::Unavailable(s) => errors::SourceError::Unavailable(s),
        }
    }

    fn http_error_in(e: errors::HttpError) -> m::HttpError {
        match e {
            errors::HttpError::Denied(s) => m::HttpError::Denied(s),
            errors::HttpError::InvalidRequest(s) => m::HttpError::InvalidRequest(s),
            errors::HttpError::Timeout(s) => m::HttpError::Timeout(s),
            errors::HttpError::Connection(s) => m::HttpError::Connection(s),
            errors::HttpError::Credential(e) => m::HttpError::Credential(auth_error_in(e)),
        }
    }

    fn http_error_out(e: m::HttpError) -> errors::HttpError {
        match e {
            m::HttpError::Denied(s) => errors::HttpError::Denied(s),
            m::HttpError::InvalidRequest(s) => errors::HttpError::InvalidRequest(s),
            m::HttpError::Timeout(s) => errors::HttpError::Timeout(s),
            m::HttpError::Connection(s) => errors::HttpError::Connection(s),
            m::HttpError::Credential(e) => errors::HttpError::Credential(auth_error_out(e)),
        }
    }

    fn request_out(r: m::Request) -> http::Request {
        http::Request {
            method: method_out(r.method),
            headers: headers_out(&r.headers),
            url: r.url,
            body: r.body,
        }
    }

    fn method_out(method: m::Method) -> http::Method {
        match method {
            m::Method::Get => http::Method::Get,
            m::Method::Head => http::Method::Head,
            m::Method::Put => http::Method::Put,
            m::Method::Post => http::Method::Post,
            m::Method::Patch => http::Method::Patch,
            m::Method::Delete => http::Method::Delete,
        }
    }

    fn headers_out(headers: &[(String, String)]) -> Vec<http::Header> {
        headers
            .iter()
            .map(|(name, value)| http::Header {
                name: name.clone(),
                value: value.clone(),
            })
            .collect()
    }

    fn response_in(r: http::Response) -> m::Response {
        m::Response {
            status: r.status,
            headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: r.body,
        }
    }

    fn validation_error_out(e: m::ValidationError) -> types::ValidationError {
        types::ValidationError {
            field: e.field,
            message: e.message,
        }
    }

    fn report_out(r: m::Report) -> types::Report {
        types::Report {
            file_system: r.file_system,
            path: r.path,
            url: r.url,
            update: update_out(r.update),
            rows: r.rows,
            bytes: r.bytes,
            file_size: r.file_size,
            md5: r.md5,
            sha256: r.sha256,
            blocks: r.blocks,
            endpoint: match r.endpoint {
                m::EndpointChoice::Auto => types::EndpointChoice::Auto,
                m::EndpointChoice::Dfs => types::EndpointChoice::Dfs,
                m::EndpointChoice::Blob => types::EndpointChoice::Blob,
            },
            ownership: match r.ownership {
                m::Ownership::Owner(p) => types::Ownership::Owner(principal_out(p)),
                m::Ownership::CoOwner(p) => types::Ownership::CoOwner(principal_out(p)),
                m::Ownership::NotApplicable(s) => types::Ownership::NotApplicable(s),
            },
            dataset_name: r.dataset_name,
            files: r
                .files
                .into_iter()
                .map(|f| types::WrittenFile {
                    path: f.path,
                    rows: f.rows,
                    bytes: f.bytes,
                    md5: f.md5,
                    sha256: f.sha256,
                })
                .collect(),
        }
    }

    fn job_error_out(e: m::JobError) -> wit_job::JobError {
        match e {
            m::JobError::Invalid(list) => {
                wit_job::JobError::Invalid(list.into_iter().map(validation_error_out).collect())
            }
            m::JobError::Ownership(s) => wit_job::JobError::Ownership(s),
            m::JobError::Source(e) => wit_job::JobError::Source(source_error_out(e)),
            m::JobError::Auth(e) => wit_job::JobError::Auth(auth_error_out(e)),
            m::JobError::Http(e) => wit_job::JobError::Http(http_error_out(e)),
            m::JobError::Storage(e) => wit_job::JobError::Storage(wit_job::StorageError {
                operation: e.operation,
                status: e.status,
                code: e.code,
                message: e.message,
            }),
            m::JobError::Data(e) => wit_job::JobError::Data(wit_job::DataError {
                line: e.line,
                byte_offset: e.byte_offset,
                message: e.message,
            }),
        }
    }

    fn auth_error_out(e: m::AuthError) -> errors::AuthError {
        match e {
            m::AuthError::NotGranted(s) => errors::AuthError::NotGranted(s),
            m::AuthError::Rejected(s) => errors::AuthError::Rejected(s),
            m::AuthError::Unavailable(s) => errors::AuthError::Unavailable(s),
        }
    }
}
