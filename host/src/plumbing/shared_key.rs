//! Azure Storage's SharedKey scheme (learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key):
//! the string to sign of a request (its verb, standard headers, canonicalised `x-ms-` headers
//! and canonicalised resource) and its HMAC-SHA256 under the account key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use reqwest::Request;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use sha2::Sha256;

/// The standard headers, in the order the string to sign lists them.
const STANDARD_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// The string to sign of `request` for `account` (service version 2015-02-21 and later:
/// a `Content-Length` of 0 is signed as empty). `content_length` is the body's length.
pub fn string_to_sign(request: &Request, account: &str, content_length: u64) -> String {
    let headers = request.headers();
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut out = String::new();
    out.push_str(request.method().as_str());
    out.push('\n');
    for name in STANDARD_HEADERS {
        let v = if name == "content-length" {
            if content_length == 0 {
                String::new()
            } else {
                content_length.to_string()
            }
        } else {
            value(name)
        };
        out.push_str(&v);
        out.push('\n');
    }
    let mut ms: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-ms-"))
        .map(|(n, v)| {
            let v = String::from_utf8_lossy(v.as_bytes());
            (n.as_str().to_string(), fold_whitespace(&v))
        })
        .collect();
    ms.sort();
    for (name, value) in ms {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push('/');
    out.push_str(account);
    out.push_str(request.url().path());
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for pair in request.url().query().unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name).to_lowercase();
        let value = decode(value);
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => params.push((name, vec![value])),
        }
    }
    params.sort();
    for (name, mut values) in params {
        values.sort();
        out.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    out
}

/// The base64 HMAC-SHA256 of `text` under the base64 `key`; `None` when the key is not base64.
pub fn sign(key: &str, text: &str) -> Option<String> {
    let key = BASE64.decode(key).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(text.as_bytes());
    Some(BASE64.encode(mac.finalize().into_bytes()))
}

/// Signs `request` for `account` with the base64 `key`: sets `x-ms-date` (now) and
/// `Authorization: SharedKey account:signature`. `false` when the key is not base64.
pub fn authorize(request: &mut Request, account: &str, key: &str) -> bool {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    request.headers_mut().insert(
        "x-ms-date",
        HeaderValue::from_str(&date).expect("an HTTP date is a header value"),
    );
    let length = request
        .body()
        .and_then(|b| b.as_bytes())
        .map_or(0, |b| b.len() as u64);
    let Some(signature) = sign(key, &string_to_sign(request, account, length)) else {
        return false;
    };
    let value = HeaderValue::from_str(&format!("SharedKey {account}:{signature}"))
        .expect("base64 is a header value");
    request.headers_mut().insert(AUTHORIZATION, value);
    true
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Runs of whitespace in a header value become one space, and the ends are trimmed.
fn fold_whitespace(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The emulator's published key (Azurite's too).
    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    #[test]
    fn the_string_to_sign_lists_headers_and_the_canonical_resource() {
        let client = reqwest::Client::new();
        let request = client
            .patch("http://127.0.0.1:10004/devstoreaccount1/fs/a%20b.csv?position=0&action=append")
            .header("x-ms-version", "2023-11-03")
            .header("X-MS-Client-Request-Id", "  run-1   7 ")
            .header("Content-Type", "text/csv")
            .body("abc")
            .build()
            .unwrap();
        assert_eq!(
            string_to_sign(&request, "devstoreaccount1", 3),
            "PATCH\n\n\n3\n\ntext/csv\n\n\n\n\n\n\n\
             x-ms-client-request-id:run-1 7\nx-ms-version:2023-11-03\n\
             /devstoreaccount1/devstoreaccount1/fs/a%20b.csv\naction:append\nposition:0"
        );
    }

    #[test]
    fn signing_sets_the_date_and_the_authorization_header() {
        let client = reqwest::Client::new();
        let mut request = client
            .get("http://127.0.0.1:10004/devstoreaccount1/fs?resource=filesystem")
            .build()
            .unwrap();
        assert!(authorize(&mut request, "devstoreaccount1", KEY));
        let auth = request.headers()[AUTHORIZATION]
            .to_str()
            .unwrap()
            .to_string();
        let expected = sign(KEY, &string_to_sign(&request, "devstoreaccount1", 0)).unwrap();
        assert_eq!(auth, format!("SharedKey devstoreaccount1:{expected}"));
        assert!(request.headers().contains_key("x-ms-date"));
        assert!(!authorize(&mut request, "devstoreaccount1", "not base64!"));
    }
}
