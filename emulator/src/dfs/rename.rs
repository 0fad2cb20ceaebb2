//! Renames whose destination URL lacks the account segment, as Microsoft's JS SDK sends them
//! on path-style URLs: `PUT /{filesystem}/{path}` with `x-ms-rename-source:
//! /{account}/{filesystem}/{path}`. The account named by the source completes the
//! destination. Only then: any other request with an unknown account stays an error.

use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use percent_encoding::percent_decode_str;

use super::{DfsState, Target, header_str};

/// When `request` is such a rename: the account its source names, and the source without
/// the account segment (`/{filesystem}/{path}[?query]`).
pub(super) fn account_from_source(
    state: &DfsState,
    request: &Request,
    target: &Target,
) -> Option<(String, HeaderValue)> {
    if request.method() != Method::PUT || target.filesystem.is_none() {
        return None;
    }
    let source = header_str(request.headers(), "x-ms-rename-source")?.trim();
    let rest = source.strip_prefix('/')?;
    let (first, after) = rest.split_once('/')?;
    let account = percent_decode_str(first).decode_utf8().ok()?.into_owned();
    if !state.store.has_account(&account) || !after.contains('/') {
        return None;
    }
    let stripped = HeaderValue::from_str(&format!("/{after}")).ok()?;
    Some((account, stripped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_below_the_account_of_the_source() {
        let t = Target::parse("/fs/dir/file.csv").unwrap();
        let t = t.under_account("acct".to_string());
        assert_eq!(t.account, "acct");
        assert_eq!(t.filesystem.as_deref(), Some("fs"));
        assert_eq!(t.path.as_deref(), Some("dir/file.csv"));
        let t = Target::parse("/fs/file").unwrap().under_account("a".into());
        assert_eq!(t.path.as_deref(), Some("file"));
    }
}
