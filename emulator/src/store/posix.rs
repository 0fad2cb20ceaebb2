//! POSIX permission checks of the hierarchical namespace, for a principal that is not the
//! superuser (see `crate::caller`), as ADLS Gen2 applies them
//! (learn.microsoft.com/azure/storage/blobs/data-lake-storage-access-control):
//!
//! - a principal's permissions on a path come from the first class it falls in: the owner
//!   (owner bits), a named user entry (capped by the mask), the owning group or a named
//!   group entry (capped by the mask; the emulator knows no group memberships, so only a
//!   group whose ID is the principal's own counts), or other;
//! - every operation needs execute (`--x`) on each ancestor directory, the root `/` included;
//! - reading needs `r--` on the file, writing `-w-`, listing `r-x` on the directory; creating
//!   or deleting needs `-wx` on the parent (with the sticky bit, deleting also needs to own
//!   the path or its parent); changing permissions or an ACL needs to own the path; changing
//!   an owner or owning group is the superuser's only.

use super::access::{Access, AclEntry, Scope};
use super::model::{self, FsMeta, Kind};
use super::{Store, fs_mut};
use crate::errors::ServiceError;

/// Read permission bit.
pub(crate) const READ: u8 = 4;
/// Write permission bit.
pub(crate) const WRITE: u8 = 2;
/// Execute permission bit.
pub(crate) const EXECUTE: u8 = 1;

/// Sticky bit of a mode.
const STICKY: u16 = 0o1000;

/// What an operation needs of its target path, beyond execute on its ancestors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing more (properties, status, the ACL itself).
    Traverse,
    /// `r--` on the path.
    Read,
    /// `-w-` on the path.
    Write,
    /// `r-x` on the directory.
    List,
    /// `-w-` on the path if it is an existing file; `-wx` on its parent otherwise.
    CreateOrWrite,
    /// `-wx` on the parent, and owning the path or the parent if the parent is sticky.
    Delete,
    /// Owning the path.
    Own,
    /// Being the superuser (changing an owner or owning group).
    Superuser,
}

/// `403 AuthorizationPermissionMismatch`: the principal lacks a POSIX permission.
pub(crate) fn denied() -> ServiceError {
    ServiceError::new(
        axum::http::StatusCode::FORBIDDEN,
        "AuthorizationPermissionMismatch",
        "This request is not authorized to perform this operation using this permission.",
    )
}

impl Access {
    /// The `rwx` bits the principal `oid` has on the path.
    pub(crate) fn bits_for(&self, oid: &str) -> u8 {
        let access: Vec<&AclEntry> = self.extended.iter().filter(|e| !e.default).collect();
        let mask = access
            .iter()
            .find(|e| e.scope == Scope::Mask)
            .map_or(7, |e| e.perms);
        if oid == self.owner {
            return ((self.mode >> 6) & 7) as u8;
        }
        if let Some(named) = access
            .iter()
            .find(|e| e.scope == Scope::User && e.id == oid)
        {
            return named.perms & mask;
        }
        let mut groups = access
            .iter()
            .filter(|e| e.scope == Scope::Group && e.id == oid)
            .map(|e| e.perms)
            .peekable();
        if oid == self.group || groups.peek().is_some() {
            let owning = if oid == self.group {
                ((self.mode >> 3) & 7) as u8
            } else {
                0
            };
            return groups.fold(owning, |all, p| all | p) & mask;
        }
        (self.mode & 7) as u8
    }

    /// Whether `oid` has all of `bits` on the path.
    pub(crate) fn allows(&self, oid: &str, bits: u8) -> bool {
        self.bits_for(oid) & bits == bits
    }
}

/// The access of `path` in `fs` (`None`: the root directory), if it exists.
fn access_of(fs: &FsMeta, path: Option<&str>) -> Option<(Kind, Access)> {
    match path {
        None => Some((
            Kind::Directory,
            fs.root_access
                .clone()
                .unwrap_or_else(|| Access::default_for(Kind::Directory)),
        )),
        Some(path) => fs.paths.get(path).map(|m| (m.kind, m.access())),
    }
}

/// Checks that `oid` may do what `need` says to `path` of `fs` (`None`: its root
/// directory). A missing path is left to the operation to report.
pub(crate) fn check(
    fs: &FsMeta,
    path: Option<&str>,
    oid: &str,
    need: Need,
) -> Result<(), ServiceError> {
    if need == Need::Superuser {
        return Err(denied());
    }
    let Some(path) = path else {
        // The root directory has no ancestors.
        let (_, root) = access_of(fs, None).expect("a root always exists");
        return target_check(&root, None, oid, need, Kind::Directory);
    };
    // Execute on `/` and on every ancestor directory.
    let mut ancestors = vec![None];
    let mut at = model::parent(path);
    let mut chain = Vec::new();
    while let Some(dir) = at {
        chain.push(dir);
        at = model::parent(dir);
    }
    ancestors.extend(chain.into_iter().rev().map(Some));
    for dir in &ancestors {
        if let Some((_, access)) = access_of(fs, *dir)
            && !access.allows(oid, EXECUTE)
        {
            return Err(denied());
        }
    }
    let parent = ancestors
        .last()
        .copied()
        .flatten()
        .map_or_else(|| access_of(fs, None), |p| access_of(fs, Some(p)))
        .map(|(_, a)| a);
    match access_of(fs, Some(path)) {
        Some((kind, access)) => target_check(&access, parent.as_ref(), oid, need, kind),
        None => match need {
            // A new path: its parent must take it.
            Need::CreateOrWrite => match parent {
                Some(parent) if !parent.allows(oid, WRITE | EXECUTE) => Err(denied()),
                _ => Ok(()),
            },
            _ => Ok(()),
        },
    }
}

fn target_check(
    access: &Access,
    parent: Option<&Access>,
    oid: &str,
    need: Need,
    kind: Kind,
) -> Result<(), ServiceError> {
    let parent_takes =
        |parent: Option<&Access>| parent.is_none_or(|p| p.allows(oid, WRITE | EXECUTE));
    let allowed = match need {
        Need::Traverse => true,
        Need::Read => access.allows(oid, READ),
        Need::Write => access.allows(oid, WRITE),
        Need::List => access.allows(oid, READ | EXECUTE),
        Need::CreateOrWrite if kind == Kind::File => access.allows(oid, WRITE),
        Need::CreateOrWrite => parent_takes(parent),
        Need::Delete => {
            let sticky = parent.is_some_and(|p| p.mode & STICKY != 0);
            parent_takes(parent)
                && (!sticky || access.owner == oid || parent.is_some_and(|p| p.owner == oid))
        }
        Need::Own => access.owner == oid,
        Need::Superuser => false,
    };
    if allowed { Ok(()) } else { Err(denied()) }
}

impl Store {
    /// Checks that the principal `oid` may do what `need` says to `path` of a file system
    /// (`None`: its root directory); see [`check`].
    pub(crate) fn check_posix(
        &self,
        account: &str,
        fs_name: &str,
        path: Option<&str>,
        oid: &str,
        need: Need,
    ) -> Result<(), ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        check(fs, path, oid, need)
    }
}

#[cfg(test)]
mod tests {
    use super::super::access::parse_acl;
    use super::*;

    fn access(owner: &str, mode: u16, acl: &str) -> Access {
        let mut access = Access {
            owner: owner.into(),
            group: "g".into(),
            mode,
            extended: Vec::new(),
        };
        if !acl.is_empty() {
            access.merge_acl(&parse_acl(acl, true).unwrap());
        }
        access
    }

    #[test]
    fn the_first_matching_class_gives_the_bits() {
        let a = access("me", 0o741, "");
        assert_eq!(a.bits_for("me"), 7);
        assert_eq!(a.bits_for("g"), 4, "the owning group (by its ID)");
        assert_eq!(a.bits_for("someone"), 1);
        // A named user, capped by the mask; owner bits are not capped.
        let a = access("me", 0o700, "user:u1:rwx,mask::r--");
        assert_eq!(a.bits_for("u1"), READ);
        assert_eq!(a.bits_for("me"), 7);
        let a = access("me", 0o700, "group:g2:-w-");
        assert_eq!(a.bits_for("g2"), WRITE);
        assert!(a.allows("me", READ | WRITE | EXECUTE));
        assert!(!a.allows("someone", EXECUTE));
    }

    fn fs_with(paths: &[(&str, Kind, Access)], root: Access) -> FsMeta {
        let mut fs = FsMeta::new(None);
        fs.root_access = Some(root);
        for (path, kind, access) in paths {
            let mut meta = model::PathMeta::new(*kind, None);
            meta.access = Some(access.clone());
            fs.paths.insert(path.to_string(), meta);
        }
        fs
    }

    #[test]
    fn operations_need_traversal_and_their_own_bits() {
        let fs = fs_with(
            &[
                ("d", Kind::Directory, access("p", 0o750, "")),
                ("d/mine", Kind::File, access("p", 0o600, "")),
                ("d/theirs", Kind::File, access("q", 0o640, "")),
            ],
            access("$superuser", 0o751, ""),
        );
        assert!(check(&fs, Some("d/mine"), "p", Need::Read).is_ok());
        assert!(check(&fs, Some("d/mine"), "p", Need::Own).is_ok());
        let e = check(&fs, Some("d/theirs"), "p", Need::Own).unwrap_err();
        assert_eq!(e.code, "AuthorizationPermissionMismatch");
        assert!(
            check(&fs, Some("d/theirs"), "p", Need::Read).is_err(),
            "other: ---"
        );
        assert!(check(&fs, Some("d/new"), "p", Need::CreateOrWrite).is_ok());
        assert!(check(&fs, Some("d/theirs"), "p", Need::Delete).is_ok());
        // Someone else cannot get through `d` (other: ---).
        assert!(check(&fs, Some("d/mine"), "x", Need::Traverse).is_err());
        assert!(
            check(&fs, Some("d"), "x", Need::Traverse).is_ok(),
            "/ is --x"
        );
        assert!(
            check(&fs, None, "x", Need::List).is_err(),
            "/ is not readable"
        );
        assert!(check(&fs, Some("d/mine"), "p", Need::Superuser).is_err());
        assert!(
            check(&fs, Some("d/gone"), "p", Need::Read).is_ok(),
            "left to the operation"
        );
    }

    #[test]
    fn a_sticky_parent_keeps_others_paths() {
        let fs = fs_with(
            &[
                ("t", Kind::Directory, access("root", 0o1777, "")),
                ("t/theirs", Kind::File, access("q", 0o666, "")),
                ("t/mine", Kind::File, access("p", 0o666, "")),
            ],
            access("$superuser", 0o755, ""),
        );
        assert!(check(&fs, Some("t/theirs"), "p", Need::Delete).is_err());
        assert!(check(&fs, Some("t/mine"), "p", Need::Delete).is_ok());
        assert!(check(&fs, Some("t/theirs"), "p", Need::Write).is_ok());
    }
}
