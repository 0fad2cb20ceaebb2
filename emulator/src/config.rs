//! Configuration of the emulator: listeners, registered identities and storage accounts.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::faults::FaultPlan;

/// Published development credentials, like Azurite's well-known account.
///
/// They are registered by [`EmulatorConfig::well_known`]. They are not secrets: anyone may use
/// them against a local emulator, and they grant nothing anywhere else.
pub mod well_known {
    /// Directory (tenant) ID of the emulator's Entra ID tenant.
    pub const TENANT_ID: &str = "72f988bf-0000-4000-8000-00000000e1d0";
    /// Domain name of the same tenant; the token endpoint answers by it too.
    pub const TENANT_DOMAIN: &str = "emulator.onmicrosoft.com";
    /// Application (client) ID of the registered Entra ID app.
    pub const CLIENT_ID: &str = "3c6a2f1e-0000-4000-8000-0000000c11e1";
    /// Client secret value of the registered Entra ID app.
    pub const CLIENT_SECRET: &str = "Emu8Q~local-dev-secret-for-the-emulator-only";
    /// Issuer of the federated credential registered for [`CLIENT_ID`] (an AKS cluster's OIDC
    /// issuer, for workload identity).
    pub const FEDERATED_ISSUER: &str = "https://oidc.emulator.invalid/cluster";
    /// Subject of that federated credential: a Kubernetes service account.
    pub const FEDERATED_SUBJECT: &str = "system:serviceaccount:writeback:adls-writeback";
    /// The certificate registered for [`CLIENT_ID`] and its private key (PEM, RSA 2048): a
    /// client assertion signed with this key signs the app in (`auth = "client-certificate"`).
    /// Published like the account key; the emulator writes it to `client-certificate.pem` in
    /// its data folder.
    pub const CLIENT_CERTIFICATE_PEM: &str = include_str!("identity/client-certificate.pem");
    /// `IDENTITY_HEADER` the emulator's App Service identity endpoint (`/msi/token`) wants.
    pub const IDENTITY_HEADER: &str = "emulator-identity-header";
    /// Name of the storage account created at start.
    pub const ACCOUNT_NAME: &str = "devstoreaccount1";
    /// The account key of every emulated account (Azurite's published `devstoreaccount1`
    /// key): SharedKey signatures and SAS tokens signed with it are accepted.
    pub const ACCOUNT_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    /// File system (container) created at start in [`ACCOUNT_NAME`].
    pub const CONTAINER: &str = "writeback";
    /// Domo API client ID (HTTP Basic user name on `/oauth/token`).
    pub const DOMO_CLIENT_ID: &str = "d0d0c11e-0000-4000-8000-000000000027";
    /// Domo API client secret (HTTP Basic password on `/oauth/token`).
    pub const DOMO_CLIENT_SECRET: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    /// Domo user that owns the API client and the developer token.
    pub const DOMO_USER_ID: u64 = 27;
    /// Display name of [`DOMO_USER_ID`].
    pub const DOMO_USER_NAME: &str = "Dana Domo";
    /// Domo developer token accepted by the instance API (`X-DOMO-Developer-Token`).
    pub const DOMO_DEVELOPER_TOKEN: &str = "DDCIemulator0000developer0000token0027";
}

/// Everything the emulator needs to start.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// DFS data (file systems, files, metadata) lives here and survives a restart, unless
    /// [`in_memory`](Self::in_memory). The TLS certificate is kept here in both cases.
    pub data_dir: PathBuf,
    /// Keep the DFS data in memory only (as Azurite's `--inMemoryPersistence`): the same
    /// semantics (appends staged until a flush commits them, reads, renames, listings), no disk
    /// writes for data or metadata, and everything gone when the emulator stops. Default off.
    pub in_memory: bool,
    /// Domo datasets folder (none: no datasets).
    ///
    /// Datasets are read from it at request time, so files may be added while the emulator
    /// runs. Dataset `<id>` (letters, digits, `-`, `_`) is two files:
    ///
    /// - `<id>.csv`: the data, with a header line. The export returns it byte for byte with
    ///   `includeHeader=true`, and without its first record otherwise.
    /// - `<id>.json` (optional) metadata, every field optional:
    ///
    /// ```json
    /// {
    ///   "name": "Sales",
    ///   "description": "Monthly sales",
    ///   "owner": {"id": 27, "name": "Dana Domo"},
    ///   "coOwners": [{"id": 31, "name": "Chris Coowner"}],
    ///   "shares": [{"id": 40, "name": "Val Viewer", "accessLevel": "CAN_VIEW"}],
    ///   "schema": {"columns": [{"name": "region", "type": "STRING"}]},
    ///   "pdpEnabled": false
    /// }
    /// ```
    ///
    /// Defaults: `name` is the id, `owner` is the user of the first configured Domo client, the
    /// schema's columns are the CSV header's names typed `STRING`. `rows` counts the CSV records
    /// after the header (quoted newlines respected), computed on first request and cached until
    /// the file changes. `createdAt`/`updatedAt`/`dataCurrentAt` come from the CSV file's times.
    pub datasets_dir: Option<PathBuf>,
    /// Listener of the ADLS Gen2 DFS endpoint.
    pub dfs_addr: SocketAddr,
    /// Listener of the Entra ID token endpoint (the authority host).
    pub login_addr: SocketAddr,
    /// Listener of the Domo API (public API and instance API).
    pub domo_addr: SocketAddr,
    /// Registered Entra ID applications; their tenants are the known tenants.
    pub apps: Vec<EntraApp>,
    /// Storage accounts and file systems created at start when missing.
    pub accounts: Vec<StorageAccountConfig>,
    /// Domo API clients accepted by `/oauth/token`.
    pub domo_clients: Vec<DomoClient>,
    /// Domo developer tokens accepted by the instance API.
    pub developer_tokens: Vec<DomoDeveloperToken>,
    /// Lifetime of issued Entra ID and Domo tokens (default 3600 s; zero issues expired tokens).
    pub token_lifetime: Duration,
    /// Serve all three listeners over HTTPS (default off: plain HTTP on loopback).
    ///
    /// The certificate is signed by a local CA generated on first use and kept under
    /// `data_dir/tls/` (`ca.pem`, `server.pem`, `server-key.pem`); clients trust
    /// [`Emulator::ca_file`](crate::Emulator::ca_file). Microsoft's SDKs need this: they send
    /// bearer tokens only over HTTPS, and `azure-identity` accepts only an `https` authority.
    pub tls: bool,
    /// Listener of the admin endpoint that changes faults and token lifetimes at run time
    /// (see [`Emulator::admin_url`](crate::Emulator::admin_url)); keep it on loopback.
    pub admin_addr: SocketAddr,
    /// Faults injected from the start (default none); replaced at run time through the admin
    /// endpoint or [`Emulator::set_faults`](crate::Emulator::set_faults).
    pub faults: FaultPlan,
}

/// An Entra ID app registration with one client secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraApp {
    /// Tenant (directory) GUID the app is registered in.
    pub tenant_id: String,
    /// Optional domain name the tenant also answers by (`contoso.onmicrosoft.com`).
    pub tenant_domain: Option<String>,
    /// Application (client) ID.
    pub client_id: String,
    /// Client secret value.
    pub client_secret: String,
    /// Whether the app holds a data role on the storage accounts (`Storage Blob Data
    /// Contributor`). Without it, it gets tokens but the DFS endpoint answers 403
    /// `AuthorizationPermissionMismatch`, as the service does.
    pub data_access: bool,
    /// With `data_access`, whether the role is read-only (`Storage Blob Data Reader`):
    /// reads and listings succeed, writes and deletes answer 403
    /// `AuthorizationPermissionMismatch`.
    pub read_only: bool,
    /// Federated identity credentials, `(issuer, subject)`: a client assertion (a Kubernetes
    /// service account token) with that issuer and subject, for audience
    /// `api://AzureADTokenExchange`, signs the app in (workload identity federation).
    pub federated: Vec<(String, String)>,
    /// Certificates registered for the app (PEM, each may hold several): a client
    /// assertion signed with one's private key and naming its thumbprint signs the app in.
    pub certificates: Vec<String>,
    /// Whether the app is also the managed identity of the emulated Azure resource: the
    /// identity endpoints (`/metadata/identity/oauth2/token`, `/msi/token`) issue its tokens.
    pub managed_identity: bool,
}

/// A storage account and the file systems to create in it at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageAccountConfig {
    /// Account name (first segment of path-style URLs).
    pub name: String,
    /// File systems created at start when missing.
    pub file_systems: Vec<String>,
    /// Whether the account has a hierarchical namespace (an ADLS Gen2 account; the default).
    /// Without one it is a plain Blob account: the DFS endpoint refuses it, directories are
    /// virtual (`/` in blob names) and nothing can be renamed.
    pub hierarchical_namespace: bool,
}

/// A Domo user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomoUser {
    /// Numeric user ID.
    pub id: u64,
    /// Display name.
    pub name: String,
}

/// A Domo API client (client credentials grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomoClient {
    /// Client ID.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// The user the client acts as.
    pub user: DomoUser,
}

/// A Domo developer token for the instance API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomoDeveloperToken {
    /// Token value, sent as `X-DOMO-Developer-Token`.
    pub token: String,
    /// The user the token belongs to.
    pub user: DomoUser,
}

impl EmulatorConfig {
    /// Loopback ephemeral ports, the well-known app/account/Domo client/developer token registered.
    pub fn well_known(data_dir: impl Into<PathBuf>) -> Self {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let user = DomoUser {
            id: well_known::DOMO_USER_ID,
            name: well_known::DOMO_USER_NAME.to_string(),
        };
        Self {
            data_dir: data_dir.into(),
            in_memory: false,
            datasets_dir: None,
            dfs_addr: loopback,
            login_addr: loopback,
            domo_addr: loopback,
            apps: vec![EntraApp {
                tenant_id: well_known::TENANT_ID.to_string(),
                tenant_domain: Some(well_known::TENANT_DOMAIN.to_string()),
                client_id: well_known::CLIENT_ID.to_string(),
                client_secret: well_known::CLIENT_SECRET.to_string(),
                data_access: true,
                read_only: false,
                federated: vec![(
                    well_known::FEDERATED_ISSUER.to_string(),
                    well_known::FEDERATED_SUBJECT.to_string(),
                )],
                certificates: vec![well_known::CLIENT_CERTIFICATE_PEM.to_string()],
                managed_identity: true,
            }],
            accounts: vec![StorageAccountConfig {
                name: well_known::ACCOUNT_NAME.to_string(),
                file_systems: vec![well_known::CONTAINER.to_string()],
                hierarchical_namespace: true,
            }],
            domo_clients: vec![DomoClient {
                client_id: well_known::DOMO_CLIENT_ID.to_string(),
                client_secret: well_known::DOMO_CLIENT_SECRET.to_string(),
                user: user.clone(),
            }],
            developer_tokens: vec![DomoDeveloperToken {
                token: well_known::DOMO_DEVELOPER_TOKEN.to_string(),
                user,
            }],
            token_lifetime: Duration::from_secs(3600),
            tls: false,
            admin_addr: loopback,
            faults: FaultPlan::default(),
        }
    }

    /// The first registered tenant, used when a request names none.
    pub(crate) fn default_tenant(&self) -> &str {
        self.apps
            .first()
            .map(|a| a.tenant_id.as_str())
            .unwrap_or(well_known::TENANT_ID)
    }
}
