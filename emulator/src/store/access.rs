//! POSIX access control of a path, as the hierarchical namespace models it: an owner, an
//! owning group, permission bits (with the sticky bit) and an ACL of named users and groups,
//! a mask, and the default entries of a directory that its new children inherit.
//!
//! Wire forms: permissions as `rwxr-x---` (a trailing `+` when the ACL has extended entries,
//! `t`/`T` in the last place for the sticky bit) or octal `0750`; ACLs as
//! `[default:]user|group|mask|other:[id]:rwx` entries joined by commas.

use serde::{Deserialize, Serialize};

use super::model::Kind;
use crate::errors::ServiceError;

/// The owner and group of paths nobody set them on (the superuser, as the service shows
/// for paths created by an account-level identity).
pub(crate) const SUPERUSER: &str = "$superuser";

/// The umask applied at create when none is given and no default ACL is inherited.
const DEFAULT_UMASK: u16 = 0o027;

/// Sticky bit (`t` in the last place of the symbolic form).
const STICKY: u16 = 0o1000;

/// What an ACL entry applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scope {
    /// `user::` (the owner) or `user:ID:`.
    User,
    /// `group::` (the owning group) or `group:ID:`.
    Group,
    /// `mask::`: the most a named entry or the owning group gets.
    Mask,
    /// `other::`.
    Other,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Group => "group",
            Scope::Mask => "mask",
            Scope::Other => "other",
        }
    }
}

/// One ACL entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AclEntry {
    /// A default entry (directories: inherited by new children).
    #[serde(default)]
    pub default: bool,
    /// What it applies to.
    pub scope: Scope,
    /// Named user or group (an object ID or UPN); empty for the base entries.
    #[serde(default)]
    pub id: String,
    /// `rwx` bits (4, 2, 1).
    pub perms: u8,
}

impl AclEntry {
    fn render(&self) -> String {
        format!(
            "{}{}:{}:{}",
            if self.default { "default:" } else { "" },
            self.scope.as_str(),
            self.id,
            rwx(self.perms)
        )
    }

    /// Whether `self` and `other` name the same entry (their permissions aside).
    pub(crate) fn same_target(&self, other: &AclEntry) -> bool {
        self.default == other.default && self.scope == other.scope && self.id == other.id
    }
}

/// The access control of one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Access {
    /// Owning user.
    pub owner: String,
    /// Owning group.
    pub group: String,
    /// Permission bits (`0o777`) and the sticky bit.
    pub mode: u16,
    /// Extended access entries (named users and groups, mask) and default entries; the base
    /// access entries are `mode`.
    #[serde(default)]
    pub extended: Vec<AclEntry>,
}

/// `rwx` for bits 4, 2, 1.
fn rwx(perms: u8) -> String {
    [(4, 'r'), (2, 'w'), (1, 'x')]
        .iter()
        .map(|&(bit, c)| if perms & bit != 0 { c } else { '-' })
        .collect()
}

fn parse_rwx(text: &str) -> Option<u8> {
    let bytes = text.as_bytes();
    if bytes.len() != 3 {
        return None;
    }
    let mut perms = 0;
    for (i, (bit, c)) in [(4u8, b'r'), (2, b'w'), (1, b'x')].into_iter().enumerate() {
        match bytes[i] {
            b if b == c => perms |= bit,
            b'-' => {}
            _ => return None,
        }
    }
    Some(perms)
}

/// Parses `x-ms-permissions`: symbolic (`rwxr-x---`, optional sticky `t`/`T` and `+`) or
/// octal (`0750`, `1777`, `750`); `InvalidPermission` otherwise.
pub(crate) fn parse_permissions(text: &str) -> Result<u16, ServiceError> {
    let text = text.trim();
    if text.bytes().all(|b| b.is_ascii_digit()) && (3..=4).contains(&text.len()) {
        return u16::from_str_radix(text, 8)
            .ok()
            .filter(|m| *m <= 0o1777)
            .ok_or_else(invalid_permission);
    }
    let symbolic = text.strip_suffix('+').unwrap_or(text);
    if symbolic.len() != 9 || !symbolic.is_ascii() {
        return Err(invalid_permission());
    }
    let (head, last) = symbolic.split_at(8);
    let (sticky, last_x) = match last {
        "t" => (STICKY, "x"),
        "T" => (STICKY, "-"),
        other => (0, other),
    };
    let other = format!("{}{last_x}", &head[6..8]);
    let user = parse_rwx(&head[0..3]).ok_or_else(invalid_permission)?;
    let group = parse_rwx(&head[3..6]).ok_or_else(invalid_permission)?;
    let other = parse_rwx(&other).ok_or_else(invalid_permission)?;
    Ok(sticky | (u16::from(user) << 6) | (u16::from(group) << 3) | u16::from(other))
}

/// Parses `x-ms-umask` (octal, `0027`); `InvalidHeaderValue` otherwise.
pub(crate) fn parse_umask(text: &str) -> Result<u16, ServiceError> {
    let text = text.trim();
    if !(3..=4).contains(&text.len()) || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(ServiceError::invalid_header_value());
    }
    u16::from_str_radix(text, 8)
        .map(|m| m & 0o777)
        .map_err(|_| ServiceError::invalid_header_value())
}

/// Parses an ACL (`x-ms-acl`); with `with_perms` false (a removal), entries name no
/// permissions (`user:ID`). `InvalidHeaderValue` when malformed.
pub(crate) fn parse_acl(text: &str, with_perms: bool) -> Result<Vec<AclEntry>, ServiceError> {
    let mut entries = Vec::new();
    for raw in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (default, rest) = match raw.strip_prefix("default:") {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let mut parts = rest.splitn(3, ':');
        let scope = match parts.next() {
            Some("user") => Scope::User,
            Some("group") => Scope::Group,
            Some("mask") => Scope::Mask,
            Some("other") => Scope::Other,
            _ => return Err(invalid_acl()),
        };
        let id = parts.next().unwrap_or_default().to_string();
        let perms = match (parts.next(), with_perms) {
            (Some(p), true) => parse_rwx(p).ok_or_else(invalid_acl)?,
            (None, false) => 0,
            (Some(_), false) => return Err(invalid_acl()),
            (None, true) => return Err(invalid_acl()),
        };
        if matches!(scope, Scope::Mask | Scope::Other) && !id.is_empty() {
            return Err(invalid_acl());
        }
        entries.push(AclEntry {
            default,
            scope,
            id,
            perms,
        });
    }
    Ok(entries)
}

fn invalid_permission() -> ServiceError {
    ServiceError::invalid_header_value()
}

fn invalid_acl() -> ServiceError {
    ServiceError::invalid_header_value()
}

impl Access {
    /// The access of a new path created with `mode`/`umask` (defaults: 0666 for files, 0777
    /// for directories, umask 0027) under a parent with `parent_defaults` (its default ACL
    /// entries). As in POSIX, a parent's default ACL replaces the umask: the child's access
    /// entries come from it (its mode bits capped by the requested mode), and a directory
    /// inherits the default entries too.
    pub(crate) fn for_new(
        kind: Kind,
        mode: Option<u16>,
        umask: Option<u16>,
        parent_defaults: &[AclEntry],
    ) -> Access {
        let requested = mode.unwrap_or(match kind {
            Kind::File => 0o666,
            Kind::Directory => 0o777,
        });
        let mut access = Access {
            owner: SUPERUSER.to_string(),
            group: SUPERUSER.to_string(),
            mode: requested & !umask.unwrap_or(DEFAULT_UMASK) & 0o777 | (requested & STICKY),
            extended: Vec::new(),
        };
        if parent_defaults.is_empty() {
            return access;
        }
        let mut mode = requested & STICKY;
        let mut base = |scope: Scope, shift: u16| {
            if let Some(e) = parent_defaults
                .iter()
                .find(|e| e.scope == scope && e.id.is_empty())
            {
                mode |= (u16::from(e.perms) & (requested >> shift) & 7) << shift;
            }
        };
        base(Scope::User, 6);
        base(Scope::Group, 3);
        base(Scope::Other, 0);
        access.mode = mode;
        for entry in parent_defaults {
            let named = !entry.id.is_empty() || entry.scope == Scope::Mask;
            if named {
                access.extended.push(AclEntry {
                    default: false,
                    ..entry.clone()
                });
            }
            if kind == Kind::Directory {
                access.extended.push(entry.clone());
            }
        }
        access
    }

    /// The default access of a path nobody set access control on.
    pub(crate) fn default_for(kind: Kind) -> Access {
        Access::for_new(kind, None, None, &[])
    }

    /// `x-ms-permissions`: `rwxr-x---`, `+` when extended access entries exist; the group
    /// place shows the mask when there is one, as POSIX does.
    pub(crate) fn permissions(&self) -> String {
        let mask = self
            .extended
            .iter()
            .find(|e| !e.default && e.scope == Scope::Mask)
            .map(|e| e.perms);
        let user = ((self.mode >> 6) & 7) as u8;
        let group = mask.unwrap_or(((self.mode >> 3) & 7) as u8);
        let other = (self.mode & 7) as u8;
        let mut text = format!("{}{}{}", rwx(user), rwx(group), rwx(other));
        if self.mode & STICKY != 0 {
            let last = if other & 1 != 0 { "t" } else { "T" };
            text.replace_range(8..9, last);
        }
        if self.extended.iter().any(|e| !e.default) {
            text.push('+');
        }
        text
    }

    /// `x-ms-acl`: the access entries (base and named, mask), then the default entries.
    pub(crate) fn acl(&self) -> String {
        let base = |scope, perms: u16| AclEntry {
            default: false,
            scope,
            id: String::new(),
            perms: (perms & 7) as u8,
        };
        let mut entries = vec![base(Scope::User, self.mode >> 6)];
        entries.extend(self.named(false, Scope::User));
        entries.push(base(Scope::Group, self.mode >> 3));
        entries.extend(self.named(false, Scope::Group));
        entries.extend(self.named(false, Scope::Mask));
        entries.push(base(Scope::Other, self.mode));
        for scope in [Scope::User, Scope::Group, Scope::Mask, Scope::Other] {
            entries.extend(
                self.extended
                    .iter()
                    .filter(|e| e.default && e.scope == scope && e.id.is_empty())
                    .cloned(),
            );
            if matches!(scope, Scope::User | Scope::Group) {
                entries.extend(
                    self.extended
                        .iter()
                        .filter(|e| e.default && e.scope == scope && !e.id.is_empty())
                        .cloned(),
                );
            }
        }
        entries
            .iter()
            .map(AclEntry::render)
            .collect::<Vec<_>>()
            .join(",")
    }

    fn named(&self, default: bool, scope: Scope) -> Vec<AclEntry> {
        self.extended
            .iter()
            .filter(|e| e.default == default && e.scope == scope)
            .filter(|e| scope == Scope::Mask || !e.id.is_empty())
            .cloned()
            .collect()
    }

    /// The default entries (what a new child inherits).
    pub(crate) fn defaults(&self) -> Vec<AclEntry> {
        self.extended
            .iter()
            .filter(|e| e.default)
            .cloned()
            .collect()
    }

    /// Replaces the whole ACL (`setAccessControl` with `x-ms-acl`): base entries set the mode
    /// bits, the others replace the extended entries.
    pub(crate) fn replace_acl(&mut self, entries: &[AclEntry]) {
        self.extended.clear();
        self.merge_acl(entries);
    }

    /// Adds or updates entries (`setAccessControlRecursive` mode `modify`).
    pub(crate) fn merge_acl(&mut self, entries: &[AclEntry]) {
        for entry in entries {
            let shift = match (entry.default, entry.scope, entry.id.is_empty()) {
                (false, Scope::User, true) => Some(6),
                (false, Scope::Group, true) => Some(3),
                (false, Scope::Other, _) => Some(0),
                _ => None,
            };
            match shift {
                Some(shift) => {
                    self.mode = (self.mode & !(7 << shift)) | (u16::from(entry.perms) << shift);
                }
                None => match self.extended.iter_mut().find(|e| e.same_target(entry)) {
                    Some(existing) => existing.perms = entry.perms,
                    None => self.extended.push(entry.clone()),
                },
            }
        }
    }

    /// Removes the named entries, masks and default entries `entries` name (mode `remove`);
    /// base access entries cannot be removed and are ignored.
    pub(crate) fn remove_acl(&mut self, entries: &[AclEntry]) {
        self.extended
            .retain(|existing| !entries.iter().any(|e| e.same_target(existing)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_both_forms() {
        assert_eq!(parse_permissions("rwxr-x---").unwrap(), 0o750);
        assert_eq!(parse_permissions("0777").unwrap(), 0o777);
        assert_eq!(parse_permissions("rwxrwxrwt").unwrap(), 0o1777);
        assert_eq!(parse_permissions("rwxr-x---+").unwrap(), 0o750);
        for bad in ["rwx", "0888", "rwxr-x--z", "12345"] {
            assert!(parse_permissions(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_umask("0027").unwrap(), 0o027);
        assert!(parse_umask("9").is_err());
    }

    #[test]
    fn new_paths_take_the_umask_or_the_parents_defaults() {
        assert_eq!(Access::default_for(Kind::File).permissions(), "rw-r-----");
        assert_eq!(
            Access::default_for(Kind::Directory).permissions(),
            "rwxr-x---"
        );
        let mine = Access::for_new(Kind::Directory, Some(0o744), Some(0), &[]);
        assert_eq!(mine.permissions(), "rwxr--r--");
        let defaults = parse_acl(
            "default:user::rwx,default:group::r-x,default:other::---,default:user:u1:r-x",
            true,
        )
        .unwrap();
        let child = Access::for_new(Kind::File, None, Some(0o777), &defaults);
        assert_eq!(child.acl(), "user::rw-,user:u1:r-x,group::r--,other::---");
        let sub = Access::for_new(Kind::Directory, None, None, &defaults);
        assert!(sub.acl().ends_with(
            "default:user::rwx,default:user:u1:r-x,default:group::r-x,default:other::---"
        ));
    }

    #[test]
    fn acls_replace_merge_and_remove() {
        let mut access = Access::default_for(Kind::Directory);
        access.replace_acl(&parse_acl("user::rwx,group::r-x,other::rwx", true).unwrap());
        assert_eq!(access.acl(), "user::rwx,group::r-x,other::rwx");
        assert_eq!(access.permissions(), "rwxr-xrwx");
        access.merge_acl(&parse_acl("user:a:r--,mask::r-x,default:user::rwx", true).unwrap());
        assert_eq!(
            access.acl(),
            "user::rwx,user:a:r--,group::r-x,mask::r-x,other::rwx,default:user::rwx"
        );
        assert_eq!(access.permissions(), "rwxr-xrwx+");
        access.remove_acl(&parse_acl("user:a,mask,default:user", false).unwrap());
        assert_eq!(access.acl(), "user::rwx,group::r-x,other::rwx");
        assert!(parse_acl("users::rwx", true).is_err());
        assert!(parse_acl("user::rwz", true).is_err());
    }
}
