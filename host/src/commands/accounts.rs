//! `adls-writeback accounts add|list|show|remove|test`: saved accounts (see
//! [`crate::job::accounts`]). Secrets are never printed. `test` proves write access with a probe
//! file ([`probe`]).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value;

mod probe;

use crate::job::accounts::{SavedAccount, Store, StoredSecret};
use crate::job::check_endpoint;
use crate::job::credential::AuthKind;

/// `adls-writeback accounts …`.
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Save an account (replaces one of the same name). The secret (the app's client
    /// secret, its certificate's PEM, the account key or the SAS token, as --auth says) is a
    /// reference (--secret-env, --secret-file) or read from standard input (--secret-stdin)
    /// and kept in the accounts file, which is then mode 0600. Workload and managed
    /// identities have no secret.
    Add(Box<AddArgs>),
    /// List the saved accounts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one account (its secret only as where it is kept).
    Show {
        /// The account's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an account.
    Remove {
        /// The account's name.
        name: String,
    },
    /// Check the account's credential (get a storage token, for an Entra ID app), check
    /// that its file system exists and may be listed, and prove write access: create, write and delete a small
    /// `_`-prefixed probe file (exit 1 when any step fails, with the service's error
    /// explained).
    Test {
        /// The account's name.
        name: String,
    },
}

/// Options of `accounts add`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("secret").args(["secret_env", "secret_file", "secret_stdin"])))]
pub struct AddArgs {
    /// The account's name, as job files name it (`account = "NAME"`).
    pub name: String,
    /// The credential kind, as `account.auth` in a job file.
    #[arg(long, default_value = "client-secret", value_parser = [
        "client-secret", "client-certificate", "shared-key", "sas", "workload-identity",
        "managed-identity", "default",
    ])]
    pub auth: String,
    /// Application (client) ID of the Entra ID app (a user-assigned managed identity's, with
    /// --auth managed-identity; AZURE_CLIENT_ID at run time when left out).
    #[arg(long, required_if_eq_any([("auth", "client-secret"), ("auth", "client-certificate")]))]
    pub client_id: Option<String>,
    /// Directory (tenant) ID or domain (AZURE_TENANT_ID at run time when left out, with
    /// --auth workload-identity).
    #[arg(long, required_if_eq_any([("auth", "client-secret"), ("auth", "client-certificate")]))]
    pub tenant_id: Option<String>,
    /// The Azure cloud: public (default), china or us-government.
    #[arg(long, value_parser = ["public", "china", "us-government"])]
    pub cloud: Option<String>,
    /// The service account token file, with --auth workload-identity
    /// (AZURE_FEDERATED_TOKEN_FILE at run time when left out).
    #[arg(long, value_name = "PATH")]
    pub federated_token_file: Option<PathBuf>,
    /// The managed identity's token endpoint, when not IMDS's (or App Service's, from
    /// IDENTITY_ENDPOINT), with --auth managed-identity.
    #[arg(long, value_name = "URL")]
    pub identity_endpoint: Option<String>,
    /// Storage account name.
    #[arg(long)]
    pub account_name: String,
    /// Container (file system).
    #[arg(long)]
    pub container: String,
    /// DFS endpoint (default https://ACCOUNT_NAME.dfs.core.windows.net, or the cloud's).
    #[arg(long)]
    pub dfs_endpoint: Option<String>,
    /// Entra ID authority (default https://login.microsoftonline.com, or the cloud's).
    #[arg(long)]
    pub authority_host: Option<String>,
    /// Read the secret from this environment variable at run time.
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,
    /// Read the secret from this file at run time.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// Read the secret's value from standard input now and keep it in the accounts file
    /// (mode 0600).
    #[arg(long)]
    pub secret_stdin: bool,
}

/// Runs an `accounts` subcommand.
pub async fn main(command: AccountsCommand) -> anyhow::Result<ExitCode> {
    let mut store = Store::load_default()?;
    match command {
        AccountsCommand::Add(args) => add(&mut store, *args),
        AccountsCommand::List { json } => {
            if json {
                let list: Vec<Value> = store.iter().map(|(n, a)| describe(n, a)).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if store.iter().next().is_none() {
                println!("no saved accounts in {}", store.path().display());
            } else {
                println!(
                    "{:<16} {:<38} {:<40} SECRET",
                    "NAME", "CLIENT ID", "STORAGE"
                );
                for (name, a) in store.iter() {
                    let storage = format!("{}/{}", a.account_name, a.container);
                    println!(
                        "{name:<16} {:<38} {storage:<40} {}",
                        a.client_id,
                        secret_place(a)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Show { name, json } => {
            let a = find(&store, &name)?;
            let value = describe(&name, a);
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                for (key, v) in value.as_object().expect("an object") {
                    println!("{key:<15} {}", v.as_str().unwrap_or_default());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Remove { name } => {
            anyhow::ensure!(
                store.remove(&name),
                "no saved account `{name}` in {}",
                store.path().display()
            );
            store.save()?;
            println!("removed account `{name}`");
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Test { name } => test(&store, &name).await,
    }
}

fn find<'a>(store: &'a Store, name: &str) -> anyhow::Result<&'a SavedAccount> {
    store.get(name).with_context(|| {
        format!(
            "no saved account `{name}` in {} (see `adls-writeback accounts list`)",
            store.path().display()
        )
    })
}

/// Where the account's secret is kept, never its value.
fn secret_place(a: &SavedAccount) -> String {
    match &a.client_secret {
        Some(secret) => secret.describe(),
        None => "none (an identity of the host)".into(),
    }
}

fn describe(name: &str, a: &SavedAccount) -> Value {
    let cloud = a
        .cloud
        .as_deref()
        .and_then(|c| crate::job::credential::Cloud::parse(c).ok())
        .unwrap_or_default();
    let mut value = serde_json::json!({
        "name": name,
        "auth": a.auth.as_deref().unwrap_or("client-secret"),
        "cloud": a.cloud.as_deref().unwrap_or("public"),
        "client_id": a.client_id,
        "tenant_id": a.tenant_id,
        "client_secret": secret_place(a),
        "account_name": a.account_name,
        "container": a.container,
        "dfs_endpoint": a.dfs_endpoint.clone().unwrap_or_else(|| cloud.dfs_endpoint(&a.account_name)),
        "authority_host": a.authority_host.as_deref().unwrap_or(cloud.authority_host()),
    });
    let extra = [
        (
            "federated_token_file",
            a.federated_token_file
                .as_ref()
                .map(|f| f.display().to_string()),
        ),
        ("identity_endpoint", a.identity_endpoint.clone()),
    ];
    for (key, v) in extra {
        if let Some(v) = v {
            value[key] = Value::String(v);
        }
    }
    value
}

fn add(store: &mut Store, args: AddArgs) -> anyhow::Result<ExitCode> {
    let mut problems = Vec::new();
    for (field, value) in [
        ("--dfs-endpoint", &args.dfs_endpoint),
        ("--authority-host", &args.authority_host),
        ("--identity-endpoint", &args.identity_endpoint),
    ] {
        if let Some(value) = value {
            check_endpoint(field, value, &mut problems);
        }
    }
    if let Some(p) = problems.first() {
        anyhow::bail!("{}: {}", p.field, p.message);
    }
    let needs_secret = matches!(
        args.auth.as_str(),
        "client-secret" | "client-certificate" | "shared-key" | "sas"
    );
    let given = args.secret_env.is_some() || args.secret_file.is_some() || args.secret_stdin;
    anyhow::ensure!(
        needs_secret || !given,
        "--auth {} has no secret: leave out --secret-env, --secret-file and --secret-stdin",
        args.auth
    );
    anyhow::ensure!(
        !needs_secret || given,
        "--auth {} needs its {}: give --secret-env VAR, --secret-file PATH or --secret-stdin",
        args.auth,
        match args.auth.as_str() {
            "client-certificate" => "certificate and private key (a PEM file)",
            "shared-key" => "account key",
            "sas" => "SAS token",
            _ => "client secret",
        }
    );
    for (flag, value, kind) in [
        (
            "--federated-token-file",
            args.federated_token_file.is_some(),
            "workload-identity",
        ),
        (
            "--identity-endpoint",
            args.identity_endpoint.is_some(),
            "managed-identity",
        ),
    ] {
        anyhow::ensure!(
            !value || args.auth == kind || args.auth == "default",
            "{flag} is for --auth {kind}, not {}",
            args.auth
        );
    }
    let client_secret = if let Some(env) = args.secret_env {
        Some(StoredSecret::Env { env })
    } else if let Some(file) = args.secret_file {
        Some(StoredSecret::File {
            file: std::path::absolute(&file)
                .with_context(|| format!("bad path `{}`", file.display()))?,
        })
    } else if args.secret_stdin {
        // A PEM spans lines: the whole of standard input; any other secret is its first line.
        let mut text = String::new();
        if args.auth == "client-certificate" {
            std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
        } else {
            std::io::stdin().lock().read_line(&mut text)
        }
        .context("reading the secret from standard input")?;
        let value = match args.auth.as_str() {
            "client-certificate" => text,
            _ => text.trim_end_matches(['\r', '\n']).to_string(),
        };
        anyhow::ensure!(!value.trim().is_empty(), "no secret on standard input");
        Some(StoredSecret::Value(value))
    } else {
        None
    };
    let federated_token_file = match args.federated_token_file {
        Some(file) => Some(
            std::path::absolute(&file).with_context(|| format!("bad path `{}`", file.display()))?,
        ),
        None => None,
    };
    let account = SavedAccount {
        auth: (args.auth != "client-secret").then(|| args.auth.clone()),
        cloud: args.cloud,
        client_id: args.client_id.unwrap_or_default(),
        tenant_id: args.tenant_id.unwrap_or_default(),
        client_secret,
        federated_token_file,
        identity_endpoint: args.identity_endpoint,
        account_name: args.account_name,
        container: args.container,
        dfs_endpoint: args
            .dfs_endpoint
            .map(|e| e.trim_end_matches('/').to_string()),
        authority_host: args
            .authority_host
            .map(|e| e.trim_end_matches('/').to_string()),
    };
    let secret = secret_place(&account);
    store.insert(&args.name, account);
    store.save()?;
    println!(
        "saved account `{}` in {} (secret: {secret})",
        args.name,
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// How long `accounts test` may take, for a SAS's expiry.
const PROBE_RUN: std::time::Duration = std::time::Duration::from_secs(60);

async fn test(store: &Store, name: &str) -> anyhow::Result<ExitCode> {
    find(store, name)?;
    let section = store.section(name).expect("found above");
    let base = store.path().parent().unwrap_or(std::path::Path::new("."));
    // The same reading of the credential as a job's run, so what passes here runs there.
    let mut problems = Vec::new();
    let account = section.resolve(base, PROBE_RUN, &mut problems);
    if let Some(p) = problems.first() {
        anyhow::bail!("account `{name}`: {}: {}", p.field, p.message);
    }
    let kind = account
        .credential
        .as_ref()
        .map(|c| c.kind())
        .expect("a credential without problems");
    let who = match kind {
        AuthKind::SharedKey | AuthKind::Sas => format!("{} credential", kind.as_str()),
        AuthKind::ManagedIdentity if account.client_id.is_empty() => {
            "the system-assigned managed identity".to_string()
        }
        AuthKind::ManagedIdentity => format!("managed identity {}", account.client_id),
        _ => format!(
            "app {} in tenant {} ({})",
            account.client_id,
            account.tenant_id,
            kind.as_str()
        ),
    };
    println!(
        "Testing account `{name}`: {who}, storage {}/{}",
        account.account_name, account.container
    );
    let client = crate::plumbing::client::client_trusting(None)?;
    let retry = crate::plumbing::retry::RetryConfig::default();
    let authorizer = crate::runner::account_authorizer(&account, PROBE_RUN, &retry, &client)?;
    match authorizer.ready().await {
        Ok(_) if !matches!(kind, AuthKind::SharedKey | AuthKind::Sas) => {
            println!("  token        ok: Entra ID issued a storage token")
        }
        Ok(_) => println!(
            "  credential   ok: {} (checked by the requests below)",
            kind.as_str()
        ),
        Err(e) => {
            let message = crate::runner::wording::auth_message(&e);
            println!("  credential   FAILED: {message}");
            return Ok(ExitCode::from(super::EXIT_FAILED));
        }
    }
    let (dfs, container) = (&account.dfs_endpoint, &account.container);
    let storage = probe::Storage {
        client: &client,
        dfs,
        container,
        authorizer: &authorizer,
    };
    if let Err(message) = storage.can_list().await {
        println!("  file system  FAILED: {message}");
        return Ok(ExitCode::from(super::EXIT_FAILED));
    }
    println!("  file system  ok: `{container}` exists and may be listed");
    match storage.can_write().await {
        Ok(probe) => {
            println!("  write        ok: created, wrote and deleted `{container}/{probe}`");
            println!("Account `{name}` works.");
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            println!("  write        FAILED: {message}");
            Ok(ExitCode::from(super::EXIT_FAILED))
        }
    }
}
