//! What a destination accepts from its source beyond content and times.
//!
//! A local copy and a pull write the user's own files, so they keep every
//! bit the source sends ([`DestinationPolicy::default`]). A daemon landing a
//! client's push may run as root; taking the header's owner, group,
//! set-user-ID and set-group-ID bits as they come would then let any client
//! that can push plant a root-owned set-user-ID program. So the daemon hands
//! its destination a stricter policy, per module.
//!
//! The policy is applied where headers enter the destination, and only
//! there: the judge applies it to every manifest entry before it creates a
//! directory or fixes an existing entry in place (so `finish` sets the
//! directory modes it allows, and a file already up to date loses the bits
//! too), and the payload writer applies it again to the header it lands
//! with, because that header comes from the peer, not from the judge.
//!
//! Refusing set-user-ID also drops the `security.capability` extended
//! attribute (`--xattrs`): file capabilities grant privileges on `exec` just
//! as the set-user-ID bit does.
//!
//! Extended attributes outside `user.*` (`security.*`, `trusted.*`, POSIX
//! ACLs in `system.*`) change what the kernel allows; a daemon's policy
//! keeps only `user.*` and the names its module lists
//! ([`DestinationPolicy::xattrs_allowed`]).

use blit_api::FileHeader;
use std::borrow::Cow;
use std::sync::Arc;

/// The set-user-ID and set-group-ID bits (the sticky bit is not one of them).
const SETID_BITS: u32 = 0o6000;

/// The extended attribute that holds file capabilities.
const CAPABILITY_XATTR: &[u8] = b"security.capability";

/// What a [`LocalDestination`](crate::LocalDestination) accepts from the
/// headers its source sends: ownership, and the bits that raise privileges
/// on `exec`.
///
/// The default accepts everything, as a copy of the user's own files should;
/// a daemon builds a stricter one per module:
///
/// ```
/// use blit_transport_local::{DestinationPolicy, LocalDestination};
///
/// let policy = DestinationPolicy::default().owner(false).setid(false);
/// let destination = LocalDestination::new("/srv/backup".into()).with_policy(policy);
/// assert!(!destination.policy().allows_owner());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationPolicy {
    owner: bool,
    setid: bool,
    /// `None`: every attribute; else `user.*` and these names (an entry
    /// ending in `.*` admits every name with that prefix).
    xattrs: Option<Arc<[String]>>,
    /// Flush every landed file and its directories whatever the source asks
    /// (a daemon module's `fsync = true`; see `TransferOptions::fsync`).
    fsync: bool,
}

impl Default for DestinationPolicy {
    /// Accepts owner, group, set-user-ID and set-group-ID bits and every
    /// extended attribute.
    fn default() -> Self {
        DestinationPolicy { owner: true, setid: true, xattrs: None, fsync: false }
    }
}

impl DestinationPolicy {
    /// Whether the owner and group a header carries (`--owner`, `--group`)
    /// are applied; without, entries keep the destination's default owner.
    pub fn owner(mut self, accept: bool) -> Self {
        self.owner = accept;
        self
    }

    /// Whether set-user-ID and set-group-ID bits (and file capabilities)
    /// are kept; without, files and directories land without them. The
    /// sticky bit is always kept.
    pub fn setid(mut self, accept: bool) -> Self {
        self.setid = accept;
        self
    }

    /// Keeps only `user.*` extended attributes and those `allowed` names:
    /// an exact name (`security.selinux`), or a prefix ending in `.*`
    /// (`trusted.*`). Others are dropped before anything lands.
    pub fn xattrs_allowed(mut self, allowed: &[String]) -> Self {
        self.xattrs = Some(allowed.iter().cloned().collect());
        self
    }

    /// Whether the extended attribute `name` is accepted.
    pub fn allows_xattr(&self, name: &[u8]) -> bool {
        let Some(allowed) = &self.xattrs else { return true };
        name.starts_with(b"user.")
            || allowed.iter().any(|a| match a.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix.as_bytes()),
                None => name == a.as_bytes(),
            })
    }

    /// Whether owner and group are applied (see [`DestinationPolicy::owner`]).
    pub fn allows_owner(&self) -> bool {
        self.owner
    }

    /// Whether set-ID bits are kept (see [`DestinationPolicy::setid`]).
    pub fn allows_setid(&self) -> bool {
        self.setid
    }

    /// Whether every transfer into this destination flushes what it lands
    /// to stable storage, as `--fsync` asks (default: only when asked).
    pub fn always_fsync(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }

    /// Whether [`DestinationPolicy::always_fsync`] is on.
    pub fn fsyncs(&self) -> bool {
        self.fsync
    }

    /// Whether `h` carries anything this policy takes away.
    fn restricts(&self, h: &FileHeader) -> bool {
        (!self.owner && (h.uid.is_some() || h.gid.is_some()))
            || (!self.setid && (h.mode & SETID_BITS != 0 || h.xattrs.iter().any(|(n, _)| n == CAPABILITY_XATTR)))
            || h.xattrs.iter().any(|(n, _)| !self.allows_xattr(n))
    }

    /// Takes from `h` what this policy does not accept.
    pub(crate) fn apply(&self, h: &mut FileHeader) {
        if !self.owner {
            h.uid = None;
            h.gid = None;
        }
        if !self.setid {
            h.mode &= !SETID_BITS;
            h.xattrs.retain(|(name, _)| name != CAPABILITY_XATTR);
        }
        if self.xattrs.is_some() {
            h.xattrs.retain(|(name, _)| self.allows_xattr(name));
        }
    }

    /// `h` as this policy accepts it, copied only when something changes.
    pub(crate) fn admit<'a>(&self, h: &'a FileHeader) -> Cow<'a, FileHeader> {
        if !self.restricts(h) {
            return Cow::Borrowed(h);
        }
        let mut h = h.clone();
        self.apply(&mut h);
        Cow::Owned(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> FileHeader {
        FileHeader {
            mode: 0o7755,
            uid: Some(0),
            gid: Some(0),
            xattrs: vec![(CAPABILITY_XATTR.to_vec(), b"caps".to_vec()), (b"user.a".to_vec(), b"1".to_vec())],
            ..FileHeader::default()
        }
    }

    #[test]
    fn only_user_attributes_and_the_listed_ones_pass_a_restricted_policy() {
        let x = |n: &str| (n.as_bytes().to_vec(), b"v".to_vec());
        let h = FileHeader {
            xattrs: vec![
                x("user.a"),
                x("security.selinux"),
                x("security.ima"),
                x("trusted.overlay.opaque"),
                x("system.posix_acl_access"),
            ],
            ..FileHeader::default()
        };
        let none = DestinationPolicy::default().xattrs_allowed(&[]);
        assert_eq!(none.admit(&h).xattrs, [x("user.a")]);
        let some = DestinationPolicy::default().xattrs_allowed(&["security.selinux".into(), "trusted.*".into()]);
        assert_eq!(some.admit(&h).xattrs, [x("user.a"), x("security.selinux"), x("trusted.overlay.opaque")]);
        assert!(!some.allows_xattr(b"security.selinux2") && !some.allows_xattr(b"trusted"));
    }

    #[test]
    fn the_default_accepts_everything() {
        let h = header();
        assert!(matches!(DestinationPolicy::default().admit(&h), Cow::Borrowed(b) if *b == h));
    }

    #[test]
    fn refusing_setid_clears_both_bits_and_capabilities_but_keeps_sticky() {
        let p = DestinationPolicy::default().setid(false);
        let got = p.admit(&header()).into_owned();
        assert_eq!(got.mode, 0o1755);
        assert_eq!((got.uid, got.gid), (Some(0), Some(0)), "owner is another setting");
        assert_eq!(got.xattrs, [(b"user.a".to_vec(), b"1".to_vec())]);
        let plain = FileHeader { mode: 0o1777, ..FileHeader::default() };
        assert!(matches!(p.admit(&plain), Cow::Borrowed(_)), "nothing to take: no copy");
    }

    #[test]
    fn refusing_owner_drops_uid_and_gid_only() {
        let p = DestinationPolicy::default().owner(false);
        let got = p.admit(&header()).into_owned();
        assert_eq!((got.uid, got.gid, got.mode), (None, None, 0o7755));
        assert_eq!(got.xattrs.len(), 2);
        let gid_only = FileHeader { gid: Some(5), ..FileHeader::default() };
        assert_eq!(p.admit(&gid_only).gid, None);
        assert!(!p.allows_owner() && p.allows_setid());
    }
}
