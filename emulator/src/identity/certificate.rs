//! Client assertions signed with an app's certificate (learn.microsoft.com/entra/
//! identity-platform/certificate-credentials): an RS256 JWT whose header names the
//! certificate by its thumbprint (`x5t#S256`, or the SHA-1 `x5t`), whose `iss` and `sub` are
//! the app's client ID and whose `aud` is the token endpoint, within its `nbf`/`exp`. The
//! signature is verified with the public key of the certificate registered for the app, and
//! refusals carry Entra ID's codes (`AADSTS700027`, `AADSTS700023`, `AADSTS700021`,
//! `AADSTS700024`, `AADSTS50027`).

use std::time::SystemTime;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::Value;

use super::AadError;
use crate::config::EntraApp;
use crate::timefmt;

/// How far `nbf` and `exp` may be off the emulator's clock, as Entra ID allows.
const CLOCK_SKEW_SECS: u64 = 300;

fn invalid(code: u32, description: String) -> AadError {
    AadError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        code,
        description,
    )
}

/// The decoded parts of a compact JWS.
struct Jws<'a> {
    header: Value,
    claims: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn decode(assertion: &str) -> Option<Jws<'_>> {
    let (signing_input, signature) = assertion.trim().rsplit_once('.')?;
    let (header, claims) = signing_input.split_once('.')?;
    let object = |part: &str| {
        let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .filter(Value::is_object)
    };
    Some(Jws {
        header: object(header)?,
        claims: object(claims)?,
        signing_input,
        signature: URL_SAFE_NO_PAD.decode(signature).ok()?,
    })
}

/// Whether `assertion` claims to be signed by the app itself (`iss` is the client ID), as a
/// certificate assertion is; a federated token's issuer is its identity provider.
pub(super) fn is_certificate_assertion(app: &EntraApp, assertion: &str) -> bool {
    decode(assertion).is_some_and(|jws| {
        jws.claims["iss"]
            .as_str()
            .is_some_and(|iss| iss.eq_ignore_ascii_case(&app.client_id))
    })
}

/// The base64url SHA-256 and SHA-1 thumbprints of a certificate (DER).
fn thumbprints(der: &[u8]) -> (String, String) {
    let sha256 = ring::digest::digest(&ring::digest::SHA256, der);
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    (URL_SAFE_NO_PAD.encode(sha256), URL_SAFE_NO_PAD.encode(sha1))
}

/// A base64url thumbprint without its padding: MSAL pads `x5t` (`…=`), others do not.
fn unpadded(thumbprint: &str) -> String {
    thumbprint
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// Checks a certificate assertion for `app`, sent to `token_endpoints` (the URLs its `aud`
/// may name: the endpoint by the tenant as the request named it, and by the tenant's ID).
pub(super) fn check(
    app: &EntraApp,
    token_endpoints: &[String],
    assertion: &str,
) -> Result<(), AadError> {
    let jws = decode(assertion)
        .ok_or_else(|| invalid(50027, "JWT token is invalid or malformed.".into()))?;
    if jws.header["alg"].as_str() != Some("RS256") {
        return Err(invalid(
            50027,
            format!(
                "Invalid JWT token. Unsupported signing algorithm '{}': client assertions are signed with RS256.",
                jws.header["alg"].as_str().unwrap_or_default()
            ),
        ));
    }
    let thumbprint = jws.header["x5t#S256"]
        .as_str()
        .map(|t| (t, true))
        .or_else(|| jws.header["x5t"].as_str().map(|t| (t, false)));
    let Some((thumbprint, sha256)) = thumbprint else {
        return Err(invalid(
            50027,
            "Invalid JWT token. The token header has no certificate thumbprint (x5t#S256 or x5t)."
                .into(),
        ));
    };
    let registered = app
        .certificates
        .iter()
        .flat_map(|pem| CertificateDer::pem_slice_iter(pem.as_bytes()).flatten())
        .find(|der| {
            let (s256, s1) = thumbprints(der);
            let wanted = if sha256 { s256 } else { s1 };
            wanted == unpadded(thumbprint)
        });
    let Some(certificate) = registered else {
        return Err(invalid(
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                app.client_id
            ),
        ));
    };
    let verified = webpki::EndEntityCert::try_from(&certificate).is_ok_and(|cert| {
        cert.verify_signature(
            webpki::ring::RSA_PKCS1_2048_8192_SHA256,
            jws.signing_input.as_bytes(),
            &jws.signature,
        )
        .is_ok()
    });
    if !verified {
        return Err(invalid(
            700027,
            "Client assertion failed signature validation.".into(),
        ));
    }
    let claims = &jws.claims;
    let text = |name: &str| claims[name].as_str().unwrap_or_default();
    if !text("iss").eq_ignore_ascii_case(&app.client_id)
        || !text("sub").eq_ignore_ascii_case(&app.client_id)
    {
        return Err(invalid(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.".into(),
        ));
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences
        .iter()
        .any(|a| token_endpoints.iter().any(|e| e.eq_ignore_ascii_case(a)))
    {
        return Err(invalid(
            700023,
            format!(
                "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials . Expected: '{}'. Actual: '{}'.",
                token_endpoints.first().map_or("", String::as_str),
                audiences.join(",")
            ),
        ));
    }
    let now = timefmt::unix_secs(SystemTime::now());
    // NumericDate may have a fraction (MSAL Python sends `time.time()` floats).
    let seconds = |name: &str| claims[name].as_f64().unwrap_or(0.0) as u64;
    let (exp, nbf) = (seconds("exp"), seconds("nbf"));
    if now >= exp + CLOCK_SKEW_SECS || nbf > now + CLOCK_SKEW_SECS {
        return Err(invalid(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."
            ),
        ));
    }
    if text("jti").is_empty() {
        return Err(invalid(
            50027,
            "Invalid JWT token. The token has no 'jti' claim.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_are_base64url_digests() {
        let (s256, s1) = thumbprints(b"abc");
        assert_eq!(s256, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert_eq!(s1, "qZk-NkcGgWq6PiVxeFDCbJzQ2J0");
    }

    #[test]
    fn garbage_is_malformed() {
        let app = crate::config::EmulatorConfig::well_known("/tmp").apps[0].clone();
        assert_eq!(check(&app, &[], "not a jwt").unwrap_err().code, 50027);
        assert!(!is_certificate_assertion(&app, "a.b.c"));
    }
}
