//! adls-writeback: exports a dataset (a Domo DataSet or a local CSV file) as CSV into an
//! Azure Data Lake Storage Gen2 file system, through a sandboxed WebAssembly component.
//!
//! The transfer logic is the guest component (`guest/`); this crate is the host: it
//! loads job files, holds the secrets, compiles and sandboxes the component, and provides
//! its capabilities (HTTP, tokens, the dataset, logging).
//!
//! The modules are layers, each importing only those below it (`docs/architecture.md`):
//! [`commands`] → [`runner`] → [`sandbox`] → [`capabilities`] → [`job`] → [`plumbing`].
//! The `layers` test fails on an import against that order or a cycle between them.

#![warn(missing_docs)]

pub mod capabilities;
pub mod commands;
pub mod job;
pub mod plumbing;
pub mod runner;
pub mod sandbox;

#[cfg(test)]
mod layers;
