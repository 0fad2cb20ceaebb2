//! adls-writeback: exports a dataset (a Domo DataSet or a local CSV file) as CSV into an
//! Azure Data Lake Storage Gen2 file system, through a sandboxed WebAssembly component.
//!
//! The transfer logic is the guest component (`guest/`); this crate is the host: it
//! loads job files, holds the secrets, compiles and sandboxes the component, and provides
//! its capabilities (HTTP, tokens, the dataset, logging).

pub mod accounts;
pub mod audit;
pub mod backoff;
pub mod bindings;
pub mod capabilities;
pub mod commands;
pub mod contract;
pub mod domo;
pub mod embedded;
pub mod history;
pub mod job;
pub mod logging;
pub mod report;
pub mod retry;
pub mod runner;
pub mod sandbox;
pub mod schedule;
pub mod scheduler;
pub mod secret;
pub mod token;
pub mod verify;
