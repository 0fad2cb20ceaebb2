//! The requests only the output options need: directories, recursive deletes, a flush
//! with the format's content type, user-defined properties (`x-ms-meta-*`), and renames
//! conditioned on the destination (an append to a split output).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::Dfs;
use crate::model::{Method, Request};

/// What a conditioned rename requires of its destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination<'a> {
    /// That nothing is there (`If-None-Match: *`).
    Absent,
    /// That it is unchanged since it had this ETag (`If-Match`).
    Unchanged(&'a str),
}

impl Dfs {
    /// [`rename`](Dfs::rename) refused (`PathAlreadyExists` or `ConditionNotMet`) unless the
    /// destination is as `destination` says.
    pub fn rename_if(&mut self, source: &str, dest: &str, destination: Destination) -> Request {
        let mut req = self.rename(source, dest);
        req.headers.push(match destination {
            Destination::Absent => ("If-None-Match".into(), "*".into()),
            Destination::Unchanged(etag) => ("If-Match".into(), etag.into()),
        });
        req
    }

    /// `PUT ?resource=directory`: creates a directory (and its parents); an existing one
    /// is kept.
    pub fn create_directory(&mut self, path: &str) -> Request {
        let mut req = self.request(Method::Put, path, "resource=directory");
        self.add_creation_access(&mut req);
        req
    }

    /// `PATCH ?action=setAccessControl` with the job's `x-ms-acl`; `None` when the job sets
    /// no ACL.
    pub fn set_acl(&mut self, path: &str) -> Option<Request> {
        let acl = self.access.acl.clone()?;
        let mut req = self.request(Method::Patch, path, "action=setAccessControl");
        req.headers.push(("x-ms-acl".into(), acl));
        Some(req)
    }

    /// `DELETE ?recursive=true`: removes a directory and everything in it.
    pub fn delete_recursive(&mut self, path: &str) -> Request {
        self.request(Method::Delete, path, "recursive=true")
    }

    /// [`flush`](Dfs::flush) setting `content_type` instead of `text/csv`.
    pub fn flush_as(
        &mut self,
        path: &str,
        position: u64,
        md5: Option<&[u8]>,
        content_type: &str,
    ) -> Request {
        let mut req = self.flush(path, position, md5, None);
        for (name, value) in &mut req.headers {
            if name.eq_ignore_ascii_case("x-ms-content-type") {
                content_type.clone_into(value);
            }
        }
        req
    }

    /// `PATCH ?action=setProperties` with `x-ms-properties`: sets the path's user-defined
    /// properties (the Blob endpoint's `x-ms-meta-*`) to `properties`, values base64-encoded
    /// as the service wants them.
    pub fn set_properties(&mut self, path: &str, properties: &[(&str, &str)]) -> Request {
        let mut req = self.request(Method::Patch, path, "action=setProperties");
        let value = properties
            .iter()
            .map(|(name, value)| format!("{name}={}", BASE64.encode(value)))
            .collect::<Vec<_>>()
            .join(",");
        req.headers.push(("x-ms-properties".into(), value));
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_requests() {
        let account = crate::dfs::tests::account(crate::model::CredentialKind::ClientSecret);
        let mut dfs = Dfs::new("http://127.0.0.1:1/acct", "fs", &account, "run");
        let r = dfs.create_directory("out/_x.run.tmp");
        assert_eq!(
            r.url,
            "http://127.0.0.1:1/acct/fs/out/_x.run.tmp?resource=directory"
        );
        let r = dfs.delete_recursive("out/_x.run.old");
        assert_eq!(
            r.url,
            "http://127.0.0.1:1/acct/fs/out/_x.run.old?recursive=true"
        );
        let r = dfs.flush_as("a.csv.gz", 10, None, "application/gzip");
        assert_eq!(r.header("x-ms-content-type"), Some("application/gzip"));
        assert!(r.url.ends_with("action=flush&position=10&close=true"));
        let r = dfs.set_properties("a", &[("run_id", "r1"), ("rows", "3")]);
        assert_eq!(r.header("x-ms-properties"), Some("run_id=cjE=,rows=Mw=="));
        assert!(dfs.set_acl("a").is_none(), "no ACL: no request");
        let r = dfs.rename_if("d/_t/p.csv", "d/p.csv", Destination::Absent);
        assert_eq!(r.header("If-None-Match"), Some("*"));
        assert_eq!(r.header("x-ms-rename-source"), Some("/fs/d/_t/p.csv"));
        let r = dfs.rename_if("a", "b", Destination::Unchanged("\"0x1\""));
        assert_eq!(r.header("If-Match"), Some("\"0x1\""));
        assert_eq!(dfs.create_file("a", false).header("x-ms-permissions"), None);
    }

    #[test]
    fn creations_carry_the_jobs_permissions_and_its_acl_is_set_after() {
        let account = crate::dfs::tests::account(crate::model::CredentialKind::ClientSecret);
        let access = crate::model::AccessControl {
            permissions: Some("0640".into()),
            umask: Some("0027".into()),
            acl: Some("user::rw-,group::r--,other::---".into()),
        };
        let mut dfs =
            Dfs::new("http://127.0.0.1:1/acct", "fs", &account, "run").with_access(access);
        for r in [dfs.create_file("a.csv", false), dfs.create_directory("d")] {
            assert_eq!(r.header("x-ms-permissions"), Some("0640"));
            assert_eq!(r.header("x-ms-umask"), Some("0027"));
        }
        let r = dfs.set_acl("a.csv").unwrap();
        assert_eq!(r.method, Method::Patch);
        assert!(
            r.url.ends_with("/fs/a.csv?action=setAccessControl"),
            "{}",
            r.url
        );
        assert_eq!(
            r.header("x-ms-acl"),
            Some("user::rw-,group::r--,other::---")
        );
    }
}
