//! Names the operation a request performs, as fault rules select it.

use axum::http::{HeaderMap, Method};

use super::plan::{Operation, Service};

/// The operation of a request to `service`; `path` is the URL path as sent.
pub(crate) fn classify(
    service: Service,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Operation {
    match service {
        Service::Dfs | Service::Any => storage(method, path, query, headers),
        Service::Login => login(path),
        Service::Domo => domo(path),
    }
}

/// DFS (and Blob) operations, told apart by method, URL depth and `action`/`comp`/`resource`.
fn storage(method: &Method, path: &str, query: Option<&str>, headers: &HeaderMap) -> Operation {
    let mut action = None;
    let mut comp = None;
    let mut resource = None;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let slot = match name.to_ascii_lowercase().as_str() {
            "action" => &mut action,
            "comp" => &mut comp,
            "resource" => &mut resource,
            _ => continue,
        };
        *slot = Some(value.to_ascii_lowercase());
    }
    // Account, file system, then path segments.
    let depth = path.split('/').filter(|s| !s.is_empty()).count();
    match *method {
        Method::PATCH => match action.as_deref() {
            Some("append") => Operation::Append,
            Some("flush") => Operation::Flush,
            _ => Operation::Properties,
        },
        Method::PUT => match comp.as_deref() {
            Some("block" | "appendblock") => Operation::Append,
            Some("blocklist") => Operation::Flush,
            Some(_) => Operation::Properties,
            None if headers.contains_key("x-ms-rename-source") => Operation::Rename,
            None => Operation::Create,
        },
        Method::GET if depth <= 1 || resource.is_some() || comp.as_deref() == Some("list") => {
            Operation::List
        }
        Method::GET if comp.is_some() || action.is_some() => Operation::Properties,
        Method::GET => Operation::Read,
        Method::HEAD => Operation::Properties,
        Method::DELETE => Operation::Delete,
        _ => Operation::Other,
    }
}

fn login(path: &str) -> Operation {
    if path.trim_end_matches('/').ends_with("/token") {
        Operation::Token
    } else {
        Operation::Discovery
    }
}

fn domo(path: &str) -> Operation {
    let path = path.trim_end_matches('/');
    if path == "/oauth/token" {
        Operation::Token
    } else if path == "/v1/datasets" {
        Operation::List
    } else if path.starts_with("/v1/datasets/") && path.ends_with("/data") {
        Operation::Export
    } else if path.starts_with("/v1/datasets/") {
        Operation::Dataset
    } else if path.ends_with("/permissions") {
        Operation::Permissions
    } else {
        Operation::Other
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn operations() {
        let mut rename = HeaderMap::new();
        rename.insert("x-ms-rename-source", HeaderValue::from_static("/fs/a"));
        let none = HeaderMap::new();
        #[rustfmt::skip]
        let cases = [
            (Service::Dfs, "PATCH", "/a/fs/f", "action=append&position=0", &none, Operation::Append),
            (Service::Dfs, "PATCH", "/a/fs/f", "Action=Flush&position=3", &none, Operation::Flush),
            (Service::Dfs, "PATCH", "/a/fs/f", "action=setProperties", &none, Operation::Properties),
            (Service::Dfs, "PUT", "/a/fs/f", "resource=file", &none, Operation::Create),
            (Service::Dfs, "PUT", "/a/fs", "resource=filesystem", &none, Operation::Create),
            (Service::Dfs, "PUT", "/a/fs/g", "", &rename, Operation::Rename),
            (Service::Dfs, "PUT", "/a/fs/b", "comp=block&blockid=x", &none, Operation::Append),
            (Service::Dfs, "PUT", "/a/fs/b", "comp=blocklist", &none, Operation::Flush),
            (Service::Dfs, "GET", "/a/fs/f", "", &none, Operation::Read),
            (Service::Dfs, "GET", "/a/fs", "resource=filesystem", &none, Operation::List),
            (Service::Dfs, "GET", "/a", "resource=account", &none, Operation::List),
            (Service::Dfs, "GET", "/a/fs", "restype=container&comp=list", &none, Operation::List),
            (Service::Dfs, "HEAD", "/a/fs/f", "", &none, Operation::Properties),
            (Service::Dfs, "DELETE", "/a/fs/f", "", &none, Operation::Delete),
            (Service::Dfs, "POST", "/a/fs/f", "", &none, Operation::Other),
            // The Blob requests of a write through the Blob endpoint.
            (Service::Dfs, "GET", "/a/", "restype=account&comp=properties", &none, Operation::List),
            (Service::Dfs, "PUT", "/a/c/dir/b.csv", "comp=block&blockid=MDAw%3D", &none, Operation::Append),
            (Service::Dfs, "PUT", "/a/c/dir/b.csv", "comp=appendblock", &none, Operation::Append),
            (Service::Dfs, "PUT", "/a/c/dir/b.csv", "comp=blocklist", &none, Operation::Flush),
            (Service::Dfs, "GET", "/a/c/dir/b.csv", "comp=blocklist&blocklisttype=committed", &none, Operation::Properties),
            (Service::Dfs, "HEAD", "/a/c/dir/b.csv", "", &none, Operation::Properties),
            (Service::Dfs, "PUT", "/a/c/dir/b.csv", "comp=metadata", &none, Operation::Properties),
            (Service::Dfs, "PUT", "/a/c/dir/b.csv", "", &none, Operation::Create),
            (Service::Dfs, "GET", "/a/c/dir/b.csv", "", &none, Operation::Read),
            (Service::Dfs, "PUT", "/a/c", "restype=container", &none, Operation::Create),
            (Service::Dfs, "DELETE", "/a/c/dir/b.csv", "", &none, Operation::Delete),
            (Service::Any, "PUT", "/a/c/b", "comp=blocklist", &none, Operation::Flush),
            (Service::Login, "POST", "/t/oauth2/v2.0/token", "", &none, Operation::Token),
            (Service::Login, "GET", "/t/v2.0/.well-known/openid-configuration", "", &none, Operation::Discovery),
            (Service::Domo, "GET", "/oauth/token", "grant_type=client_credentials", &none, Operation::Token),
            (Service::Domo, "GET", "/v1/datasets", "", &none, Operation::List),
            (Service::Domo, "GET", "/v1/datasets/d1", "", &none, Operation::Dataset),
            (Service::Domo, "GET", "/v1/datasets/d1/data", "includeHeader=true", &none, Operation::Export),
            (Service::Domo, "GET", "/api/data/v3/datasources/d1/permissions", "", &none, Operation::Permissions),
        ];
        for (service, method, path, query, headers, expected) in cases {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let got = classify(service, &method, path, Some(query), headers);
            assert_eq!(got, expected, "{service:?} {method} {path}?{query}");
        }
    }
}
