//! Account and container operations of the Blob API: List Containers, Get Account
//! Information, and Create / Delete / Get Properties / Set Metadata of a container (a file
//! system). List Blobs is in [`super::list`].

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::xml::Xml;
use super::{
    includes, max_results, metadata_from_headers, metadata_pairs, service_endpoint,
    set_metadata_headers, write_metadata, xml_response,
};
use crate::conditions::Conditions;
use crate::dfs::{DfsState, Query, empty, header_str, set, set_version};

/// The default encryption scope: the account's own key.
const ACCOUNT_ENCRYPTION_KEY: &str = "$account-encryption-key";
use crate::errors::ServiceError;
use crate::store::FsInfo;
use crate::timefmt;

/// Requests on `/{account}`: `comp=list` and `restype=account&comp=properties`.
pub(crate) fn account(
    state: &DfsState,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    account: &str,
) -> Result<Response, ServiceError> {
    match (method, query.get("restype"), query.get("comp")) {
        (&Method::GET, None, Some("list")) => list_containers(state, headers, query, account),
        (&Method::GET | &Method::HEAD | &Method::PUT, _, _) => {
            Err(ServiceError::invalid_query_parameter_value())
        }
        _ => Err(ServiceError::unsupported_http_verb()),
    }
}

/// Get Account Information (`restype=account&comp=properties`): SKU, kind, and whether the
/// account has a hierarchical namespace.
pub(crate) fn account_information(
    state: &DfsState,
    method: &Method,
    account: &str,
) -> Result<Response, ServiceError> {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return Err(ServiceError::unsupported_http_verb());
    }
    let hns = state.store.is_hierarchical(account);
    let mut response = empty(StatusCode::OK);
    set(&mut response, "x-ms-sku-name", "Standard_LRS");
    set(&mut response, "x-ms-account-kind", "StorageV2");
    set(
        &mut response,
        "x-ms-is-hns-enabled",
        if hns { "true" } else { "false" },
    );
    Ok(response)
}

/// The system container every account has.
const SYSTEM_CONTAINER: &str = "$logs";

/// `$logs` as listed: stamped with the account's oldest file system (the account's start).
fn system_container(state: &DfsState, account: &str) -> Result<FsInfo, ServiceError> {
    let oldest = state
        .store
        .list_filesystems(account, None)?
        .into_iter()
        .min_by_key(|f| f.last_modified);
    Ok(FsInfo {
        name: SYSTEM_CONTAINER.to_string(),
        etag: oldest
            .as_ref()
            .map(|f| f.etag.clone())
            .unwrap_or_else(|| "0x8D0000000000000".into()),
        last_modified: oldest.map_or(std::time::SystemTime::UNIX_EPOCH, |f| f.last_modified),
        properties: None,
        encryption_scope: None,
        lease: None,
        public_access: None,
        identifiers: Vec::new(),
    })
}

/// `GET /{account}?comp=list[&prefix][&marker][&maxresults][&include=metadata]`.
fn list_containers(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    account: &str,
) -> Result<Response, ServiceError> {
    let max = max_results(query)?;
    let prefix = query.get("prefix").unwrap_or_default();
    let marker = query.get("marker").filter(|m| !m.is_empty());
    let mut all = state.store.list_filesystems(account, Some(prefix))?;
    if includes(query, "system") && SYSTEM_CONTAINER.starts_with(prefix) {
        // The service's own `$logs` (of storage analytics) is listed only when asked for;
        // it sorts before every other name.
        all.insert(0, system_container(state, account)?);
    }
    let remaining: Vec<FsInfo> = all
        .into_iter()
        .filter(|f| marker.is_none_or(|m| f.name.as_str() >= m))
        .collect();
    let next_marker = remaining.get(max).map(|f| f.name.clone());
    let with_metadata = includes(query, "metadata");
    let mut doc = Xml::new();
    let endpoint = service_endpoint(state, headers, account);
    doc.open_with("EnumerationResults", &[("ServiceEndpoint", &endpoint)]);
    doc.leaf_opt("Prefix", Some(prefix))
        .leaf_opt("Marker", marker)
        .leaf_opt("MaxResults", query.get("maxresults"))
        .open("Containers");
    for info in remaining.iter().take(max) {
        let lease = crate::lease::describe(info.lease.as_ref(), crate::lease::now());
        doc.open("Container")
            .leaf("Name", &info.name)
            .open("Properties")
            .leaf("Last-Modified", &timefmt::rfc1123(info.last_modified))
            .leaf("Etag", &format!("\"{}\"", info.etag))
            .leaf("LeaseStatus", lease.status)
            .leaf("LeaseState", lease.state)
            .leaf_opt("LeaseDuration", lease.duration)
            .leaf_opt("PublicAccess", info.public_access.as_deref())
            .leaf(
                "DefaultEncryptionScope",
                info.encryption_scope
                    .as_deref()
                    .unwrap_or(ACCOUNT_ENCRYPTION_KEY),
            )
            .leaf("DenyEncryptionScopeOverride", "false")
            .leaf("HasImmutabilityPolicy", "false")
            .leaf("HasLegalHold", "false")
            .leaf("ImmutableStorageWithVersioningEnabled", "false")
            .close("Properties");
        if with_metadata {
            write_metadata(&mut doc, &metadata_pairs(info.properties.as_deref(), None));
        }
        doc.close("Container");
    }
    doc.close("Containers")
        .leaf("NextMarker", next_marker.as_deref().unwrap_or_default())
        .close("EnumerationResults");
    Ok(xml_response(doc.finish()))
}

/// Sets the headers of Get Container Properties.
fn describe(response: &mut Response, info: &FsInfo) {
    set_version(response, &info.etag, info.last_modified);
    set_metadata_headers(response, &metadata_pairs(info.properties.as_deref(), None));
    let lease = crate::lease::describe(info.lease.as_ref(), crate::lease::now());
    if let Some(duration) = lease.duration {
        set(response, "x-ms-lease-duration", duration);
    }
    if let Some(level) = &info.public_access {
        set(response, "x-ms-blob-public-access", level);
    }
    for (name, value) in [
        ("x-ms-lease-status", lease.status),
        ("x-ms-lease-state", lease.state),
        ("x-ms-has-immutability-policy", "false"),
        ("x-ms-has-legal-hold", "false"),
        (
            "x-ms-default-encryption-scope",
            info.encryption_scope
                .as_deref()
                .unwrap_or(ACCOUNT_ENCRYPTION_KEY),
        ),
        ("x-ms-deny-encryption-scope-override", "false"),
        ("x-ms-immutable-storage-with-versioning-enabled", "false"),
    ] {
        set(response, name, value);
    }
}

/// Requests on `/{account}/{container}`: `restype=container` with no `comp` (create, delete,
/// properties), `comp=metadata` or `comp=list`.
pub(crate) fn container(
    state: &DfsState,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    account: &str,
    fs: &str,
) -> Result<Response, ServiceError> {
    if query.get("restype") != Some("container") {
        return Err(ServiceError::invalid_query_parameter_value());
    }
    let store = &state.store;
    let conditions = Conditions::from_headers(headers);
    match (method, query.get("comp")) {
        (&Method::PUT, None) => {
            let metadata = metadata_from_headers(headers)?;
            let scope = header_str(headers, "x-ms-default-encryption-scope")
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            let public_access = super::acl::public_access(headers)?;
            let mut info = store.create_filesystem(account, fs, metadata, scope)?;
            if public_access.is_some() {
                let none = Conditions::default();
                info = store.set_filesystem_acl(account, fs, public_access, Vec::new(), &none)?;
            }
            let mut response = empty(StatusCode::CREATED);
            set_version(&mut response, &info.etag, info.last_modified);
            Ok(response)
        }
        (&Method::DELETE, None) => {
            store.delete_filesystem(account, fs, &conditions)?;
            Ok(empty(StatusCode::ACCEPTED))
        }
        (&Method::GET | &Method::HEAD, None | Some("metadata")) => {
            let info = store.filesystem(account, fs)?;
            let mut response = empty(StatusCode::OK);
            describe(&mut response, &info);
            Ok(response)
        }
        (&Method::PUT, Some("metadata")) => {
            let metadata = metadata_from_headers(headers)?;
            let info = store.set_filesystem_properties(account, fs, metadata, &conditions)?;
            let mut response = empty(StatusCode::OK);
            set_version(&mut response, &info.etag, info.last_modified);
            Ok(response)
        }
        (&Method::GET, Some("list")) => super::list::list_blobs(state, headers, query, account, fs),
        (&Method::PUT, Some("lease")) => super::lease::lease(state, headers, account, fs, None),
        (_, None | Some("metadata") | Some("list")) => Err(ServiceError::unsupported_http_verb()),
        _ => Err(ServiceError::invalid_query_parameter_value()),
    }
}
