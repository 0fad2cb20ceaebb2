//! `adls-writeback emulator`: the emulator standalone, until Ctrl-C or SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use adls_writeback_emulator::{Emulator, EmulatorConfig, well_known};
use anyhow::Context;
use clap::Args;

/// Options of `adls-writeback emulator`.
#[derive(Debug, Args)]
#[command(after_help = "\
The emulator serves, on loopback by default:
  - the ADLS Gen2 DFS and Blob endpoints, path-style: https://HOST:DFS_PORT/ACCOUNT/FILESYSTEM/PATH
  - the Entra ID token endpoint: https://HOST:LOGIN_PORT/TENANT/oauth2/v2.0/token
  - the Domo API and instance permissions API: https://HOST:DOMO_PORT
  - an admin endpoint for tests: http://HOST:ADMIN_PORT (PUT/GET/DELETE /faults, PUT /token-lifetime)
It registers the well-known development app, account and Domo client it prints at start.
TLS uses a certificate it generates once into DATA_DIR/tls; trust DATA_DIR/tls/ca.pem
(a job's `ca_file`, REQUESTS_CA_BUNDLE for Python, NODE_EXTRA_CA_CERTS for Node).
A port of 0 picks a free one; --json prints the chosen addresses as one JSON line.")]
pub struct EmulatorArgs {
    /// Folder where the emulator keeps its storage and TLS certificate (survives restarts).
    #[arg(long, default_value = ".adls-emulator")]
    pub data_dir: PathBuf,
    /// Keep the storage in memory only (as Azurite's --inMemoryPersistence): nothing is
    /// written under --data-dir except the TLS certificate, and all data is gone at exit.
    #[arg(long)]
    pub in_memory: bool,
    /// Folder of Domo datasets to serve: `<id>.csv` with `<id>.json` metadata beside it
    /// (`name`, `owner {id, name}`, `coOwners [{id, name}]`).
    #[arg(long)]
    pub datasets_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port of the ADLS Gen2 DFS (and Blob) endpoint.
    #[arg(long, default_value_t = 10004)]
    pub dfs_port: u16,
    /// Port of the Entra ID token endpoint.
    #[arg(long, default_value_t = 10005)]
    pub login_port: u16,
    /// Port of the Domo API.
    #[arg(long, default_value_t = 10006)]
    pub domo_port: u16,
    /// Port of the admin endpoint (fault injection, token lifetime).
    #[arg(long, default_value_t = 10007)]
    pub admin_port: u16,
    /// Serve plain HTTP instead of HTTPS (the host accepts http only on loopback).
    #[arg(long)]
    pub no_tls: bool,
    /// A fault plan (JSON, the admin endpoint's `PUT /faults` format) active from the start.
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_lifetime: u64,
    /// Create the well-known account without a hierarchical namespace (a plain Blob
    /// account: the DFS endpoint refuses its paths, directories are virtual).
    #[arg(long)]
    pub flat_namespace: bool,
    /// Print the endpoints and credentials as one JSON line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Starts the emulator and prints how to reach it.
pub async fn main(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    let mut config = EmulatorConfig::well_known(args.data_dir.clone());
    config.datasets_dir = args.datasets_dir.clone();
    config.in_memory = args.in_memory;
    config.dfs_addr = SocketAddr::new(args.host, args.dfs_port);
    config.login_addr = SocketAddr::new(args.host, args.login_port);
    config.domo_addr = SocketAddr::new(args.host, args.domo_port);
    config.admin_addr = SocketAddr::new(args.host, args.admin_port);
    config.tls = !args.no_tls;
    config.token_lifetime = std::time::Duration::from_secs(args.token_lifetime);
    for account in &mut config.accounts {
        account.hierarchical_namespace = !args.flat_namespace;
    }
    if let Some(path) = &args.faults {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the fault plan `{}`", path.display()))?;
        config.faults = serde_json::from_str(&text)
            .with_context(|| format!("the fault plan `{}` is not valid", path.display()))?;
    }
    let emulator = Emulator::start(config).await?;
    let ca_file = emulator.ca_file().map(|p| p.display().to_string());
    // The well-known app's certificate and key, for `auth = "client-certificate"`.
    let certificate_file = args.data_dir.join("client-certificate.pem");
    std::fs::create_dir_all(&args.data_dir)?;
    std::fs::write(&certificate_file, well_known::CLIENT_CERTIFICATE_PEM)?;
    let certificate_file = certificate_file.display().to_string();
    if args.json {
        let info = serde_json::json!({
            "account_url": emulator.account_endpoint(well_known::ACCOUNT_NAME),
            "dfs": emulator.dfs_url(),
            "authority": emulator.authority_url(),
            "domo": emulator.domo_url(),
            "admin": emulator.admin_url(),
            "ca_file": ca_file,
            "in_memory": args.in_memory,
            "tenant_id": well_known::TENANT_ID,
            "client_id": well_known::CLIENT_ID,
            "client_secret": well_known::CLIENT_SECRET,
            "client_certificate_file": certificate_file,
            "account_name": well_known::ACCOUNT_NAME,
            "account_key": well_known::ACCOUNT_KEY,
            "container": well_known::CONTAINER,
            "domo_client_id": well_known::DOMO_CLIENT_ID,
            "domo_client_secret": well_known::DOMO_CLIENT_SECRET,
            "domo_developer_token": well_known::DOMO_DEVELOPER_TOKEN,
        });
        println!("{info}");
    } else {
        if args.in_memory {
            println!("ADLS Gen2 emulator running (data in memory only)");
        } else {
            println!(
                "ADLS Gen2 emulator running (data in {})",
                args.data_dir.display()
            );
        }
        println!(
            "  DFS endpoint     {}",
            emulator.account_endpoint(well_known::ACCOUNT_NAME)
        );
        println!("  authority host   {}", emulator.authority_url());
        println!("  Domo API         {}", emulator.domo_url());
        println!("  admin            {}", emulator.admin_url());
        if let Some(ca) = &ca_file {
            println!("  CA certificate   {ca}  (trust it: ca_file in a job)");
        }
        println!("Well-known development credentials (public, for the emulator only):");
        println!("  tenant_id        {}", well_known::TENANT_ID);
        println!("  client_id        {}", well_known::CLIENT_ID);
        println!("  client_secret    {}", well_known::CLIENT_SECRET);
        println!("  certificate      {certificate_file}  (auth = \"client-certificate\")");
        println!("  account_name     {}", well_known::ACCOUNT_NAME);
        println!("  account_key      {}", well_known::ACCOUNT_KEY);
        println!("  container        {}", well_known::CONTAINER);
        println!("  domo client_id   {}", well_known::DOMO_CLIENT_ID);
        println!("  domo secret      {}", well_known::DOMO_CLIENT_SECRET);
        println!("  domo dev token   {}", well_known::DOMO_DEVELOPER_TOKEN);
        println!("Press Ctrl-C to stop.");
    }
    wait_for_stop().await?;
    emulator.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, or SIGTERM (how test harnesses and service managers stop it).
async fn wait_for_stop() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
