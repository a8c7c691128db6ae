//! Ownership and extended attributes (`TransferOptions::owner`, `group`,
//! `xattrs`): carried in every header the options ask for, by every
//! transport, whole files and shards alike, and applied by the destination,
//! or reported by one warning when the destination cannot keep them.
//!
//! Each fixture has a small file (travels in a shard where the transport
//! has shards), a file above the shard limit (travels alone), a directory
//! and a file inside it, and a symlink where the transport keeps symlinks.

use super::manifest::root;
use crate::ctx::{Ctx, Outcome, Transfer};
use crate::failure::{ensure, rules, Failure};
use crate::fixture::TreeSpec;
use crate::hooks;
use blit_api::{ProgressEvent, TransferOptions};
use blit_transport_local::xattr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Whether the filesystem the trials run in stores `user.*` attributes.
pub fn fs_user_xattrs() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| {
        let Ok(file) = tempfile::NamedTempFile::new_in(crate::fixture::temp_base()) else { return false };
        xattr::set_path(file.path(), b"user.blit-probe", b"1").is_ok()
    })
}

/// Entries of the fixture, files first.
const FILES: [&str; 3] = ["small", "big", "d/inner"];

fn fixture(ctx: &mut Ctx) -> TreeSpec {
    let mut spec = root(ctx.rng());
    let m = ctx.rng().mtime_ns();
    spec.dir("d", 0o755, m);
    let (small, big, inner) = (ctx.rng().content(100), ctx.rng().content(1_500_000), ctx.rng().content(7));
    let (m1, m2, m3) = (ctx.rng().mtime_ns(), ctx.rng().mtime_ns(), ctx.rng().mtime_ns());
    spec.file("small", small, 0o644, m1);
    // Set-user-ID: a change of owner must not cost the mode its bit.
    spec.file("big", big, 0o4755, m2);
    spec.file("d/inner", inner, 0o600, m3);
    if ctx.caps().symlink {
        let m = ctx.rng().mtime_ns();
        spec.symlink("link", "small", m);
    }
    spec
}

fn warnings(out: &Outcome) -> Vec<String> {
    out.events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Warning { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// Extended attributes as (name, value) pairs.
type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

fn user_xattrs(path: &Path) -> Result<Xattrs, Failure> {
    let all = xattr::list(path).map_err(|e| Failure::fixture(format!("list attributes of {}", path.display()), e))?;
    Ok(all.into_iter().filter(|(n, _)| n.starts_with(b"user.")).collect())
}

/// `user.*` attributes of files and directories arrive, raw bytes intact;
/// a second run changes nothing; a copy without the option carries none.
pub async fn xattrs(ctx: &mut Ctx) -> Result<(), Failure> {
    let spec = fixture(ctx);
    ctx.build(&spec)?;
    let src = ctx.src();
    let set = |p: &str, name: &[u8], value: &[u8]| {
        xattr::set_path(&src.join(p), name, value).map_err(|e| Failure::fixture(format!("set an attribute on {p}"), e))
    };
    set("small", b"user.blit.text", b"hello")?;
    set("small", b"user.blit.raw", b"\n=\0\xff")?;
    set("small", b"user.blit.empty", b"")?;
    set("big", b"user.blit.big", &[7u8; 600])?;
    set("d", b"user.blit.dir", b"on a directory")?;
    set("d/inner", b"user.blit.x=y", b"name with =")?;
    let options = TransferOptions::new().xattrs(true);
    let first = ctx.transfer(Transfer::new().options(options.clone())).await?;
    let dst = ctx.dst();
    for p in FILES.iter().chain(&["d"]) {
        let (want, got) = (user_xattrs(&src.join(p))?, user_xattrs(&dst.join(p))?);
        ensure(want == got, rules::METADATA_KEPT, || format!("{p}: attributes {want:?} at the source, {got:?} here"))?;
    }
    ensure(warnings(&first).is_empty(), rules::METADATA_KEPT, || format!("warnings: {:?}", warnings(&first)))?;
    // A changed attribute is brought in line in place; a removed one goes.
    set("small", b"user.blit.text", b"changed")?;
    xattr::remove_path(&src.join("d/inner"), b"user.blit.x=y").map_err(|e| Failure::fixture("remove", e))?;
    let second = ctx.transfer(Transfer::new().options(options)).await?;
    ensure(second.started().is_empty(), rules::SECOND_RUN_IDLE, || {
        format!("attribute changes alone re-sent {:?}", second.started())
    })?;
    for p in ["small", "d/inner"] {
        let (want, got) = (user_xattrs(&src.join(p))?, user_xattrs(&dst.join(p))?);
        ensure(want == got, rules::METADATA_KEPT, || format!("{p} after a change: {want:?} wanted, {got:?} here"))?;
    }
    let plain = ctx.root().join("plain");
    ctx.transfer(Transfer::new().to(&plain)).await?;
    let got = user_xattrs(&plain.join("small"))?;
    ensure(got.is_empty(), rules::METADATA_KEPT, || format!("without --xattrs the copy got {got:?}"))
}

fn ids(path: &Path) -> Result<(u32, u32), Failure> {
    let m = std::fs::symlink_metadata(path).map_err(|e| Failure::fixture(format!("lstat {}", path.display()), e))?;
    Ok((m.uid(), m.gid()))
}

/// As root: owner and group of files, directories and symlinks arrive
/// (set-user-ID bits kept). Otherwise the walk's owner is replaced by one
/// this user cannot give: every entry still lands, nothing fails, and
/// exactly one warning says why.
pub async fn owner_group(ctx: &mut Ctx) -> Result<(), Failure> {
    let spec = fixture(ctx);
    ctx.build(&spec)?;
    let src = ctx.src();
    let mut paths: Vec<&str> = vec!["", "d"];
    paths.extend(FILES);
    if ctx.caps().symlink {
        paths.push("link");
    }
    let options = TransferOptions::new().owner(true).group(true);
    // SAFETY: geteuid has no preconditions.
    let root_user = unsafe { libc::geteuid() } == 0;
    if root_user {
        for p in &paths {
            std::os::unix::fs::lchown(src.join(p), Some(4321), Some(8765))
                .map_err(|e| Failure::fixture(format!("chown {p}"), e))?;
        }
        // chown cleared the set-user-ID bit at the source too.
        let setuid = std::os::unix::fs::PermissionsExt::from_mode(0o4755);
        std::fs::set_permissions(src.join("big"), setuid).map_err(|e| Failure::fixture("chmod", e))?;
        let out = ctx.transfer(Transfer::new().options(options)).await?;
        let dst = ctx.dst();
        for p in &paths {
            let got = ids(&dst.join(p))?;
            ensure(got == (4321, 8765), rules::METADATA_KEPT, || {
                format!("{p:?} is owned by {got:?}, not (4321, 8765)")
            })?;
        }
        return ensure(warnings(&out).is_empty(), rules::METADATA_KEPT, || format!("warnings: {:?}", warnings(&out)));
    }
    // SAFETY: geteuid has no preconditions.
    let other = unsafe { libc::geteuid() }.wrapping_add(1);
    let hook = hooks::edit_headers(Arc::new(move |h| h.uid = Some(other)));
    let out = ctx.transfer(Transfer::new().options(options).source_hook(hook)).await?;
    let w = warnings(&out);
    ensure(w.len() == 1 && w[0].contains("owner or group"), rules::METADATA_KEPT, || {
        format!("expected one warning about the owner, got {w:?}")
    })?;
    ensure(out.summary.failures.is_empty(), rules::METADATA_KEPT, || {
        format!("an owner the destination cannot give failed entries: {:?}", out.summary.failures)
    })
}
