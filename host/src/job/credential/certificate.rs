//! `auth = "client-certificate"`: the app's certificate and its RSA private key, read from
//! one PEM file (as azure-identity's `CertificateCredential` takes them), and the client
//! assertion they sign (learn.microsoft.com/entra/identity-platform/certificate-credentials).

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::job::secret::Secret;

/// How long a client assertion is valid: Entra ID takes it once, at once.
const ASSERTION_LIFETIME_SECS: u64 = 600;

/// An app certificate with its private key. Its `Debug` shows the thumbprint only.
#[derive(Clone)]
pub struct ClientCertificate {
    key: Arc<RsaKeyPair>,
    /// The certificate's SHA-256 thumbprint, base64url (the assertion's `x5t#S256`).
    thumbprint: String,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Reads the first certificate and the private key (PKCS#8 or PKCS#1 RSA) of `pem`. The
    /// error says what is missing or wrong, never a byte of the key.
    pub fn from_pem(pem: &str) -> Result<ClientCertificate, String> {
        let certificate = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .ok_or("holds no certificate (a `-----BEGIN CERTIFICATE-----` block)")?
            .map_err(|e| format!("holds an unreadable certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
            "holds no private key (a `-----BEGIN PRIVATE KEY-----` or \
             `-----BEGIN RSA PRIVATE KEY-----` block, unencrypted)"
                .to_string()
        })?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => return Err("holds a private key that is not RSA: Entra ID client assertions are signed with RS256".into()),
        }
        .map_err(|e| format!("holds an RSA private key that cannot sign ({e}): it must be 2048 bits or more"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, certificate.as_ref());
        Ok(ClientCertificate {
            key: Arc::new(key),
            thumbprint: URL_SAFE_NO_PAD.encode(digest),
        })
    }

    /// The certificate's SHA-256 thumbprint, base64url.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A client assertion of `client_id` for the token endpoint `audience`, made at `now`:
    /// an RS256 JWT naming the certificate (`x5t#S256`), with `iss` = `sub` = the client ID,
    /// a fresh `jti`, and `nbf`/`exp` around `now`.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: SystemTime,
    ) -> Result<Secret, String> {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": self.thumbprint});
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| {
                "the certificate's private key could not sign the assertion".to_string()
            })?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTERED: &str =
        include_str!("../../../../emulator/src/identity/client-certificate.pem");

    fn part(jwt: &str, n: usize) -> serde_json::Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(n).unwrap())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn an_assertion_names_the_certificate_and_the_app() {
        let certificate = ClientCertificate::from_pem(REGISTERED).unwrap();
        let now = UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let jwt = certificate
            .assertion("app-id", "https://login.example/t/oauth2/v2.0/token", now)
            .unwrap();
        let jwt = jwt.expose();
        let header = part(jwt, 0);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"], certificate.thumbprint());
        let claims = part(jwt, 1);
        assert_eq!(claims["iss"], "app-id");
        assert_eq!(claims["sub"], "app-id");
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(claims["nbf"], 1_800_000_000);
        assert_eq!(claims["exp"], 1_800_000_600);
        assert!(!claims["jti"].as_str().unwrap().is_empty());
        let signature = URL_SAFE_NO_PAD
            .decode(jwt.rsplit('.').next().unwrap())
            .unwrap();
        assert_eq!(signature.len(), 256, "RSA 2048 signs 256 bytes");
        assert!(
            !format!("{certificate:?}").contains("PRIVATE"),
            "Debug shows no key"
        );
    }

    #[test]
    fn a_pem_without_a_certificate_or_an_rsa_key_is_refused_by_name() {
        let key_only = REGISTERED
            .split("-----END CERTIFICATE-----")
            .nth(1)
            .unwrap();
        let certificate_only = REGISTERED
            .split("-----BEGIN PRIVATE KEY-----")
            .next()
            .unwrap();
        assert!(
            ClientCertificate::from_pem(key_only)
                .unwrap_err()
                .contains("no certificate")
        );
        assert!(
            ClientCertificate::from_pem(certificate_only)
                .unwrap_err()
                .contains("no private key")
        );
        assert!(
            ClientCertificate::from_pem("not a PEM at all")
                .unwrap_err()
                .contains("no certificate")
        );
    }
}
