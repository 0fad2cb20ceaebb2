//! Get/Set Blob Service Properties (`/{account}?restype=service&comp=properties`): logging,
//! metrics, CORS, the default service version, the delete retention policy and the static
//! website, per account. A set replaces only the elements it sends, as the service does.
//! They are kept in memory (a restart starts from the defaults).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use axum::http::StatusCode;
use axum::response::Response;

use super::xml::DECLARATION;
use super::xml_response;
use crate::dfs::empty;
use crate::errors::ServiceError;

/// The elements of `StorageServiceProperties`, in the order the service writes them.
const ELEMENTS: [&str; 7] = [
    "Logging",
    "HourMetrics",
    "MinuteMetrics",
    "Cors",
    "DefaultServiceVersion",
    "DeleteRetentionPolicy",
    "StaticWebsite",
];

/// The properties of a new account.
fn defaults() -> BTreeMap<&'static str, String> {
    let disabled = "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy>";
    let metrics = |name: &str| {
        format!("<{name}><Version>1.0</Version><Enabled>false</Enabled>{disabled}</{name}>")
    };
    BTreeMap::from([
        (
            "Logging",
            format!(
                "<Logging><Version>1.0</Version><Read>false</Read><Write>false</Write>\
                 <Delete>false</Delete>{disabled}</Logging>"
            ),
        ),
        ("HourMetrics", metrics("HourMetrics")),
        ("MinuteMetrics", metrics("MinuteMetrics")),
        ("Cors", "<Cors />".to_string()),
        (
            "DeleteRetentionPolicy",
            "<DeleteRetentionPolicy><Enabled>false</Enabled></DeleteRetentionPolicy>".to_string(),
        ),
        (
            "StaticWebsite",
            "<StaticWebsite><Enabled>false</Enabled></StaticWebsite>".to_string(),
        ),
    ])
}

/// Service properties of every account.
#[derive(Debug, Default)]
pub(crate) struct ServiceProperties(Mutex<HashMap<String, BTreeMap<&'static str, String>>>);

impl ServiceProperties {
    /// `GET`: the account's `StorageServiceProperties` document.
    pub(crate) fn get(&self, account: &str) -> Response {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let properties = all.get(account).cloned().unwrap_or_else(defaults);
        let mut body = format!("{DECLARATION}<StorageServiceProperties>");
        for name in ELEMENTS {
            if let Some(fragment) = properties.get(name) {
                body.push_str(fragment);
            }
        }
        body.push_str("</StorageServiceProperties>");
        xml_response(body)
    }

    /// The account's delete retention period in days, when soft delete is on.
    pub(crate) fn delete_retention_days(&self, account: &str) -> Option<u32> {
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let policy = all.get(account)?.get("DeleteRetentionPolicy")?.clone();
        if text(&policy, "Enabled") != Some("true") {
            return None;
        }
        text(&policy, "Days").and_then(|d| d.trim().parse().ok())
    }

    /// `PUT`: replaces the elements the document sends; `InvalidXmlDocument` when it is not a
    /// `StorageServiceProperties` document or a retention period is outside 1 to 365 days.
    pub(crate) fn set(&self, account: &str, body: &str) -> Result<Response, ServiceError> {
        if element(body, "StorageServiceProperties").is_none() {
            return Err(invalid_xml());
        }
        let mut given = Vec::new();
        for name in ELEMENTS {
            if let Some(fragment) = element(body, name) {
                given.push((name, normalize(name, fragment)?));
            }
        }
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let properties = all.entry(account.to_string()).or_insert_with(defaults);
        for (name, fragment) in given {
            properties.insert(name, fragment);
        }
        Ok(empty(StatusCode::ACCEPTED))
    }
}

fn invalid_xml() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidXmlDocument",
        "XML specified is not syntactically valid.",
    )
}

/// The element `<name>…</name>` (or `<name />`) of `xml`, whole, where it first appears.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open).or_else(|| {
        [format!("<{name}/>"), format!("<{name} />")]
            .iter()
            .find_map(|empty| xml.find(empty.as_str()).map(|at| (at, empty.len())))
            .map(|(at, _)| at)
    })?;
    let rest = &xml[start..];
    if !rest.starts_with(&open) {
        let end = rest.find("/>")? + 2;
        return Some(&rest[..end]);
    }
    let close = format!("</{name}>");
    let end = rest.find(&close)? + close.len();
    Some(&rest[..end])
}

/// The text of the child `<name>` of `fragment`.
fn text<'a>(fragment: &'a str, name: &str) -> Option<&'a str> {
    let inner = element(fragment, name)?;
    inner
        .strip_prefix(&format!("<{name}>"))?
        .strip_suffix(&format!("</{name}>"))
}

/// Checks an element as the service does and stores it as the service returns it.
fn normalize(name: &str, fragment: &str) -> Result<String, ServiceError> {
    let retention = match name {
        "DeleteRetentionPolicy" => Some(fragment),
        "Logging" | "HourMetrics" | "MinuteMetrics" => element(fragment, "RetentionPolicy"),
        _ => None,
    };
    if let Some(policy) = retention
        && text(policy, "Enabled") == Some("true")
    {
        let days: u32 = text(policy, "Days")
            .and_then(|d| d.trim().parse().ok())
            .ok_or_else(invalid_xml)?;
        if !(1..=365).contains(&days) {
            return Err(invalid_xml());
        }
    }
    if name == "StaticWebsite" && text(fragment, "Enabled") != Some("true") {
        // A disabled static website keeps none of its documents.
        return Ok("<StaticWebsite><Enabled>false</Enabled></StaticWebsite>".to_string());
    }
    Ok(fragment.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_found_whole_or_empty() {
        let xml = "<A><Cors /><Logging><Version>1.0</Version></Logging></A>";
        assert_eq!(element(xml, "Cors"), Some("<Cors />"));
        assert_eq!(
            element(xml, "Logging"),
            Some("<Logging><Version>1.0</Version></Logging>")
        );
        assert_eq!(text(xml, "Version"), Some("1.0"));
        assert_eq!(element(xml, "StaticWebsite"), None);
    }

    #[test]
    fn retention_days_are_checked_and_a_disabled_website_is_emptied() {
        let policy = |days: u32| {
            format!(
                "<DeleteRetentionPolicy><Enabled>true</Enabled><Days>{days}</Days></DeleteRetentionPolicy>"
            )
        };
        assert!(normalize("DeleteRetentionPolicy", &policy(1)).is_ok());
        assert!(normalize("DeleteRetentionPolicy", &policy(365)).is_ok());
        for bad in [0, 366] {
            assert_eq!(
                normalize("DeleteRetentionPolicy", &policy(bad))
                    .unwrap_err()
                    .code,
                "InvalidXmlDocument"
            );
        }
        let site = "<StaticWebsite><Enabled>false</Enabled><IndexDocument>i.html</IndexDocument></StaticWebsite>";
        assert_eq!(
            normalize("StaticWebsite", site).unwrap(),
            "<StaticWebsite><Enabled>false</Enabled></StaticWebsite>"
        );
    }

    #[test]
    fn a_set_replaces_only_what_it_sends() {
        let props = ServiceProperties::default();
        let body = "<?xml version=\"1.0\"?><StorageServiceProperties><Cors><CorsRule><AllowedOrigins>*</AllowedOrigins></CorsRule></Cors></StorageServiceProperties>";
        props.set("acct", body).unwrap();
        assert_eq!(props.delete_retention_days("acct"), None);
        let retention = "<StorageServiceProperties><DeleteRetentionPolicy><Enabled>true</Enabled><Days>7</Days></DeleteRetentionPolicy></StorageServiceProperties>";
        props.set("acct", retention).unwrap();
        assert_eq!(props.delete_retention_days("acct"), Some(7));
        let stored = props.0.lock().unwrap()["acct"].clone();
        assert!(stored["Cors"].contains("CorsRule"));
        assert_eq!(stored["Logging"], defaults()["Logging"]);
        assert_eq!(
            props.set("acct", "<Other/>").unwrap_err().code,
            "InvalidXmlDocument"
        );
    }
}
