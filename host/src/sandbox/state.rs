//! The data of one run's store: WASI that grants nothing, the caps, and one field per
//! capability; and the linking of each capability's WIT interface to its own field.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capabilities::{Capabilities, auth, bindings, digest, http, log, source};
use crate::sandbox::limits::{Limiter, StderrTail};

/// The data of one run's store.
pub struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    stderr: StderrTail,
    budget: Arc<http::body::MemoryBudget>,
    guest_time: GuestTime,
    http: http::HttpCapability,
    digest: digest::DigestCapability,
    auth: auth::AuthCapability,
    source: source::SourceCapability,
    log: log::LogCapability,
}

impl RunState {
    /// A store's state for one run, with a memory cap of `memory_bytes` for the guest's
    /// memory and the request bodies the host holds for it together.
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
        let budget = http::body::MemoryBudget::new(memory_bytes);
        RunState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(budget.clone()),
            stderr,
            http: http.with_budget(budget.clone()),
            budget,
            guest_time: GuestTime::default(),
            digest: digest::DigestCapability::default(),
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

    /// The run's memory budget (guest memory and held request bodies).
    pub fn budget(&self) -> &http::body::MemoryBudget {
        &self.budget
    }

    /// Wall time spent running the guest's own code, host calls left out.
    pub fn guest_time_mut(&mut self) -> &mut GuestTime {
        &mut self.guest_time
    }

    /// The tail of the guest's stderr.
    pub fn stderr(&self) -> &StderrTail {
        &self.stderr
    }
}

/// Wall time spent in the guest's own code: the sandbox's call hook starts the clock when
/// the guest runs and stops it when it calls the host or returns. It is what the guest's
/// per-byte work costs (chunking, checks, copies), the network and the host left out.
#[derive(Debug, Default)]
pub struct GuestTime {
    since: Option<std::time::Instant>,
    total: std::time::Duration,
}

impl GuestTime {
    /// The guest starts (or resumes) running.
    pub fn enter(&mut self) {
        self.since.get_or_insert_with(std::time::Instant::now);
    }

    /// The guest stops running (it calls the host, or returns).
    pub fn leave(&mut self) {
        if let Some(since) = self.since.take() {
            self.total += since.elapsed();
        }
    }

    /// The time counted so far.
    pub fn total(&self) -> std::time::Duration {
        self.total
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
    bindings::digest::add_to_linker::<_, digest::DigestData>(linker, |s| digest::DigestView {
        digests: &mut s.digest,
        http: &mut s.http,
    })?;
    bindings::auth::add_to_linker::<_, HasSelf<auth::AuthCapability>>(linker, |s| &mut s.auth)?;
    bindings::source::add_to_linker::<_, source::SourceData>(linker, |s| source::SourceView {
        source: &mut s.source,
        http: &mut s.http,
    })?;
    bindings::log::add_to_linker::<_, HasSelf<log::LogCapability>>(linker, |s| &mut s.log)?;
    Ok(())
}

// The shared-type interfaces have no functions.
impl bindings::types::Host for RunState {}
impl bindings::errors::Host for RunState {}
