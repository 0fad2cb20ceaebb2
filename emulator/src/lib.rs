//! A local stand-in for the three services the ADLS write-back tool talks to, so that it can
//! be run and tested without an Azure account:
//!
//! 1. the ADLS Gen2 DFS endpoint, path-style (`http://127.0.0.1:PORT/{account}/{filesystem}/…`),
//!    with a persistent hierarchical store ([`EmulatorConfig::data_dir`]);
//! 2. the Microsoft Entra ID v2 token endpoint (client credentials), whose tokens the DFS
//!    endpoint requires;
//! 3. the Domo API (OAuth token, DataSets, CSV export, and the instance API's permissions).
//!
//! Each listens on its own address. [`EmulatorConfig::well_known`] registers the published
//! development credentials of [`well_known`].
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

mod conditions;
mod config;
mod dfs;
mod domo;
mod errors;
mod identity;
mod jwt;
mod store;
mod timefmt;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    DomoClient, DomoDeveloperToken, DomoUser, EmulatorConfig, EntraApp, StorageAccountConfig,
    well_known,
};

/// A running emulator: three listeners served on the current tokio runtime.
#[derive(Debug)]
pub struct Emulator {
    dfs_addr: SocketAddr,
    login_addr: SocketAddr,
    domo_addr: SocketAddr,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
}

/// `http://HOST:PORT` of a bound address; unspecified addresses are reached on loopback.
fn url_of(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
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
        let store = tokio::task::spawn_blocking(move || store::Store::open(&data_dir, &accounts))
            .await?
            .with_context(|| {
                format!(
                    "cannot open the emulator's data folder {}",
                    config.data_dir.display()
                )
            })?;
        let (dfs_listener, dfs_addr) = bind(config.dfs_addr, "DFS endpoint").await?;
        let (login_listener, login_addr) = bind(config.login_addr, "Entra ID endpoint").await?;
        let (domo_listener, domo_addr) = bind(config.domo_addr, "Domo API").await?;
        let authority_url = url_of(login_addr);
        let directory = Arc::new(identity::Directory::new(config.apps.clone()));

        let dfs = dfs::router(Arc::new(dfs::DfsState {
            store: Arc::new(store),
            directory: directory.clone(),
            authority_url: authority_url.clone(),
            default_tenant: config.default_tenant().to_string(),
        }));
        let login = identity::router(Arc::new(identity::IdentityState {
            directory,
            authority_url,
            token_lifetime: config.token_lifetime,
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
            token_lifetime: config.token_lifetime,
            default_owner,
            row_counts: Mutex::new(HashMap::new()),
        }));

        let (stop, stopped) = watch::channel(false);
        let servers = [
            (dfs_listener, dfs),
            (login_listener, login),
            (domo_listener, domo),
        ]
        .into_iter()
        .map(|(listener, router)| {
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let signal = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(signal)
                    .await
                {
                    tracing::error!(error = %e, "emulator listener failed");
                }
            })
        })
        .collect();
        tracing::info!(
            dfs = %url_of(dfs_addr),
            login = %url_of(login_addr),
            domo = %url_of(domo_addr),
            "emulator started"
        );
        Ok(Emulator {
            dfs_addr,
            login_addr,
            domo_addr,
            stop,
            servers,
        })
    }

    /// `http://127.0.0.1:PORT` of the DFS endpoint.
    pub fn dfs_url(&self) -> String {
        url_of(self.dfs_addr)
    }

    /// `http://127.0.0.1:PORT/ACCOUNT`: the account's path-style endpoint (as Azurite).
    pub fn account_endpoint(&self, account: &str) -> String {
        format!("{}/{account}", self.dfs_url())
    }

    /// `http://127.0.0.1:PORT`: the Entra ID authority host (tokens at
    /// `/{tenant}/oauth2/v2.0/token`).
    pub fn authority_url(&self) -> String {
        url_of(self.login_addr)
    }

    /// `http://127.0.0.1:PORT`: the Domo API host, which also serves the instance API.
    pub fn domo_url(&self) -> String {
        url_of(self.domo_addr)
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
