//! What a pushing client may do to the daemon's machine: by default it can
//! neither give files an owner (a push with `--owner`/`--group` is refused
//! at `Open`, ids sent anyway are ignored) nor land set-user-ID or
//! set-group-ID bits; `allow_owner` and `allow_setid` open each per module.
//! Pulls keep every bit, as local copies do.

mod common;

use blit_api::{ErrorKind, FileHeader, ProgressEvent, RecordingSink, Result, TransferOptions, TransferSummary};
use blit_conformance::hooks::edit_headers;
use blit_engine::SourceRoles;
use blit_transport_grpc::{GrpcConfig, RemoteSpec, TransportMode};
use blit_transport_local::LocalSource;
use common::{listing, pull, push, snapshot, Daemon};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const REFUSED: &str = "module `m` does not accept file ownership from clients";
const WHAT_TO_DO: &str = "drop --owner/--group, or set allow_owner = true for this module";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn ids(path: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.uid(), m.gid())
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn warnings(events: &[ProgressEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Warning { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// Pushes `src` with every header edited by `edit` on its way out, as a
/// client that announces ids of its choosing would.
async fn push_edited(
    src: &Path,
    remote: &RemoteSpec,
    options: &TransferOptions,
    edit: impl Fn(&mut FileHeader) + Send + Sync + 'static,
) -> (Result<TransferSummary>, Vec<ProgressEvent>) {
    let walker = Arc::new(LocalSource::new(src.to_path_buf()));
    let roles = SourceRoles { source: edit_headers(Arc::new(edit))(walker.clone()), reader: walker };
    let events = RecordingSink::new();
    let r = blit_transport_grpc::push(remote, roles, options, &GrpcConfig::default(), events.clone()).await;
    (r, events.events())
}

/// `src` holding `d/f`, and an empty module directory, below `dir`.
fn small_tree(dir: &Path) -> (PathBuf, PathBuf) {
    let (src, module) = (dir.join("src"), dir.join("module"));
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/f"), b"data").unwrap();
    std::fs::create_dir(&module).unwrap();
    (src, module)
}

/// A tree with set-user-ID and set-group-ID files, a set-group-ID
/// directory and a sticky one. A file its user owns may carry these bits,
/// so this needs no privilege.
fn setid_tree(src: &Path) {
    std::fs::create_dir_all(src.join("shared")).unwrap();
    std::fs::create_dir_all(src.join("drop")).unwrap();
    std::fs::write(src.join("tool"), b"#!/bin/sh\nid\n").unwrap();
    std::fs::write(src.join("shared/group-tool"), vec![7u8; 300 * 1024]).unwrap();
    std::fs::write(src.join("drop/note"), b"x").unwrap();
    chmod(&src.join("tool"), 0o4755);
    chmod(&src.join("shared/group-tool"), 0o2755);
    chmod(&src.join("shared"), 0o2775);
    chmod(&src.join("drop"), 0o1777);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_asking_for_ownership_into_a_default_module_is_refused_before_anything_is_written() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = small_tree(t.path());
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    for options in [TransferOptions::new().owner(true), TransferOptions::new().group(true)] {
        let (r, _) = push(&src, &daemon.remote("m", "new/dir"), &options).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        let text = e.to_string();
        assert!(text.contains(REFUSED) && text.contains(WHAT_TO_DO), "{text}");
        assert_eq!(listing(&module), [PathBuf::new()], "nothing is created, not even the transfer root");
    }
    // The same push without the flags goes through.
    let (r, _) = push(&src, &daemon.remote("m", "new/dir"), &TransferOptions::new()).await;
    r.unwrap();
    assert_eq!(std::fs::read(module.join("new/dir/d/f")).unwrap(), b"data");
    daemon.stop().await;
}

#[test]
fn the_daemon_logs_the_refusal_naming_the_client_and_the_module() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = small_tree(t.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_blitd"))
        .args(["--listen", "127.0.0.1:0", "--module"])
        .arg(format!("m={}", module.display()))
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("blitd runs");
    let (lines, log) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| loop {
        match log.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("blitd never logged {needle:?}: {e}"),
        }
    };
    let listening = wait_for("blitd listening on ");
    let port: u16 = listening.rsplit(':').next().unwrap().trim().parse().unwrap();
    let remote = RemoteSpec::new("127.0.0.1", port, "m", blit_api::RelPath::root());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (r, _) = runtime.block_on(push(&src, &remote, &TransferOptions::new().owner(true)));
    let client_side = r.unwrap_err().to_string();
    let daemon_side = wait_for("refused");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(client_side.contains(REFUSED) && client_side.contains(WHAT_TO_DO), "{client_side}");
    assert!(daemon_side.contains("client 127.0.0.1:") && daemon_side.contains("Push /m"), "{daemon_side}");
    assert!(daemon_side.contains(REFUSED) && daemon_side.contains(WHAT_TO_DO), "{daemon_side}");
    assert_eq!(listing(&module), [PathBuf::new()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_that_allows_ownership_applies_the_ids_a_push_sends() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = small_tree(t.path());
    let daemon = Daemon::start_with(&[("m", &module, false)], |c| c.modules[0].allow_owner = true).await;
    let options = TransferOptions::new().owner(true).group(true);
    if is_root() {
        for p in ["", "d", "d/f"] {
            std::os::unix::fs::lchown(src.join(p), Some(4321), Some(8765)).unwrap();
        }
        let (r, events) = push(&src, &daemon.remote("m", "t"), &options).await;
        assert!(r.unwrap().failures.is_empty());
        assert!(warnings(&events).is_empty(), "{:?}", warnings(&events));
        for p in ["", "d", "d/f"] {
            assert_eq!(ids(&module.join("t").join(p)), (4321, 8765), "{p:?}");
        }
    } else {
        // This user cannot give files away: the entries land, and one
        // warning says why.
        // SAFETY: geteuid has no preconditions.
        let other = unsafe { libc::geteuid() }.wrapping_add(1);
        let (r, events) = push_edited(&src, &daemon.remote("m", "t"), &options, move |h| h.uid = Some(other)).await;
        assert!(r.unwrap().failures.is_empty());
        let w = warnings(&events);
        assert!(w.len() == 1 && w[0].contains("could not set the owner or group of 3 entries"), "{w:?}");
        assert_eq!(std::fs::read(module.join("t/d/f")).unwrap(), b"data");
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_a_client_sends_without_asking_are_ignored_by_a_default_module() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = small_tree(t.path());
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    // The options do not ask for ownership, so `Open` passes; the headers
    // carry ids anyway. Root would apply them, anyone else would warn: the
    // daemon does neither.
    let claim = |h: &mut FileHeader| {
        h.uid = Some(4321);
        h.gid = Some(8765);
    };
    let (r, events) = push_edited(&src, &daemon.remote("m", "t"), &TransferOptions::new(), claim).await;
    assert!(r.unwrap().failures.is_empty());
    assert!(warnings(&events).is_empty(), "no chown was tried: {:?}", warnings(&events));
    // SAFETY: geteuid and getegid have no preconditions.
    let me = unsafe { (libc::geteuid(), libc::getegid()) };
    for p in ["", "d", "d/f"] {
        assert_eq!(ids(&module.join("t").join(p)), me, "{p:?} keeps the daemon's owner");
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_module_clears_set_id_bits_of_pushes_and_keeps_sticky() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    setid_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let want = [("tool", 0o755), ("shared/group-tool", 0o755), ("shared", 0o775), ("drop", 0o1777)];
    // In-stream gRPC and the TCP data plane (when built) land the same way.
    for (i, config) in [GrpcConfig::new().transport(TransportMode::Grpc), GrpcConfig::default()].iter().enumerate() {
        let dst = format!("t{i}");
        let (r, _) = common::push_with(&src, &daemon.remote("m", &dst), &TransferOptions::new(), config).await;
        assert!(r.unwrap().failures.is_empty());
        for (p, m) in want {
            assert_eq!(mode(&module.join(&dst).join(p)), m, "{dst}/{p}: {:o}", mode(&module.join(&dst).join(p)));
        }
        assert_eq!(mode(&src.join("tool")), 0o4755, "the source is untouched");
    }
    // A file already up to date whose mode kept the bit (an earlier run
    // into a trusting module) loses it in place, without a transfer.
    chmod(&module.join("t0/tool"), 0o4755);
    let (r, _) = push(&src, &daemon.remote("m", "t0"), &TransferOptions::new()).await;
    assert_eq!(r.unwrap().entries_transferred, 0);
    assert_eq!(mode(&module.join("t0/tool")), 0o755);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_setid_keeps_every_bit_and_pulls_keep_them_too() {
    let t = tempfile::tempdir().unwrap();
    let (src, module, back) = (t.path().join("src"), t.path().join("module"), t.path().join("back"));
    setid_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start_with(&[("m", &module, false)], |c| c.modules[0].allow_setid = true).await;
    let (r, _) = push(&src, &daemon.remote("m", "t"), &TransferOptions::new()).await;
    assert!(r.unwrap().failures.is_empty());
    assert_eq!(snapshot(&module.join("t")), snapshot(&src));
    assert_eq!(mode(&module.join("t/tool")), 0o4755);
    // The client writes its user's own files: a pull keeps the bits.
    let (r, _) = pull(&daemon.remote("m", "t"), &back, &TransferOptions::new()).await;
    assert!(r.unwrap().failures.is_empty());
    assert_eq!(snapshot(&back), snapshot(&src));
    daemon.stop().await;
}

/// The extended attributes of `path` (its own, never a link's target).
fn xattr_names(path: &Path) -> Vec<String> {
    let list = blit_transport_local::xattr::list(path).unwrap();
    list.into_iter().map(|(n, _)| String::from_utf8(n).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_set_only_user_attributes_unless_the_module_allows_more() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = small_tree(t.path());
    if blit_transport_local::xattr::set_path(&src.join("d/f"), b"user.probe", b"1").is_err() || !is_root() {
        eprintln!("skipped: needs root and a filesystem with extended attributes at {}", t.path().display());
        return;
    }
    let attrs = |h: &mut FileHeader| {
        h.xattrs = vec![
            (b"user.blit".to_vec(), b"u".to_vec()),
            (b"trusted.blit".to_vec(), b"t".to_vec()),
            (b"trusted.other".to_vec(), b"o".to_vec()),
        ];
    };
    let options = TransferOptions::new().xattrs(true);
    let daemon = Daemon::start_with(&[("m", &module, false)], |c| {
        c.modules[0].allow_xattrs = vec!["trusted.blit".into()];
    })
    .await;
    let plain = Daemon::start(&[("p", &module, false)]).await;
    let (r, _) = push_edited(&src, &plain.remote("p", "plain"), &options, attrs).await;
    assert!(r.unwrap().failures.is_empty());
    assert_eq!(xattr_names(&module.join("plain/d/f")), ["user.blit"], "only user.* by default");
    let (r, _) = push_edited(&src, &daemon.remote("m", "allowed"), &options, attrs).await;
    assert!(r.unwrap().failures.is_empty());
    assert_eq!(xattr_names(&module.join("allowed/d/f")), ["trusted.blit", "user.blit"], "what allow_xattrs names");
    plain.stop().await;
    daemon.stop().await;
}
