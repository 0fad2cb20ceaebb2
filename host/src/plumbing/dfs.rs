//! The few DFS requests the host sends itself (`run --verify` reads a file back,
//! `accounts test` probes a file system); the guest owns the protocol of an export. Written
//! once here: the REST API version, where the service puts its error code, and the default
//! endpoint of an account. (The credential is added by `capabilities::auth::Authorizer`.)

use reqwest::RequestBuilder;
use reqwest::header::HeaderMap;

/// The REST API version the host's own requests speak (the guest's too).
pub const API_VERSION: &str = "2023-11-03";

/// The DFS endpoint of `account_name` in Azure's public cloud, when the job names none.
pub fn default_endpoint(account_name: &str) -> String {
    format!("https://{account_name}.dfs.core.windows.net")
}

/// The URL of `file_system` (a container) at `endpoint`.
pub fn file_system_url(endpoint: &str, file_system: &str) -> String {
    format!("{}/{file_system}", endpoint.trim_end_matches('/'))
}

/// The URL of `path` in `file_system` at `endpoint`; `path` must need no escaping (the
/// host's own requests name only paths it made up; the guest escapes an export's).
pub fn path_url(endpoint: &str, file_system: &str, path: &str) -> String {
    format!("{}/{path}", file_system_url(endpoint, file_system))
}

/// `request` with the API version.
pub fn versioned(request: RequestBuilder) -> RequestBuilder {
    request.header("x-ms-version", API_VERSION)
}

/// The service's error code (`x-ms-error-code`), if the answer carries one.
pub fn error_code(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-ms-error-code").and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn default_endpoint_is_the_public_cloud() {
        assert_eq!(
            default_endpoint("acct"),
            "https://acct.dfs.core.windows.net"
        );
    }

    #[test]
    fn urls_join_endpoint_file_system_and_path() {
        assert_eq!(
            path_url("https://acct.dfs.core.windows.net/", "fs", "_probe.tmp"),
            "https://acct.dfs.core.windows.net/fs/_probe.tmp"
        );
        assert_eq!(
            file_system_url("http://127.0.0.1:10004/devstoreaccount1", "fs"),
            "http://127.0.0.1:10004/devstoreaccount1/fs"
        );
    }

    #[test]
    fn requests_carry_the_version() {
        let client = reqwest::Client::new();
        let request = versioned(client.get("https://acct.dfs.core.windows.net/fs"))
            .build()
            .unwrap();
        assert_eq!(request.headers()["x-ms-version"], API_VERSION);
    }

    #[test]
    fn the_error_code_is_read_from_its_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(error_code(&headers), None);
        headers.insert(
            "x-ms-error-code",
            HeaderValue::from_static("FilesystemNotFound"),
        );
        assert_eq!(error_code(&headers), Some("FilesystemNotFound"));
    }
}
