//! SharedKey (learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key): the
//! string to sign is rebuilt from the request as received and its HMAC compared with the
//! one sent. The canonicalized resource is `/{account}{path}` of the raw path; a signer that
//! took the path-style URL's account segment for the account (and left it out) is accepted
//! too, as Azurite does.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method, Uri};

use super::{account_of, authentication_failed, query_pairs, signed};
use crate::errors::ServiceError;

/// The standard headers, in the order the string to sign lists them.
const STANDARD: [&str; 11] = [
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

/// The largest difference the service allows between a request's date and its clock.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Checks `credential` (`account:signature`) against the request.
pub(crate) fn verify(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    credential: &str,
) -> Result<(), ServiceError> {
    let Some((account, signature)) = credential.split_once(':') else {
        return Err(authentication_failed(
            "The Authorization header is not in the form `SharedKey account:signature`.",
        ));
    };
    if account != account_of(uri) {
        return Err(authentication_failed(&format!(
            "The account {account} in the Authorization header does not match the account of the request."
        )));
    }
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let date = match text("x-ms-date") {
        d if d.is_empty() => text("date"),
        d => d,
    };
    let Ok(when) = httpdate::parse_http_date(&date) else {
        return Err(authentication_failed(
            "The x-ms-date or Date header is missing or not an HTTP date.",
        ));
    };
    let now = SystemTime::now();
    let skew = now
        .duration_since(when)
        .or_else(|_| when.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(authentication_failed(&format!(
            "Request date header too old: '{date}'"
        )));
    }
    let path = uri.path();
    let mut resources = vec![format!("/{account}{path}")];
    if let Some(rest) = path.strip_prefix(&format!("/{account}")) {
        resources.push(format!(
            "/{account}{}",
            if rest.is_empty() { "/" } else { rest }
        ));
    }
    let head = string_head(method, headers);
    let query = canonical_query(uri);
    let mut first = None;
    for resource in resources {
        let sts = format!("{head}{resource}{query}");
        if signed(&sts, signature) {
            return Ok(());
        }
        first.get_or_insert(sts);
    }
    let sts = first.expect("one resource at least");
    Err(authentication_failed(&format!(
        "The MAC signature found in the HTTP request '{signature}' is not the same as any computed signature. Server used following string to sign: '{}'.",
        sts.escape_debug()
    )))
}

/// The verb, the standard headers and the canonicalized `x-ms-` headers.
fn string_head(method: &Method, headers: &HeaderMap) -> String {
    let mut out = format!("{method}\n");
    for name in STANDARD {
        let value = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim();
        // Since 2015-02-21 a zero Content-Length is signed as empty.
        let value = if name == "content-length" && value == "0" {
            ""
        } else {
            value
        };
        out.push_str(value);
        out.push('\n');
    }
    let mut ms: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-ms-"))
        .map(|(n, v)| {
            let v = String::from_utf8_lossy(v.as_bytes());
            (
                n.as_str().to_string(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    ms.sort();
    for (name, value) in ms {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out
}

/// `\nname:v1,v2` per parameter, names lowercased and sorted, values sorted.
fn canonical_query(uri: &Uri) -> String {
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in query_pairs(uri) {
        let name = name.to_lowercase();
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => params.push((name, vec![value])),
        }
    }
    params.sort();
    params
        .into_iter()
        .map(|(name, mut values)| {
            values.sort();
            format!("\n{name}:{}", values.join(","))
        })
        .collect()
}

/// The SharedKey signature of a request, for the emulator's own tests.
#[cfg(test)]
pub(crate) fn signature_of(method: &Method, uri: &Uri, headers: &HeaderMap) -> String {
    let account = account_of(uri);
    super::sign(&format!(
        "{}/{account}{}{}",
        string_head(method, headers),
        uri.path(),
        canonical_query(uri)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        let date = httpdate::fmt_http_date(SystemTime::now());
        h.insert("x-ms-date", HeaderValue::from_str(&date).unwrap());
        h.insert("x-ms-version", HeaderValue::from_static("2023-11-03"));
        h
    }

    #[test]
    fn a_right_signature_passes_and_a_wrong_one_is_refused_with_the_string_to_sign() {
        let uri: Uri = "/devstoreaccount1/fs/a.csv?action=append&position=0"
            .parse()
            .unwrap();
        let h = headers();
        let sig = signature_of(&Method::PATCH, &uri, &h);
        assert!(verify(&Method::PATCH, &uri, &h, &format!("devstoreaccount1:{sig}")).is_ok());
        let e = verify(&Method::PUT, &uri, &h, &format!("devstoreaccount1:{sig}")).unwrap_err();
        assert_eq!(e.code, "AuthenticationFailed");
        assert!(e.message.starts_with(super::super::FAILED), "{}", e.message);
        assert!(
            e.message
                .contains("Server used following string to sign: 'PUT"),
            "{}",
            e.message
        );
        let e = verify(&Method::PATCH, &uri, &h, &format!("otheraccount:{sig}")).unwrap_err();
        assert_eq!(e.code, "AuthenticationFailed");
    }

    #[test]
    fn an_old_date_is_refused() {
        let uri: Uri = "/devstoreaccount1/fs".parse().unwrap();
        let mut h = headers();
        let old = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(3600));
        h.insert("x-ms-date", HeaderValue::from_str(&old).unwrap());
        let sig = signature_of(&Method::GET, &uri, &h);
        let e = verify(&Method::GET, &uri, &h, &format!("devstoreaccount1:{sig}")).unwrap_err();
        assert!(e.message.contains("too old"), "{}", e.message);
    }
}
