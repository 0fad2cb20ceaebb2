//! The host's HTTP client, built once and cloned (building one per store costs ~4 ms of
//! certificate loading), and the one way a transport error is worded.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

/// Builds the client every run shares: no redirects (a redirect could leave the granted
/// origins), bounded connect and request times, the public roots plus those in `ca_file`.
/// Certificate verification is never turned off.
pub fn client_trusting(ca_file: Option<&Path>) -> anyhow::Result<reqwest::Client> {
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
