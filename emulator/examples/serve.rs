//! Runs the well-known emulator over HTTPS until Ctrl-C, for driving it with other clients
//! (Microsoft's Python SDKs, AzCopy, curl):
//!
//! ```text
//! cargo run -p adls-writeback-emulator --example serve -- DATA_DIR [DFS_PORT [LOGIN_PORT [DOMO_PORT]]]
//! ```
//!
//! Ports default to 0 (any free port). Prints the endpoints and the CA file to trust, one
//! `name=value` per line, then serves.

use std::net::{Ipv4Addr, SocketAddr};

use adls_writeback_emulator::{Emulator, EmulatorConfig, well_known};
use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let data_dir = args
        .next()
        .context("usage: serve DATA_DIR [DFS_PORT [LOGIN_PORT [DOMO_PORT]]]")?;
    let mut port = || -> anyhow::Result<SocketAddr> {
        let port = match args.next() {
            Some(p) => p.parse().with_context(|| format!("`{p}` is not a port"))?,
            None => 0,
        };
        Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    };
    let mut config = EmulatorConfig::well_known(data_dir);
    config.tls = true;
    config.dfs_addr = port()?;
    config.login_addr = port()?;
    config.domo_addr = port()?;
    let emulator = Emulator::start(config).await?;
    let ca = emulator.ca_file().context("TLS is on, so there is a CA")?;
    println!("dfs={}", emulator.dfs_url());
    println!(
        "account={}",
        emulator.account_endpoint(well_known::ACCOUNT_NAME)
    );
    println!("authority={}", emulator.authority_url());
    println!("domo={}", emulator.domo_url());
    println!("ca={}", ca.display());
    println!("tenant={}", well_known::TENANT_ID);
    println!("client_id={}", well_known::CLIENT_ID);
    println!("client_secret={}", well_known::CLIENT_SECRET);
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
