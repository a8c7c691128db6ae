//! `Space` and `Remove`, both sides: what blitd answers and refuses, and
//! what the client makes of the answers (`blit df`, `blit rm`).
//!
//! A removal is refused before anything is resolved when the module is
//! read-only or the path is the module's root, in the words a push into a
//! read-only module gets; the daemon then removes through its held
//! descriptors (`Anchor::remove` of blit-transport-local).

use crate::convert::{kind_from_pb_kind, kind_to_pb_kind};
use crate::error::protocol;
use blit_api::{Error, ErrorKind, Expect, FileKind, RelPath, Result, Space};
use blit_proto::{pb, PROTOCOL_VERSION};

/// The reply to `Space`.
pub fn space_reply(space: &Space) -> pb::SpaceReply {
    pb::SpaceReply {
        protocol_version: PROTOCOL_VERSION,
        total_bytes: space.total_bytes,
        free_bytes: space.free_bytes,
        available_bytes: space.available_bytes,
        total_inodes: space.total_inodes,
        free_inodes: space.free_inodes,
        available_inodes: space.available_inodes,
    }
}

/// The space a `Space` reply from `peer` gives.
pub fn space_from_pb(reply: pb::SpaceReply, peer: &str) -> Result<Space> {
    crate::client::check_version(reply.protocol_version, peer)?;
    Ok(Space {
        total_bytes: reply.total_bytes,
        free_bytes: reply.free_bytes,
        available_bytes: reply.available_bytes,
        total_inodes: reply.total_inodes,
        free_inodes: reply.free_inodes,
        available_inodes: reply.available_inodes,
    })
}

/// The reply to `Remove`: what the removed entry was.
pub fn remove_reply(kind: FileKind) -> pb::RemoveReply {
    pb::RemoveReply { protocol_version: PROTOCOL_VERSION, kind: kind_to_pb_kind(kind) as i32, kept: false }
}

/// The answer to a conditional removal (`blit move`): removed, or kept.
pub fn removed_if_reply(removed: bool) -> pb::RemoveReply {
    pb::RemoveReply { protocol_version: PROTOCOL_VERSION, kind: 0, kept: !removed }
}

/// The wire form of `expect`.
pub fn expect_to_pb(expect: Expect) -> pb::Expect {
    match expect {
        Expect::Entry { kind, size, mtime_ns } => {
            pb::Expect { kind: kind_to_pb_kind(kind) as i32, size, mtime_ns, empty_dir: false }
        }
        Expect::EmptyDir => pb::Expect { kind: 0, size: 0, mtime_ns: 0, empty_dir: true },
    }
}

/// What a conditional removal from `peer` expects.
pub fn expect_from_pb(expect: &pb::Expect, peer: &str) -> Result<Expect> {
    if expect.empty_dir {
        return Ok(Expect::EmptyDir);
    }
    let kind = kind_from_pb_kind(expect.kind).map_err(|e| protocol(peer, e.message().to_owned()))?;
    Ok(Expect::Entry { kind, size: expect.size, mtime_ns: expect.mtime_ns })
}

/// Whether a conditional `Remove` from `peer` removed its entry.
pub fn removed_if_from_pb(reply: pb::RemoveReply, peer: &str) -> Result<bool> {
    crate::client::check_version(reply.protocol_version, peer)?;
    Ok(!reply.kept)
}

/// What a `Remove` reply from `peer` says was removed.
pub fn removed_from_pb(reply: pb::RemoveReply, peer: &str) -> Result<FileKind> {
    crate::client::check_version(reply.protocol_version, peer)?;
    kind_from_pb_kind(reply.kind).map_err(|e| protocol(peer, e.message().to_owned()))
}

/// Refuses a removal blitd never does: anything in a read-only module, and
/// the module's root itself. `module` is the module's name, `path` the
/// checked module-relative path.
pub fn check_removal(module: &str, read_only: bool, path: &RelPath) -> Result<()> {
    let shown = path.to_path(&std::path::Path::new("/").join(module)).display().to_string();
    if read_only {
        return Err(Error::new(ErrorKind::ReadOnly, format!("module `{module}` is read-only; removals are refused"))
            .with_path(shown)
            .with_hint("remove from a writable module"));
    }
    if path.is_root() {
        return Err(Error::new(ErrorKind::PermissionDenied, "refused: blit rm never removes a module's root")
            .with_path(shown)
            .with_hint(format!("name an entry inside it, such as /{module}/old; `blit ls` lists them")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_and_refuse_another_version() {
        let space = Space {
            total_bytes: 10,
            free_bytes: 5,
            available_bytes: 4,
            total_inodes: 3,
            free_inodes: 2,
            available_inodes: 1,
        };
        assert_eq!(space_from_pb(space_reply(&space), "h:1").unwrap(), space);
        let mut old = space_reply(&space);
        old.protocol_version = 99;
        assert_eq!(space_from_pb(old, "h:1").unwrap_err().kind(), ErrorKind::Protocol);
        for kind in [FileKind::File, FileKind::Dir, FileKind::Symlink] {
            assert_eq!(removed_from_pb(remove_reply(kind), "h:1").unwrap(), kind);
        }
        let odd = pb::RemoveReply { protocol_version: PROTOCOL_VERSION, kind: 42, kept: false };
        assert_eq!(removed_from_pb(odd, "h:1").unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn removals_refused_in_read_only_modules_and_of_the_root() {
        let path = RelPath::from_bytes(b"a/b".to_vec()).unwrap();
        assert!(check_removal("m", false, &path).is_ok());
        let e = check_removal("m", true, &path).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ReadOnly);
        assert!(e.to_string().contains("/m/a/b") && e.to_string().contains("read-only"), "{e}");
        let e = check_removal("m", false, &RelPath::root()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().starts_with("/m: refused"), "{e}");
    }
}
