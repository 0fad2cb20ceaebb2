//! Get and Set Container ACL (`?restype=container&comp=acl`): the container's public access
//! level (`x-ms-blob-public-access`: `container`, `blob`, or none for private) and its stored
//! access policies (`SignedIdentifiers`, at most five). A set replaces both.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::tags::{child_text, invalid_xml};
use super::xml::Xml;
use super::xml_response;
use crate::conditions::Conditions;
use crate::dfs::{DfsState, empty, header_str, set, set_version};
use crate::errors::ServiceError;

/// The most stored access policies a container has.
const MAX_IDENTIFIERS: usize = 5;

/// One stored access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SignedIdentifier {
    /// `Id` (up to 64 characters).
    pub id: String,
    /// `Start`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// `Expiry`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// `Permission` (`racwdl…`), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

/// `x-ms-blob-public-access` of a request: `Some("container" | "blob")`, `None` for private;
/// `InvalidHeaderValue` otherwise.
pub(crate) fn public_access(headers: &HeaderMap) -> Result<Option<String>, ServiceError> {
    match header_str(headers, "x-ms-blob-public-access").map(str::trim) {
        None | Some("") => Ok(None),
        Some(level @ ("container" | "blob")) => Ok(Some(level.to_string())),
        Some(_) => Err(ServiceError::invalid_header_value()),
    }
}

/// Parses a `SignedIdentifiers` document (an empty body: none).
pub(crate) fn parse(body: &str) -> Result<Vec<SignedIdentifier>, ServiceError> {
    if body.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc = roxmltree::Document::parse(body).map_err(|_| invalid_xml())?;
    let root = doc.root_element();
    if !root.has_tag_name("SignedIdentifiers") {
        return Err(invalid_xml());
    }
    let mut identifiers = Vec::new();
    for node in root
        .children()
        .filter(|c| c.has_tag_name("SignedIdentifier"))
    {
        let id = child_text(node, "Id").ok_or_else(invalid_xml)?;
        if id.is_empty() || id.chars().count() > 64 {
            return Err(invalid_xml());
        }
        let policy = node.children().find(|c| c.has_tag_name("AccessPolicy"));
        let field = |name: &str| {
            policy
                .and_then(|p| child_text(p, name))
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        identifiers.push(SignedIdentifier {
            id: id.to_string(),
            start: field("Start"),
            expiry: field("Expiry"),
            permission: field("Permission"),
        });
    }
    if identifiers.len() > MAX_IDENTIFIERS {
        return Err(invalid_xml());
    }
    Ok(identifiers)
}

fn render(identifiers: &[SignedIdentifier]) -> String {
    let mut doc = Xml::new();
    doc.open("SignedIdentifiers");
    for identifier in identifiers {
        doc.open("SignedIdentifier")
            .leaf("Id", &identifier.id)
            .open("AccessPolicy")
            .leaf_opt("Start", identifier.start.as_deref())
            .leaf_opt("Expiry", identifier.expiry.as_deref())
            .leaf_opt("Permission", identifier.permission.as_deref())
            .close("AccessPolicy")
            .close("SignedIdentifier");
    }
    doc.close("SignedIdentifiers");
    doc.finish()
}

/// `GET`/`PUT ?restype=container&comp=acl`; `body` is the document of a `PUT`.
pub(crate) fn acl(
    state: &DfsState,
    method: &Method,
    headers: &HeaderMap,
    body: Option<&str>,
    account: &str,
    fs: &str,
) -> Result<Response, ServiceError> {
    match (method, body) {
        (&Method::PUT, Some(body)) => {
            let level = public_access(headers)?;
            let identifiers = parse(body)?;
            let conditions = Conditions::from_headers(headers);
            let info =
                state
                    .store
                    .set_filesystem_acl(account, fs, level, identifiers, &conditions)?;
            let mut response = empty(StatusCode::OK);
            set_version(&mut response, &info.etag, info.last_modified);
            Ok(response)
        }
        (&Method::GET | &Method::HEAD, _) => {
            let info = state.store.filesystem(account, fs)?;
            let mut response = xml_response(render(&info.identifiers));
            set_version(&mut response, &info.etag, info.last_modified);
            if let Some(level) = &info.public_access {
                set(&mut response, "x-ms-blob-public-access", level);
            }
            Ok(response)
        }
        _ => Err(ServiceError::unsupported_http_verb()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip_and_are_limited() {
        let one = SignedIdentifier {
            id: "testid".into(),
            start: Some("2026-01-01T00:00:00Z".into()),
            expiry: Some("2026-01-02T00:00:00Z".into()),
            permission: Some("r".into()),
        };
        assert_eq!(parse(&render(std::slice::from_ref(&one))).unwrap(), [one]);
        assert!(parse("").unwrap().is_empty());
        let six: Vec<SignedIdentifier> = (0..6)
            .map(|i| SignedIdentifier {
                id: format!("id{i}"),
                ..SignedIdentifier::default()
            })
            .collect();
        assert_eq!(parse(&render(&six)).unwrap_err().code, "InvalidXmlDocument");
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-blob-public-access", "blob".parse().unwrap());
        assert_eq!(public_access(&headers).unwrap().as_deref(), Some("blob"));
        headers.insert("x-ms-blob-public-access", "everyone".parse().unwrap());
        assert_eq!(
            public_access(&headers).unwrap_err().code,
            "InvalidHeaderValue"
        );
    }
}
