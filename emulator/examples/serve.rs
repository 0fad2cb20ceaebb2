//! Runs the well-known emulator over HTTPS until Ctrl-C, for driving it with other clients
//! (Microsoft's Python SDKs, AzCopy, curl):
//!
//! ```text
//! cargo run -p adls-writeback-emulator --example serve -- [--in-memory] [--plain] DATA_DIR [DFS_PORT [LOGIN_PORT [DOMO_PORT]]]
//! ```
//!
//! `--in-memory` keeps the store in memory, `--plain` serves plain HTTP instead of HTTPS.
//! Ports default to 0 (any free port). Prints the endpoints and the CA file to trust, one
//! `name=value` per line, then serves.

use std::net::{Ipv4Addr, SocketAddr};

use adls_writeback_emulator::{Emulator, EmulatorConfig, well_known};
use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (flags, rest): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with("--"));
    for flag in &flags {
        anyhow::ensure!(
            flag == "--in-memory" || flag == "--plain",
            "unknown option `{flag}`: use --in-memory or --plain"
        );
    }
    let mut args = rest.into_iter();
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
    config.tls = !flags.iter().any(|f| f == "--plain");
    config.in_memory = flags.iter().any(|f| f == "--in-memory");
    config.dfs_addr = port()?;
    config.login_addr = port()?;
    config.domo_addr = port()?;
    let emulator = Emulator::start(config).await?;
    println!("dfs={}", emulator.dfs_url());
    println!(
        "account={}",
        emulator.account_endpoint(well_known::ACCOUNT_NAME)
    );
    println!("authority={}", emulator.authority_url());
    println!("domo={}", emulator.domo_url());
    if let Some(ca) = emulator.ca_file() {
        println!("ca={}", ca.display());
    }
    println!("tenant={}", well_known::TENANT_ID);
    println!("client_id={}", well_known::CLIENT_ID);
    println!("client_secret={}", well_known::CLIENT_SECRET);
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
