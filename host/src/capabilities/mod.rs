//! The host's capabilities, one module each, in the manner of Spin's factors: each owns
//! its configuration, its policy (what it grants this run), its per-run state and its
//! implementation of one WIT interface. [`RunState`] holds one field per capability and
//! nothing reaches across.

pub mod auth;
pub mod http;
pub mod log;
pub mod source;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings;
use crate::sandbox::limits::{Limiter, StderrTail};

/// What one run is granted.
pub struct Capabilities {
    /// Outbound HTTP to the job's origins.
    pub http: http::HttpCapability,
    /// Tokens for the job's scopes.
    pub auth: auth::AuthCapability,
    /// The job's dataset.
    pub source: source::SourceCapability,
    /// Log lines and progress.
    pub log: log::LogCapability,
}

impl Capabilities {
    /// Grants nothing: for `validate`, which needs no imports.
    pub fn none() -> Self {
        Capabilities {
            http: http::HttpCapability::none(),
            auth: auth::AuthCapability::none(),
            source: source::SourceCapability::none(),
            log: log::LogCapability::new("validate", false),
        }
    }
}

/// The data of one run's store.
pub struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    stderr: StderrTail,
    http: http::HttpCapability,
    auth: auth::AuthCapability,
    source: source::SourceCapability,
    log: log::LogCapability,
}

impl RunState {
    /// A store's state for one run, with a memory cap of `memory_bytes`.
    pub fn new(capabilities: Capabilities, memory_bytes: usize) -> Self {
        // WASI that grants nothing: no preopened directories, no environment, no
        // arguments, no sockets; stdin is empty, stdout goes nowhere, and only the last
        // few KiB of stderr are kept, to explain a panic.
        let stderr = StderrTail::default();
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stderr(stderr.clone())
            .build();
        let Capabilities {
            http,
            auth,
            source,
            log,
        } = capabilities;
        RunState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(memory_bytes),
            stderr,
            http,
            auth,
            source,
            log,
        }
    }

    /// The store's resource limiter (memory and table caps).
    pub fn limiter_mut(&mut self) -> &mut Limiter {
        &mut self.limiter
    }

    /// The store's resource limiter, to ask what it refused.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// The tail of the guest's stderr.
    pub fn stderr(&self) -> &StderrTail {
        &self.stderr
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Links each capability's WIT interface to its own field of [`RunState`].
pub fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    bindings::types::add_to_linker::<_, HasSelf<RunState>>(linker, |s| s)?;
    bindings::errors::add_to_linker::<_, HasSelf<RunState>>(linker, |s| s)?;
    bindings::http::add_to_linker::<_, HasSelf<http::HttpCapability>>(linker, |s| &mut s.http)?;
    bindings::auth::add_to_linker::<_, HasSelf<auth::AuthCapability>>(linker, |s| &mut s.auth)?;
    bindings::source::add_to_linker::<_, HasSelf<source::SourceCapability>>(linker, |s| {
        &mut s.source
    })?;
    bindings::log::add_to_linker::<_, HasSelf<log::LogCapability>>(linker, |s| &mut s.log)?;
    Ok(())
}

// The shared-type interfaces have no functions.
impl bindings::types::Host for RunState {}
impl bindings::errors::Host for RunState {}
