//! `adls-writeback emulator`: the emulator standalone, until Ctrl-C.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use adls_writeback_emulator::{Emulator, EmulatorConfig, well_known};
use clap::Args;

/// Options of `adls-writeback emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Folder where the emulator keeps its storage (survives restarts).
    #[arg(long, default_value = ".adls-emulator")]
    pub data_dir: PathBuf,
    /// Folder of Domo datasets to serve: `<id>.csv` with `<id>.json` metadata beside it.
    #[arg(long)]
    pub datasets_dir: Option<PathBuf>,
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port of the ADLS Gen2 DFS endpoint.
    #[arg(long, default_value_t = 10004)]
    pub dfs_port: u16,
    /// Port of the Entra ID token endpoint.
    #[arg(long, default_value_t = 10005)]
    pub login_port: u16,
    /// Port of the Domo API.
    #[arg(long, default_value_t = 10006)]
    pub domo_port: u16,
}

/// Starts the emulator and prints how to reach it.
pub async fn main(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    let mut config = EmulatorConfig::well_known(args.data_dir.clone());
    config.datasets_dir = args.datasets_dir.clone();
    config.dfs_addr = SocketAddr::new(args.host, args.dfs_port);
    config.login_addr = SocketAddr::new(args.host, args.login_port);
    config.domo_addr = SocketAddr::new(args.host, args.domo_port);
    let emulator = Emulator::start(config).await?;
    println!(
        "ADLS Gen2 emulator running (data in {})",
        args.data_dir.display()
    );
    println!(
        "  DFS endpoint     {}",
        emulator.account_endpoint(well_known::ACCOUNT_NAME)
    );
    println!("  authority host   {}", emulator.authority_url());
    println!("  Domo API         {}", emulator.domo_url());
    println!("Well-known development credentials (emulator only):");
    println!("  tenant_id        {}", well_known::TENANT_ID);
    println!("  client_id        {}", well_known::CLIENT_ID);
    println!("  client_secret    {}", well_known::CLIENT_SECRET);
    println!("  account_name     {}", well_known::ACCOUNT_NAME);
    println!("  container        {}", well_known::CONTAINER);
    println!("  domo client_id   {}", well_known::DOMO_CLIENT_ID);
    println!("  domo secret      {}", well_known::DOMO_CLIENT_SECRET);
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
