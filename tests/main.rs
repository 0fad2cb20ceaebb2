//! The host's end-to-end suites, in one test binary (one link of wasmtime and the emulator):
//! the real `adls-writeback` binary against the emulator on loopback, hostile guests, request
//! retry, reliability under faults, bad input, scheduling and the operator's conveniences,
//! the emulator's conformance with Microsoft's SDK, and the Node.js embedding. The harness
//! and the one CLI launcher are in `support`.

mod support;

mod append_parts;
mod azurite;
mod azurite_oauth;
mod bad_input;
mod blob_differential;
mod blob_endpoint;
mod blob_export;
mod blob_formats;
mod blob_readers;
mod client_certificate;
mod conformance;
mod credentials;
mod e2e;
mod embed_node;
mod formats;
mod hostile;
mod http_retry;
mod parquet;
mod proxy;
mod reliability;
mod reliability_blob;
mod schedule;
