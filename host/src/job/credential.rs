//! `[account]`'s credential: which kind (`auth`), its keys, the cloud it lives in, and the
//! checks made before any run. Each kind follows the Azure docs named on its variant; every
//! secret is a reference (`{ env = … }` or `{ file = … }`), read here and never printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

mod certificate;

pub use certificate::ClientCertificate;

use super::{FieldError, SecretRef, resolve::resolve_secret};
use crate::job::secret::Secret;

/// How requests to the storage account are authorized (`account.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// An Entra ID app's client secret: the OAuth 2.0 client-credentials grant
    /// (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
    ClientSecret,
    /// An Entra ID app's certificate: a client assertion (an RS256 JWT) signed with its key
    /// (learn.microsoft.com/entra/identity-platform/certificate-credentials).
    ClientCertificate,
    /// The storage account key: requests signed with SharedKey
    /// (learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key).
    SharedKey,
    /// A shared access signature appended to each request's query
    /// (learn.microsoft.com/rest/api/storageservices/delegate-access-with-shared-access-signature).
    Sas,
    /// AKS workload identity: a Kubernetes service account token exchanged for an Entra ID
    /// token (learn.microsoft.com/azure/aks/workload-identity-overview).
    WorkloadIdentity,
    /// The managed identity of the Azure resource the host runs on
    /// (learn.microsoft.com/entra/identity/managed-identities-azure-resources/overview).
    ManagedIdentity,
}

/// IMDS's token endpoint on an Azure VM.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

impl AuthKind {
    /// The kind as the job file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::ClientSecret => "client-secret",
            AuthKind::ClientCertificate => "client-certificate",
            AuthKind::SharedKey => "shared-key",
            AuthKind::Sas => "sas",
            AuthKind::WorkloadIdentity => "workload-identity",
            AuthKind::ManagedIdentity => "managed-identity",
        }
    }

    /// The kind `value` names; `None` for `default` (azure-identity's chain).
    fn parse(value: &str) -> Result<Option<AuthKind>, String> {
        const KINDS: &str = "\"client-secret\", \"client-certificate\", \"shared-key\", \"sas\", \
                             \"workload-identity\", \"managed-identity\" or \"default\"";
        Ok(Some(match value {
            "client-secret" => AuthKind::ClientSecret,
            "shared-key" => AuthKind::SharedKey,
            "sas" => AuthKind::Sas,
            "workload-identity" => AuthKind::WorkloadIdentity,
            "managed-identity" => AuthKind::ManagedIdentity,
            "client-certificate" => AuthKind::ClientCertificate,
            "default" => return Ok(None),
            other => return Err(format!("`{other}` is not a credential kind: use {KINDS}")),
        }))
    }
}

/// The Azure cloud an account lives in (`account.cloud`): its DFS endpoint suffix and its
/// Entra ID authority (learn.microsoft.com/entra/identity-platform/authentication-national-cloud).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    /// Azure's public cloud.
    #[default]
    Public,
    /// Azure operated by 21Vianet (China).
    China,
    /// Azure Government (US).
    UsGovernment,
}

impl Cloud {
    /// The cloud named `value` (`public`, `china`, `us-government`).
    pub fn parse(value: &str) -> Result<Cloud, String> {
        match value {
            "public" => Ok(Cloud::Public),
            "china" => Ok(Cloud::China),
            "us-government" => Ok(Cloud::UsGovernment),
            other => Err(format!(
                "`{other}` is not a cloud: use \"public\", \"china\" or \"us-government\""
            )),
        }
    }

    /// The DFS endpoint suffix: `dfs.core.windows.net` in the public cloud.
    pub fn dfs_suffix(self) -> &'static str {
        match self {
            Cloud::Public => "dfs.core.windows.net",
            Cloud::China => "dfs.core.chinacloudapi.cn",
            Cloud::UsGovernment => "dfs.core.usgovcloudapi.net",
        }
    }

    /// The Entra ID authority host.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::China => "https://login.chinacloudapi.cn",
            Cloud::UsGovernment => "https://login.microsoftonline.us",
        }
    }

    /// The DFS endpoint of `account_name` in this cloud.
    pub fn dfs_endpoint(self, account_name: &str) -> String {
        format!("https://{account_name}.{}", self.dfs_suffix())
    }
}

/// A SAS token, read and checked: its value (the query without a leading `?`) and its
/// signed expiry (`se`).
#[derive(Debug, Clone)]
pub struct Sas {
    /// The query string, secret as a whole (its `sig` is).
    pub token: Secret,
    /// When the SAS stops being valid.
    pub expiry: SystemTime,
}

impl Sas {
    /// Reads `token` (with or without a leading `?`): it must carry `sig`, `sv` and an RFC 3339
    /// `se`. The error names the parameter, never the signature.
    pub fn parse(token: &str) -> Result<Sas, String> {
        let token = token.trim().trim_start_matches('?');
        let params: Vec<(String, String)> = url::form_urlencoded::parse(token.as_bytes())
            .into_owned()
            .collect();
        let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        if get("sig").is_none() {
            return Err("is not a SAS token: it has no signature (`sig`)".into());
        }
        if get("sv").is_none() {
            return Err("is not a SAS token: it has no signed version (`sv`)".into());
        }
        let Some(se) = get("se") else {
            return Err("has no signed expiry (`se`)".into());
        };
        let expiry = chrono::DateTime::parse_from_rfc3339(se)
            .map_err(|e| format!("has an unreadable signed expiry `se={se}`: {e}"))?;
        Ok(Sas {
            token: Secret::new(token),
            expiry: expiry.into(),
        })
    }

    /// Fails when the SAS has expired at `now`, or expires before a run of at most `run`
    /// started now would end.
    pub fn check_expiry(&self, now: SystemTime, run: Duration) -> Result<(), String> {
        let at = chrono::DateTime::<chrono::Utc>::from(self.expiry).to_rfc3339();
        if self.expiry <= now {
            return Err(format!(
                "the SAS expired at {at}: make a new one (its `se` is in the past)"
            ));
        }
        if self.expiry < now + run {
            return Err(format!(
                "the SAS expires at {at}, before a run started now could end (limits.timeout_secs \
                 = {}): make one that lasts longer, or lower limits.timeout_secs",
                run.as_secs()
            ));
        }
        Ok(())
    }
}

/// The credential a job's storage requests are authorized with, secrets read.
#[derive(Debug, Clone)]
pub enum Credential {
    /// The app's client secret (the app and tenant are the account's).
    ClientSecret(Secret),
    /// The app's certificate and private key (the app and tenant are the account's).
    ClientCertificate(ClientCertificate),
    /// The account key (base64).
    SharedKey(Secret),
    /// A SAS token.
    Sas(Sas),
    /// A federated token file (re-read on every token request), for the account's app.
    WorkloadIdentity(PathBuf),
    /// A managed identity's token endpoint.
    ManagedIdentity(ManagedEndpoint),
}

/// Where a managed identity's tokens come from.
#[derive(Debug, Clone)]
pub struct ManagedEndpoint {
    /// The token endpoint: IMDS's, `identity_endpoint`, or App Service's `IDENTITY_ENDPOINT`.
    pub url: String,
    /// App Service's `IDENTITY_HEADER`; none for IMDS.
    pub identity_header: Option<Secret>,
    /// A user-assigned identity's client ID.
    pub client_id: Option<String>,
    /// With `auth = "default"`: what the chain tried before, for messages.
    pub tried: Option<String>,
}

impl Credential {
    /// Its kind.
    pub fn kind(&self) -> AuthKind {
        match self {
            Credential::ClientSecret(_) => AuthKind::ClientSecret,
            Credential::ClientCertificate(_) => AuthKind::ClientCertificate,
            Credential::SharedKey(_) => AuthKind::SharedKey,
            Credential::Sas(_) => AuthKind::Sas,
            Credential::WorkloadIdentity(_) => AuthKind::WorkloadIdentity,
            Credential::ManagedIdentity(_) => AuthKind::ManagedIdentity,
        }
    }
}

/// The `[account]` keys the credential comes from.
pub(super) struct CredentialKeys<'a> {
    pub auth: Option<&'a str>,
    pub client_id: &'a str,
    pub tenant_id: &'a str,
    pub client_secret: Option<&'a SecretRef>,
    pub client_certificate: Option<&'a SecretRef>,
    pub account_key: Option<&'a SecretRef>,
    pub sas_token: Option<&'a SecretRef>,
    pub federated_token_file: Option<&'a Path>,
    pub identity_endpoint: Option<&'a str>,
}

/// Reads and checks the credential `keys` name (`run` bounds a run, for a SAS's expiry).
pub(super) fn resolve(
    keys: CredentialKeys<'_>,
    base: &Path,
    run: Duration,
    problems: &mut Vec<FieldError>,
) -> Option<Credential> {
    let from_env = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
    let mut tried = None;
    let parsed = keys
        .auth
        .map(AuthKind::parse)
        .unwrap_or(Ok(Some(AuthKind::ClientSecret)));
    let kind = match parsed {
        Ok(Some(kind)) => kind,
        // azure-identity's chain: environment, workload identity, managed identity.
        Ok(None) if keys.client_secret.is_some() || from_env("AZURE_CLIENT_SECRET").is_some() => {
            AuthKind::ClientSecret
        }
        // EnvironmentCredential takes a certificate when there is no secret.
        Ok(None)
            if keys.client_certificate.is_some()
                || from_env("AZURE_CLIENT_CERTIFICATE_PATH").is_some() =>
        {
            AuthKind::ClientCertificate
        }
        Ok(None)
            if keys.federated_token_file.is_some()
                || from_env("AZURE_FEDERATED_TOKEN_FILE").is_some() =>
        {
            AuthKind::WorkloadIdentity
        }
        Ok(None) => {
            tried = Some(
                "auth = \"default\" tried the environment (no client_secret or \
                 AZURE_CLIENT_SECRET, no client_certificate or AZURE_CLIENT_CERTIFICATE_PATH), \
                 workload identity (no federated_token_file or AZURE_FEDERATED_TOKEN_FILE), \
                 then managed identity"
                    .to_string(),
            );
            AuthKind::ManagedIdentity
        }
        Err(message) => {
            problems.push(FieldError::new("account.auth", message));
            return None;
        }
    };
    let missing = |field: &str, what: &str, var: &str| {
        FieldError::new(
            field,
            format!(
                "missing: auth = \"{}\" needs {what}: give `{{ env = \"NAME\" }}` or \
                 `{{ file = \"path\" }}`, or set {var}",
                kind.as_str()
            ),
        )
    };
    let secret = |r: Option<&SecretRef>, field: &str, var: &str, what: &str, p: &mut Vec<_>| match r
    {
        Some(r) => resolve_secret(r, base, field, p),
        None => match from_env(var) {
            Some(v) => Some(Secret::new(v)),
            None => {
                p.push(missing(field, what, var));
                None
            }
        },
    };
    match kind {
        AuthKind::ClientSecret => {
            check_client(keys.client_id, keys.tenant_id, problems);
            let field = "account.client_secret";
            secret(
                keys.client_secret,
                field,
                "AZURE_CLIENT_SECRET",
                "the app's client secret",
                problems,
            )
            .map(Credential::ClientSecret)
        }
        AuthKind::ClientCertificate => {
            check_client(keys.client_id, keys.tenant_id, problems);
            let field = "account.client_certificate";
            let pem = match keys.client_certificate {
                Some(r) => resolve_secret(r, base, field, problems)?,
                // azure-identity's EnvironmentCredential names the PEM file by its path.
                None => match from_env("AZURE_CLIENT_CERTIFICATE_PATH") {
                    Some(path) => match std::fs::read_to_string(&path) {
                        Ok(text) => Secret::new(text),
                        Err(e) => {
                            problems.push(FieldError::new(
                                field,
                                format!("cannot read AZURE_CLIENT_CERTIFICATE_PATH `{path}`: {e}"),
                            ));
                            return None;
                        }
                    },
                    None => {
                        problems.push(missing(
                            field,
                            "a PEM file with the app's certificate and private key",
                            "AZURE_CLIENT_CERTIFICATE_PATH",
                        ));
                        return None;
                    }
                },
            };
            ClientCertificate::from_pem(pem.expose())
                .map(Credential::ClientCertificate)
                .map_err(|why| problems.push(FieldError::new(field, format!("the PEM {why}"))))
                .ok()
        }
        AuthKind::SharedKey => {
            let field = "account.account_key";
            let key = secret(
                keys.account_key,
                field,
                "AZURE_STORAGE_KEY",
                "the account key",
                problems,
            )?;
            use base64::Engine as _;
            match base64::engine::general_purpose::STANDARD.decode(key.expose()) {
                Ok(bytes) if !bytes.is_empty() => Some(Credential::SharedKey(key)),
                _ => {
                    problems.push(FieldError::new(
                        field,
                        "is not an account key: use key1 or key2 of the storage account \
                         (base64, as Access keys in the portal shows it)",
                    ));
                    None
                }
            }
        }
        AuthKind::Sas => {
            let field = "account.sas_token";
            let token = secret(
                keys.sas_token,
                field,
                "AZURE_STORAGE_SAS_TOKEN",
                "a SAS token",
                problems,
            )?;
            let sas = Sas::parse(token.expose())
                .map_err(|why| format!("the SAS token {why}"))
                .and_then(|sas| sas.check_expiry(SystemTime::now(), run).map(|()| sas));
            sas.map(Credential::Sas)
                .map_err(|message| problems.push(FieldError::new(field, message)))
                .ok()
        }
        AuthKind::WorkloadIdentity => {
            check_client(keys.client_id, keys.tenant_id, problems);
            let field = "account.federated_token_file";
            let file = match keys.federated_token_file {
                Some(file) => base.join(file),
                None => match from_env("AZURE_FEDERATED_TOKEN_FILE") {
                    Some(file) => PathBuf::from(file),
                    None => {
                        problems.push(FieldError::new(
                            field,
                            "missing: auth = \"workload-identity\" needs the service account \
                             token file: give its path, or set AZURE_FEDERATED_TOKEN_FILE (AKS \
                             sets it in pods with the azure.workload.identity/use label)",
                        ));
                        return None;
                    }
                },
            };
            match std::fs::read_to_string(&file) {
                Ok(text) if !text.trim().is_empty() => Some(Credential::WorkloadIdentity(file)),
                Ok(_) => {
                    problems.push(FieldError::new(
                        field,
                        format!("the federated token file `{}` is empty", file.display()),
                    ));
                    None
                }
                Err(e) => {
                    problems.push(FieldError::new(
                        field,
                        format!(
                            "cannot read the federated token file `{}`: {e}",
                            file.display()
                        ),
                    ));
                    None
                }
            }
        }
        AuthKind::ManagedIdentity => {
            let client_id = (!keys.client_id.is_empty()).then(|| keys.client_id.to_string());
            if let Some(id) = &client_id
                && !is_guid(id)
            {
                problems.push(FieldError::new(
                    "account.client_id",
                    format!(
                        "`{id}` is not a GUID: give the user-assigned identity's client ID, or \
                         leave it out for the system-assigned identity"
                    ),
                ));
            }
            let (url, identity_header) = match keys.identity_endpoint {
                Some(url) => (url.to_string(), None),
                None => match (from_env("IDENTITY_ENDPOINT"), from_env("IDENTITY_HEADER")) {
                    (Some(url), Some(header)) => (url, Some(Secret::new(header))),
                    _ => match from_env("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
                        Some(host) => (
                            format!(
                                "{}/metadata/identity/oauth2/token",
                                host.trim_end_matches('/')
                            ),
                            None,
                        ),
                        None => (IMDS_ENDPOINT.to_string(), None),
                    },
                },
            };
            if url::Url::parse(&url).is_err() {
                problems.push(FieldError::new(
                    "account.identity_endpoint",
                    format!("`{url}` is not a URL"),
                ));
                return None;
            }
            Some(Credential::ManagedIdentity(ManagedEndpoint {
                url,
                identity_header,
                client_id,
                tried,
            }))
        }
    }
}

fn check_client(client_id: &str, tenant_id: &str, problems: &mut Vec<FieldError>) {
    if !is_guid(client_id) {
        problems.push(FieldError::new(
            "account.client_id",
            format!(
                "`{client_id}` is not a GUID: use the application (client) ID of the app \
                 registration, like `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`"
            ),
        ));
    }
    if let Some(problem) = tenant_problem(tenant_id) {
        problems.push(FieldError::new("account.tenant_id", problem));
    }
}

/// Whether `s` is a GUID in its 8-4-4-4-12 hex form.
pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Why `s` is neither a tenant GUID nor a domain name, if it is neither.
fn tenant_problem(s: &str) -> Option<String> {
    if is_guid(s) {
        return None;
    }
    let why = domain_problem(s)?;
    Some(format!(
        "`{s}` is neither a GUID nor a domain name ({why}): use the directory (tenant) ID, \
         like `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, or a verified domain such as \
         `contoso.onmicrosoft.com`"
    ))
}

fn domain_problem(s: &str) -> Option<String> {
    if s.len() > 253 {
        return Some(format!("it is {} characters long (at most 253)", s.len()));
    }
    if !s.contains('.') {
        return Some("it has no dot".into());
    }
    for label in s.split('.') {
        let problem = if label.is_empty() {
            "it has an empty label (two dots in a row, or a dot at an end)".to_string()
        } else if label.len() > 63 {
            format!("its label `{label}` is longer than 63 characters")
        } else if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            format!("its label `{label}` holds characters other than letters, digits and hyphens")
        } else if label.starts_with('-') || label.ends_with('-') {
            format!("its label `{label}` starts or ends with a hyphen")
        } else {
            continue;
        };
        return Some(problem);
    }
    None
}

#[cfg(test)]
mod tests;
