//! Blob index tags: Get and Set Blob Tags (`GET`/`PUT ?comp=tags`), a `Tags` document of up
//! to ten key/value pairs stored with the path. Setting tags leaves the path's ETag as it is;
//! both operations take the `x-ms-blob-if-*` conditions (unmet: 412, reads too).

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::xml::Xml;
use super::xml_response;
use crate::conditions::Conditions;
use crate::dfs::{At, DfsState, empty};
use crate::errors::ServiceError;

/// The largest Set Blob Tags document taken.
pub(crate) const MAX_TAGS_BODY: usize = 64 * 1024;

/// The most tags a blob has.
const MAX_TAGS: usize = 10;

fn invalid_tag() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidTag",
        "The tags specified are invalid. It contains characters that are not permitted.",
    )
}

pub(crate) fn invalid_xml() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidXmlDocument",
        "XML specified is not syntactically valid.",
    )
}

/// Whether a tag key or value uses only what the service allows: letters, digits, space and
/// `+ - . / : = _`.
fn valid_tag_text(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || " +-./:=_".contains(c))
}

/// The text of the child element `name` of `node` (empty when absent or empty).
pub(crate) fn child_text<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|c| c.has_tag_name(name))
        .map(|c| c.text().unwrap_or_default())
}

/// Parses a `Tags` document: `InvalidXmlDocument` when it is not one, `InvalidTag` for more
/// than ten tags, a repeated or empty key, a key over 128 or a value over 256 characters, or
/// characters the service does not allow.
pub(crate) fn parse(body: &str) -> Result<Vec<(String, String)>, ServiceError> {
    let doc = roxmltree::Document::parse(body).map_err(|_| invalid_xml())?;
    let root = doc.root_element();
    if !root.has_tag_name("Tags") {
        return Err(invalid_xml());
    }
    let mut tags: Vec<(String, String)> = Vec::new();
    let set = root.children().filter(|c| c.has_tag_name("TagSet"));
    for tag in set.flat_map(|s| s.children().filter(|c| c.has_tag_name("Tag"))) {
        let key = child_text(tag, "Key").ok_or_else(invalid_xml)?;
        let value = child_text(tag, "Value").unwrap_or_default();
        let fits = (1..=128).contains(&key.chars().count()) && value.chars().count() <= 256;
        if !fits || !valid_tag_text(key) || !valid_tag_text(value) {
            return Err(invalid_tag());
        }
        if tags.iter().any(|(k, _)| k == key) {
            return Err(invalid_tag());
        }
        tags.push((key.to_string(), value.to_string()));
    }
    if tags.len() > MAX_TAGS {
        return Err(invalid_tag());
    }
    Ok(tags)
}

/// The `Tags` document of `tags`.
fn render(tags: &[(String, String)]) -> String {
    let mut doc = Xml::new();
    doc.open("Tags").open("TagSet");
    for (key, value) in tags {
        doc.open("Tag")
            .leaf("Key", key)
            .leaf("Value", value)
            .close("Tag");
    }
    doc.close("TagSet").close("Tags");
    doc.finish()
}

/// `GET`/`PUT ?comp=tags` on a blob; `body` is the document of a `PUT`.
pub(crate) fn tags(
    state: &DfsState,
    method: &Method,
    headers: &HeaderMap,
    body: Option<&str>,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let conditions = Conditions::blob_from_headers(headers);
    match (method, body) {
        (&Method::PUT, Some(body)) => {
            let tags = parse(body)?;
            state
                .store
                .set_path_tags(at.account, at.fs, at.path, tags, &conditions)?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (&Method::GET, _) => {
            let tags = state
                .store
                .path_tags(at.account, at.fs, at.path, &conditions)?;
            Ok(xml_response(render(&tags)))
        }
        _ => Err(ServiceError::unsupported_http_verb()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(pairs: &[(&str, &str)]) -> String {
        let tags: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        render(&tags)
    }

    #[test]
    fn tags_round_trip_and_are_checked() {
        let body = doc(&[("tag1", "first tag"), ("a/b", "x=1:y")]);
        assert_eq!(
            parse(&body).unwrap(),
            [
                ("tag1".to_string(), "first tag".to_string()),
                ("a/b".to_string(), "x=1:y".to_string())
            ]
        );
        assert!(parse(&doc(&[])).unwrap().is_empty());
        let eleven: Vec<(String, String)> =
            (0..11).map(|i| (format!("k{i}"), String::new())).collect();
        let too_many = render(&eleven);
        let long = "k".repeat(129);
        for bad in [
            doc(&[("bad!", "v")]),
            doc(&[("k", "v"), ("k", "w")]),
            doc(&[(long.as_str(), "v")]),
            too_many,
        ] {
            assert_eq!(parse(&bad).unwrap_err().code, "InvalidTag", "{bad}");
        }
        assert_eq!(parse("<Other/>").unwrap_err().code, "InvalidXmlDocument");
        assert_eq!(parse("<Tags>").unwrap_err().code, "InvalidXmlDocument");
    }
}
