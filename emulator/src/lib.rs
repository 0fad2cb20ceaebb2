//! A local stand-in for the three services the ADLS write-back tool talks to, so that it can
//! be run and tested without an Azure account:
//!
//! 1. the ADLS Gen2 DFS endpoint, path-style (`http://127.0.0.1:PORT/{account}/{filesystem}/…`),
//!    with a persistent hierarchical store ([`EmulatorConfig::data_dir`]) or one in memory
//!    ([`EmulatorConfig::in_memory`]), and on the same
//!    address the Blob endpoint of the same data, for the calls the Data Lake SDKs send there;
//! 2. the Microsoft Entra ID v2 token endpoint (client credentials), whose tokens the DFS
//!    endpoint requires;
//! 3. the Domo API (OAuth token, DataSets, CSV export, and the instance API's permissions).
//!
//! Each listens on its own address. [`EmulatorConfig::well_known`] registers the published
//! development credentials of [`well_known`]. A fourth, admin listener
//! ([`Emulator::admin_url`]) makes the services misbehave on purpose ([`FaultPlan`]) and changes
//! token lifetimes at run time, for tests of retries, token refresh and crash safety.
//!
//! With [`EmulatorConfig::tls`] the three services speak HTTPS with a certificate from a local
//! CA ([`Emulator::ca_file`]), as Microsoft's SDKs require: for example Python's
//! `ClientSecretCredential(tenant, client, secret, authority=emulator.authority_url(),
//! disable_instance_discovery=True, connection_verify=ca_file)`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use adls_writeback_emulator::{Emulator, EmulatorConfig};
//! let emulator = Emulator::start(EmulatorConfig::well_known("/tmp/emulator-data")).await?;
//! println!("DFS at {}", emulator.account_endpoint("devstoreaccount1"));
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod admin;
mod blob;
mod caller;
mod conditions;
mod config;
mod crc64;
mod dfs;
mod domo;
mod errors;
mod expiry;
mod faults;
mod identity;
mod jwt;
mod keyauth;
mod lease;
mod store;
mod structured;
pub mod timefmt;
mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    DomoClient, DomoDeveloperToken, DomoUser, EmulatorConfig, EntraApp, StorageAccountConfig,
    well_known,
};
pub use faults::{
    Fault, FaultCounts, FaultPlan, FaultPlanError, FaultRule, Operation, RuleMatch, Service,
    Trigger,
};

/// A running emulator: three service listeners and the admin listener, served on the current
/// tokio runtime.
#[derive(Debug)]
pub struct Emulator {
    dfs_addr: SocketAddr,
    login_addr: SocketAddr,
    domo_addr: SocketAddr,
    scheme: &'static str,
    ca_file: Option<PathBuf>,
    admin_addr: SocketAddr,
    faults: Arc<faults::Faults>,
    token_lifetime: faults::TokenLifetime,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
}

/// `SCHEME://HOST:PORT` of a bound address; unspecified addresses are reached on loopback.
fn url_of(scheme: &str, addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for the {what} on {addr}: is the port in use?"))?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

impl Emulator {
    /// Opens the store (creating configured accounts and file systems), binds all three
    /// listeners and serves them on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let data_dir = config.data_dir.clone();
        let accounts = config.accounts.clone();
        let in_memory = config.in_memory;
        let store = tokio::task::spawn_blocking(move || {
            if in_memory {
                store::Store::in_memory(&accounts)
            } else {
                store::Store::open(&data_dir, &accounts)
            }
        })
        .await?
        .with_context(|| {
            format!(
                "cannot open the emulator's data folder {}",
                config.data_dir.display()
            )
        })?;
        let tls = if config.tls {
            let dir = config.data_dir.join(tls::TLS_DIR);
            Some(tokio::task::spawn_blocking(move || tls::Tls::load_or_create(&dir)).await??)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (dfs_listener, dfs_addr) = bind(config.dfs_addr, "DFS endpoint").await?;
        let (login_listener, login_addr) = bind(config.login_addr, "Entra ID endpoint").await?;
        let (domo_listener, domo_addr) = bind(config.domo_addr, "Domo API").await?;
        let (admin_listener, admin_addr) = bind(config.admin_addr, "admin endpoint").await?;
        let faults = Arc::new(faults::Faults::new(config.faults.clone())?);
        let token_lifetime = faults::TokenLifetime::new(config.token_lifetime);
        let authority_url = url_of(scheme, login_addr);
        let directory = Arc::new(identity::Directory::new(config.apps.clone()));

        let dfs = dfs::router(Arc::new(dfs::DfsState {
            store: Arc::new(store),
            directory: directory.clone(),
            authority_url: authority_url.clone(),
            default_tenant: config.default_tenant().to_string(),
            scheme,
            service_properties: Default::default(),
        }));
        let login = identity::router(Arc::new(identity::IdentityState {
            directory,
            authority_url,
            token_lifetime: token_lifetime.clone(),
        }));
        let default_owner = config
            .domo_clients
            .first()
            .map(|c| c.user.clone())
            .unwrap_or(DomoUser {
                id: well_known::DOMO_USER_ID,
                name: well_known::DOMO_USER_NAME.to_string(),
            });
        let domo = domo::router(Arc::new(domo::DomoState {
            clients: config.domo_clients.clone(),
            developer_tokens: config.developer_tokens.clone(),
            datasets_dir: config.datasets_dir.clone(),
            token_lifetime: token_lifetime.clone(),
            default_owner,
            row_counts: Mutex::new(HashMap::new()),
        }));

        let dfs = faults::wrap(dfs, Service::Dfs, faults.clone());
        let login = faults::wrap(login, Service::Login, faults.clone());
        let domo = faults::wrap(domo, Service::Domo, faults.clone());
        let admin = admin::router(admin::AdminState {
            faults: faults.clone(),
            token_lifetime: token_lifetime.clone(),
        });

        let (stop, stopped) = watch::channel(false);
        let mut servers: Vec<JoinHandle<()>> = [
            (dfs_listener, dfs),
            (login_listener, login),
            (domo_listener, domo),
        ]
        .into_iter()
        .map(|(listener, router)| {
            let mut stopped = stopped.clone();
            let tls = tls.as_ref().map(|t| t.config.clone());
            tokio::spawn(async move {
                let signal = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                if let Err(e) = tls::serve(listener, router, tls, signal).await {
                    tracing::error!(error = %e, "emulator listener failed");
                }
            })
        })
        .collect();
        let mut admin_stopped = stopped.clone();
        servers.push(tokio::spawn(async move {
            let signal = async move {
                let _ = admin_stopped.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(admin_listener, admin)
                .with_graceful_shutdown(signal)
                .await
            {
                tracing::error!(error = %e, "emulator admin listener failed");
            }
        }));
        tracing::info!(
            dfs = %url_of(scheme, dfs_addr),
            login = %url_of(scheme, login_addr),
            domo = %url_of(scheme, domo_addr),
            admin = %url_of("http", admin_addr),
            "emulator started"
        );
        Ok(Emulator {
            dfs_addr,
            login_addr,
            domo_addr,
            scheme,
            ca_file: tls.map(|t| t.ca_file),
            admin_addr,
            faults,
            token_lifetime,
            stop,
            servers,
        })
    }

    /// `http://127.0.0.1:PORT` of the DFS endpoint (`https://` with [`EmulatorConfig::tls`]).
    /// The Blob endpoint of the same accounts answers at the same address.
    pub fn dfs_url(&self) -> String {
        url_of(self.scheme, self.dfs_addr)
    }

    /// `http://127.0.0.1:PORT/ACCOUNT`: the account's path-style endpoint (as Azurite).
    pub fn account_endpoint(&self, account: &str) -> String {
        format!("{}/{account}", self.dfs_url())
    }

    /// `http://127.0.0.1:PORT`: the Entra ID authority host (tokens at
    /// `/{tenant}/oauth2/v2.0/token`).
    pub fn authority_url(&self) -> String {
        url_of(self.scheme, self.login_addr)
    }

    /// `http://127.0.0.1:PORT`: the Domo API host, which also serves the instance API.
    pub fn domo_url(&self) -> String {
        url_of(self.scheme, self.domo_addr)
    }

    /// The CA certificate (PEM) that signed the listeners' certificate, when
    /// [`EmulatorConfig::tls`] is on: clients trust it to connect.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.ca_file.clone()
    }

    /// `http://127.0.0.1:PORT` of the admin listener (plain HTTP, no token), which changes the
    /// emulator's misbehaviour at run time:
    ///
    /// - `PUT /faults` with a [`FaultPlan`] as JSON replaces the plan (counters start over) and
    ///   answers like `GET /faults`; a bad plan answers 400 `{"error": "..."}`.
    /// - `GET /faults`: `{"plan": {...}, "injected": FaultCounts, "rules": [{"matched": n,
    ///   "injected": n}, ...]}`, the counters since the plan was set (rules in plan order).
    /// - `DELETE /faults`: no more faults (204).
    /// - `PUT /token-lifetime` with `{"seconds": N}`: lifetime of the Entra ID and Domo tokens
    ///   issued from now on (0: already expired); answers `{"seconds": N}`, as `GET` does.
    pub fn admin_url(&self) -> String {
        url_of("http", self.admin_addr)
    }

    /// Replaces the fault plan (as `PUT /faults`); counters start over.
    pub fn set_faults(&self, plan: FaultPlan) -> Result<(), FaultPlanError> {
        self.faults.replace(plan)
    }

    /// Faults injected since the plan was last set, by kind.
    pub fn fault_counts(&self) -> FaultCounts {
        self.faults.counts()
    }

    /// Sets the lifetime of tokens issued from now on, in whole seconds (zero issues tokens
    /// that are already expired).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.token_lifetime.set(lifetime);
    }

    /// Stops the listeners (in-flight requests finish) and returns when they are done.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for server in std::mem::take(&mut self.servers) {
            let _ = server.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
