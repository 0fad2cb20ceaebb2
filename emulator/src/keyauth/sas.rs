//! Shared access signatures: account SAS (`ss`, `srt`) and service SAS for a container, a
//! blob or a directory (`sr` = `c`, `b`, `d`) signed with the account key, and user
//! delegation SAS (`skoid`, … signed with a user delegation key, see [`super::delegation`]),
//! as learn.microsoft.com/rest/api/storageservices/create-account-sas, create-service-sas
//! and create-user-delegation-sas describe them for versions 2018-11-09 and later. Execute
//! (`e`) allows getting properties and ACLs; changing an owner or owning group also takes
//! ownership (`o`). The signature covers
//! the resource, so a SAS used outside its container, file or directory fails as a signature
//! mismatch (`AuthenticationFailed`), as it does on the service; a valid SAS without the
//! permission, service or resource type a request needs is refused with the service's
//! `AuthorizationPermissionMismatch`, `AuthorizationServiceMismatch` or
//! `AuthorizationResourceTypeMismatch`.

use std::time::SystemTime;

use axum::http::{HeaderMap, Method, StatusCode, Uri};

use super::{authentication_failed, decode, delegation, signed};
use crate::caller::{Agent, Caller};
use crate::errors::ServiceError;
use crate::identity::Directory;

/// The first version with `ses` (encryption scope) in the string to sign of a service SAS.
const WITH_ENCRYPTION_SCOPE: &str = "2020-12-06";
/// The oldest version this emulator verifies (`sr` and `snapshot` in the string to sign).
const OLDEST: &str = "2018-11-09";

fn refused(code: &'static str, message: &str) -> ServiceError {
    ServiceError::new(StatusCode::FORBIDDEN, code, message.to_string())
}

/// The bearer token a request carries beside its SAS (its tenant and object ID): a user
/// delegation SAS with `sduoid` is valid only with a token of that user.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bearer<'a> {
    /// `tid`.
    pub tenant: &'a str,
    /// `oid`.
    pub oid: &'a str,
}

/// Checks the SAS in `pairs` (the request's query) against the request, and tells whom it
/// acts as. A user delegation SAS (`skoid`) is verified with the key its fields derive
/// (`super::delegation`), within the key's lifetime, for an app of `directory` whose role
/// allows the request.
pub(crate) fn verify(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    directory: &Directory,
    bearer: Option<Bearer<'_>>,
) -> Result<Caller, ServiceError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let version = get("sv");
    if version < OLDEST {
        return Err(authentication_failed(&format!(
            "The signed version `{version}` is not one this emulator verifies (2018-11-09 or later)."
        )));
    }
    let segments: Vec<String> = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let account = segments.first().map_or("", String::as_str);
    let container = segments.get(1).map(String::as_str);
    let path = &segments[segments.len().min(2)..];
    let delegated = !get("skoid").is_empty();
    let now = SystemTime::now();
    let caller = if delegated {
        let request = (method, headers, pairs);
        verify_delegated(&get, account, container, path, request, directory, bearer)?
    } else {
        let sts = key_string_to_sign(&get, account, container, path);
        if !signed(&sts, get("sig")) {
            return Err(signature_mismatch(&sts));
        }
        Caller::AccountKey
    };
    let time = |name: &str| {
        let value = get(name);
        (!value.is_empty()).then(|| parse_utc(value))
    };
    let expired = match time("se") {
        Some(Some(se)) => now >= se,
        _ => true,
    };
    let early = matches!(time("st"), Some(Some(st)) if now < st);
    if expired || early {
        return Err(authentication_failed(&format!(
            "Signature not valid in the specified time frame: Start [{}] - Expiry [{}] - Current [{}]",
            get("st"),
            get("se"),
            httpdate::fmt_http_date(now)
        )));
    }
    if !get("ss").is_empty() {
        if !get("ss").contains('b') {
            return Err(refused(
                "AuthorizationServiceMismatch",
                "This request is not authorized to perform this operation using this service.",
            ));
        }
        let needed = match (container, path.is_empty()) {
            (None, _) => 's',
            (Some(_), true) if container_level(uri) => 'c',
            _ => 'o',
        };
        if !get("srt").contains(needed) {
            return Err(refused(
                "AuthorizationResourceTypeMismatch",
                "This request is not authorized to perform this operation using this resource type.",
            ));
        }
    }
    let permissions = get("sp");
    let allowed = needed_permissions(method, uri, headers)
        .chars()
        .any(|p| permissions.contains(p));
    // Changing an owner or owning group also takes the ownership permission.
    let chown = uri
        .query()
        .unwrap_or_default()
        .contains("action=setAccessControl")
        && (headers.contains_key("x-ms-owner") || headers.contains_key("x-ms-group"));
    if !allowed || (chown && !permissions.contains('o')) {
        return Err(refused(
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ));
    }
    Ok(caller)
}

fn signature_mismatch(sts: &str) -> ServiceError {
    authentication_failed(&format!(
        "Signature did not match. String to sign used was {}",
        sts.escape_debug()
    ))
}

/// The resource a service or user delegation SAS signs: its container, blob or directory
/// (the first `sdd` segments of the path), or the account.
fn canonical_resource<'a>(
    get: &dyn Fn(&str) -> &'a str,
    account: &str,
    container: Option<&str>,
    path: &[String],
) -> String {
    match (get("sr"), container) {
        ("c", Some(c)) => format!("/blob/{account}/{c}"),
        ("b" | "bs" | "bv", Some(c)) => format!("/blob/{account}/{c}/{}", path.join("/")),
        ("d", Some(c)) => {
            let depth: usize = get("sdd").parse().unwrap_or(usize::MAX);
            let dir = path.get(..depth).map(|d| d.join("/")).unwrap_or_default();
            format!("/blob/{account}/{c}/{dir}")
        }
        _ => format!("/blob/{account}"),
    }
}

/// The string to sign of an account SAS (`ss`) or a service SAS.
fn key_string_to_sign<'a>(
    get: &dyn Fn(&str) -> &'a str,
    account: &str,
    container: Option<&str>,
    path: &[String],
) -> String {
    let scoped = get("sv") >= WITH_ENCRYPTION_SCOPE;
    if !get("ss").is_empty() {
        let mut fields = vec![
            account,
            get("sp"),
            get("ss"),
            get("srt"),
            get("st"),
            get("se"),
            get("sip"),
            get("spr"),
            get("sv"),
        ];
        if scoped {
            fields.push(get("ses"));
        }
        return fields.join("\n") + "\n";
    }
    let resource = canonical_resource(get, account, container, path);
    let mut fields = vec![
        get("sp"),
        get("st"),
        get("se"),
        &resource,
        get("si"),
        get("sip"),
        get("spr"),
        get("sv"),
        get("sr"),
        get("snapshot"),
    ];
    if scoped {
        fields.push(get("ses"));
    }
    fields.extend([
        get("rscc"),
        get("rscd"),
        get("rsce"),
        get("rscl"),
        get("rsct"),
    ]);
    fields.join("\n")
}

/// Verifies a user delegation SAS: its signature under the key its fields derive, the key's
/// lifetime and service, the app that asked for the key (its role must allow the request),
/// the signed request headers and parameters (`srh`, `srq`) and, with `sduoid`, the
/// request's bearer token. Returns whom the request acts as (`saoid`, `suoid`).
fn verify_delegated<'a>(
    get: &dyn Fn(&str) -> &'a str,
    account: &str,
    container: Option<&str>,
    path: &[String],
    (method, headers, pairs): (&Method, &HeaderMap, &[(String, String)]),
    directory: &Directory,
    bearer: Option<Bearer<'_>>,
) -> Result<Caller, ServiceError> {
    let listed = |name: &str| -> Vec<String> {
        get(name)
            .split(',')
            .filter(|n| !n.is_empty())
            .map(decode)
            .collect()
    };
    let signed_headers: Vec<(String, String)> = listed("srh")
        .into_iter()
        .map(|name| {
            let value = headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            (name, value)
        })
        .collect();
    let signed_query: Vec<(String, String)> = listed("srq")
        .into_iter()
        .map(|name| {
            let value = pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (name, value)
        })
        .collect();
    let resource = canonical_resource(get, account, container, path);
    let sts = delegation::string_to_sign(get, &resource, &signed_headers, &signed_query);
    let key = delegation::KeyFields {
        account,
        oid: get("skoid"),
        tid: get("sktid"),
        start: get("skt"),
        expiry: get("ske"),
        version: get("skv"),
        delegated_tid: get("skdutid"),
    };
    if !super::signed_with(&key.value(), &sts, get("sig")) {
        return Err(signature_mismatch(&sts));
    }
    let now = SystemTime::now();
    let key_valid = matches!(
        (parse_utc(get("skt")), parse_utc(get("ske"))),
        (Some(start), Some(expiry)) if start <= now && now < expiry
    );
    if !key_valid || !get("sks").contains('b') {
        return Err(authentication_failed(&format!(
            "The user delegation key is not valid: Start [{}] - Expiry [{}] - Service [{}] - Current [{}]",
            get("skt"),
            get("ske"),
            get("sks"),
            httpdate::fmt_http_date(now)
        )));
    }
    match directory.principal(get("sktid"), get("skoid")) {
        // The key's app's role: a read-only one signs for reads only.
        Some(app)
            if app.data_access
                && (!app.read_only || matches!(*method, Method::GET | Method::HEAD)) => {}
        _ => {
            return Err(refused(
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            ));
        }
    }
    let delegated_user = get("sduoid");
    if !delegated_user.is_empty() {
        let tenant = match get("skdutid") {
            "" => get("sktid"),
            t => t,
        };
        if !bearer.is_some_and(|b| b.oid == delegated_user && b.tenant == tenant) {
            return Err(authentication_failed(
                "The signed delegated user object ID (sduoid) needs a bearer token of that user.",
            ));
        }
    }
    let agent = match (get("saoid"), get("suoid")) {
        ("", "") => None,
        (oid, "") => Some(Agent {
            oid: oid.to_string(),
            checked: false,
        }),
        ("", oid) => Some(Agent {
            oid: oid.to_string(),
            checked: true,
        }),
        _ => {
            return Err(authentication_failed(
                "saoid and suoid cannot be used together.",
            ));
        }
    };
    Ok(Caller::Delegated(agent))
}

/// A SAS time, `YYYY-MM-DD`, `YYYY-MM-DDThh:mmZ` or `YYYY-MM-DDThh:mm:ss[.fffffff]Z` (UTC).
pub(crate) fn parse_utc(value: &str) -> Option<SystemTime> {
    let value = value.strip_suffix('Z').unwrap_or(value);
    let (date, time) = value.split_once('T').unwrap_or((value, "00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.split('.').next()?;
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min) = (t.next()??, t.next()??);
    let sec = t.next().flatten().unwrap_or(0);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    // Civil date to days (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + min * 60 + sec;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Whether a request to a container's path addresses the container itself (its listing,
/// properties, creation or deletion) rather than its root directory's paths.
fn container_level(uri: &Uri) -> bool {
    let query = uri.query().unwrap_or_default();
    query.contains("restype=container")
        || query.contains("resource=filesystem")
        || query.contains("comp=list")
        || !query.contains("action=")
}

/// The permissions any one of which allows the request.
fn needed_permissions(method: &Method, uri: &Uri, headers: &HeaderMap) -> &'static str {
    let query = uri.query().unwrap_or_default();
    let listing = query.contains("comp=list")
        || (query.contains("resource=filesystem")
            && !matches!(*method, Method::PUT | Method::DELETE));
    match *method {
        Method::GET | Method::HEAD if listing => "l",
        // Execute (`e`) gets the system properties and the ACL.
        Method::HEAD => "re",
        Method::GET => "r",
        Method::DELETE => "d",
        Method::PATCH if query.contains("action=append") => "aw",
        Method::PATCH if query.contains("action=setAccessControl") => "pw",
        Method::PATCH => "w",
        Method::PUT if headers.contains_key("x-ms-rename-source") => "mcw",
        Method::PUT if query.contains("resource=") || query.contains("restype=container") => "cw",
        _ => "wc",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyauth::sign;

    fn service_sas(resource: &str, sp: &str, se: &str, sr: &str, extra: &str) -> String {
        let sts = [
            sp,
            "",
            se,
            resource,
            "",
            "",
            "",
            "2023-11-03",
            sr,
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n");
        let sig = sign(&sts);
        let sig: String = url_encode(&sig);
        format!("sv=2023-11-03&sp={sp}&se={se}&sr={sr}{extra}&sig={sig}")
    }

    fn url_encode(s: &str) -> String {
        s.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    }

    fn check(method: Method, uri: &str) -> Result<(), ServiceError> {
        let uri: Uri = uri.parse().unwrap();
        let pairs = super::super::query_pairs(&uri);
        let directory = Directory::new(Vec::new());
        verify(&method, &uri, &HeaderMap::new(), &pairs, &directory, None).map(|_| ())
    }

    const LATER: &str = "2999-01-01T00:00:00Z";

    #[test]
    fn a_container_sas_allows_what_it_signs_and_nothing_else() {
        let sas = service_sas("/blob/devstoreaccount1/fs", "rcwl", LATER, "c", "");
        assert!(
            check(
                Method::PUT,
                &format!("/devstoreaccount1/fs/a.csv?resource=file&{sas}")
            )
            .is_ok()
        );
        assert!(check(Method::GET, &format!("/devstoreaccount1/fs/a.csv?{sas}")).is_ok());
        let e = check(Method::DELETE, &format!("/devstoreaccount1/fs/a.csv?{sas}")).unwrap_err();
        assert_eq!(e.code, "AuthorizationPermissionMismatch");
        // Another container: the signature does not cover it.
        let e = check(Method::GET, &format!("/devstoreaccount1/other/a.csv?{sas}")).unwrap_err();
        assert_eq!(e.code, "AuthenticationFailed");
        assert!(
            e.message.contains("Signature did not match"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_expired_sas_is_refused_in_the_services_words() {
        let sas = service_sas(
            "/blob/devstoreaccount1/fs",
            "r",
            "2001-01-01T00:00:00Z",
            "c",
            "",
        );
        let e = check(Method::GET, &format!("/devstoreaccount1/fs/a.csv?{sas}")).unwrap_err();
        assert_eq!(e.code, "AuthenticationFailed");
        assert!(
            e.message
                .contains("Signature not valid in the specified time frame"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_account_sas_checks_service_and_resource_type() {
        let sts = [
            "devstoreaccount1",
            "rl",
            "b",
            "c",
            "",
            LATER,
            "",
            "",
            "2023-11-03",
            "",
        ]
        .join("\n")
            + "\n";
        let sig = url_encode(&sign(&sts));
        let sas = format!("sv=2023-11-03&ss=b&srt=c&sp=rl&se={LATER}&sig={sig}");
        assert!(
            check(
                Method::GET,
                &format!("/devstoreaccount1/fs?resource=filesystem&{sas}")
            )
            .is_ok()
        );
        let e = check(Method::GET, &format!("/devstoreaccount1/fs/a.csv?{sas}")).unwrap_err();
        assert_eq!(e.code, "AuthorizationResourceTypeMismatch");
    }

    #[test]
    fn sas_times_are_read_in_utc() {
        let t = parse_utc("2026-12-02T12:30:05Z").unwrap();
        assert_eq!(httpdate::fmt_http_date(t), "Wed, 02 Dec 2026 12:30:05 GMT");
        assert_eq!(parse_utc("2026-12-02T12:30:05.1234567Z"), Some(t));
        assert_eq!(
            httpdate::fmt_http_date(parse_utc("2000-02-29").unwrap()),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(parse_utc("tomorrow"), None);
    }

    #[test]
    fn a_blob_sas_is_for_that_blob_only() {
        let sas = service_sas("/blob/devstoreaccount1/fs/dir/a.csv", "r", LATER, "b", "");
        assert!(
            check(
                Method::GET,
                &format!("/devstoreaccount1/fs/dir/a.csv?{sas}")
            )
            .is_ok()
        );
        let e = check(
            Method::GET,
            &format!("/devstoreaccount1/fs/dir/b.csv?{sas}"),
        )
        .unwrap_err();
        assert_eq!(e.code, "AuthenticationFailed");
    }
}
