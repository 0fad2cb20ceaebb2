//! Compact JWS (JWT) signing and verification with HS256 and the emulator's signing key.
//!
//! The key is fixed and public (like Azurite's account key): tokens survive a restart and are
//! valid for any emulator instance, as real tokens are valid for every node of a service.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The emulator's HS256 signing key. Public: the emulator guards nothing real.
const SIGNING_KEY: &[u8] =
    b"adls-writeback-emulator HS256 signing key; public, for local testing only";

/// Key ID put in every token header.
pub(crate) const KEY_ID: &str = "emulator-hs256";

/// Why a token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JwtError {
    /// Not three base64url segments of JSON objects.
    #[error("the token is malformed")]
    Malformed,
    /// Header `alg` is not HS256.
    #[error("the token algorithm is not supported")]
    UnsupportedAlgorithm,
    /// The signature does not verify with the emulator's key.
    #[error("the token signature is invalid")]
    BadSignature,
}

fn mac() -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(SIGNING_KEY).expect("HMAC accepts keys of any length")
}

/// Signs `claims` into a compact JWT with header `{"typ":"JWT","alg":"HS256","kid":…}`.
pub(crate) fn sign(claims: &Value) -> String {
    let header = json!({"typ": "JWT", "alg": "HS256", "kid": KEY_ID});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = mac();
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Verifies the signature of a compact JWT and returns its claims (an object).
pub(crate) fn verify(token: &str) -> Result<Value, JwtError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode_object = |segment: &str| -> Result<Value, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| JwtError::Malformed)?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
        if value.is_object() {
            Ok(value)
        } else {
            Err(JwtError::Malformed)
        }
    };
    let header = decode_object(h)?;
    let claims = decode_object(c)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    let mut mac = mac();
    mac.update(h.as_bytes());
    mac.update(b".");
    mac.update(c.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| JwtError::BadSignature)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let token = sign(&json!({"aud": "https://storage.azure.com", "exp": 10}));
        let claims = verify(&token).unwrap();
        assert_eq!(claims["aud"], "https://storage.azure.com");
        assert_eq!(claims["exp"], 10);
    }

    #[test]
    fn rejects_tampering_and_garbage() {
        let token = sign(&json!({"aud": "a"}));
        let (head, _) = token.rsplit_once('.').unwrap();
        let forged_claims = URL_SAFE_NO_PAD.encode(json!({"aud": "b"}).to_string());
        let header = head.split('.').next().unwrap();
        let sig = token.rsplit('.').next().unwrap();
        let forged = format!("{header}.{forged_claims}.{sig}");
        assert_eq!(verify(&forged), Err(JwtError::BadSignature));
        assert_eq!(verify("abc"), Err(JwtError::Malformed));
        assert_eq!(verify("a.b.c"), Err(JwtError::Malformed));
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert_eq!(verify(&none_alg), Err(JwtError::UnsupportedAlgorithm));
    }
}
