//! The host's HTTP client, built once and cloned (building one per store costs ~4 ms of
//! certificate loading), and the one way a transport error is worded.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

/// A proxy for every request, and its Basic credentials (user, password). `Debug` never
/// shows the password.
#[derive(Clone, PartialEq)]
pub struct ProxySettings {
    /// `http://host:port`.
    pub url: String,
    /// User name and password.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.credentials.as_ref().map(|(user, _)| user);
        f.debug_struct("ProxySettings")
            .field("url", &self.url)
            .field("user", &user)
            .finish_non_exhaustive()
    }
}

/// Builds the client every run shares: no redirects (a redirect could leave the granted
/// origins), bounded connect and request times, the public roots plus those in `ca_file`.
/// Certificate verification is never turned off. Proxies come from `HTTPS_PROXY`,
/// `HTTP_PROXY` and `NO_PROXY` (and their lower-case forms), as the Azure SDKs and AzCopy read
/// them, credentials in the URL included.
pub fn client_trusting(ca_file: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    client_with(ca_file, None)
}

/// [`client_trusting`], with every request through `proxy` when given (`NO_PROXY` still
/// applies).
pub fn client_with(
    ca_file: Option<&Path>,
    proxy: Option<&ProxySettings>,
) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(300))
        .user_agent(concat!("adls-writeback/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem =
            std::fs::read(path).with_context(|| format!("reading ca_file `{}`", path.display()))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("ca_file `{}` holds no PEM certificate", path.display()))?;
        anyhow::ensure!(
            !roots.is_empty(),
            "ca_file `{}` holds no PEM certificate",
            path.display()
        );
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
    }
    if let Some(settings) = proxy {
        let mut proxy = reqwest::Proxy::all(&settings.url)
            .with_context(|| format!("http.proxy `{}`", settings.url))?
            .no_proxy(reqwest::NoProxy::from_env());
        if let Some((user, password)) = &settings.credentials {
            proxy = proxy.basic_auth(user, password);
        }
        builder = builder.proxy(proxy);
    }
    Ok(builder.build()?)
}

/// An error with its chain of causes, `outer: cause: root cause`: reqwest's own message
/// alone ("error sending request") hides what went wrong (a refused certificate, a reset).
pub fn describe_error(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_described_with_their_causes() {
        let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let outer = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, inner);
        assert_eq!(
            describe_error(&outer),
            "invalid peer certificate: UnknownIssuer"
        );
        let wrapped = anyhow::Error::new(outer).context("error sending request");
        let text = describe_error(wrapped.as_ref());
        assert!(
            text.starts_with("error sending request: invalid peer certificate"),
            "{text}"
        );
    }
}
