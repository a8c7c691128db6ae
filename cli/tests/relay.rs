//! `blit copy`, `mirror` and `move` between two daemons (in this process,
//! on loopback, each with its own module secret): the source daemon pushes
//! to the destination daemon with a one-time grant, and the command only
//! asks and watches. The trees come out identical, the command's own
//! traffic is a small fraction of the tree (counted by a proxy between it
//! and each daemon), and a module that does not allow relays refuses.

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The secret both modules require (a user who holds both).
const SECRET: &str = "relay-test-secret-0123456789";

/// A daemon serving `dir` as module `name` with [`SECRET`], relays allowed
/// or not.
fn daemon(name: &str, dir: &Path, allow_relay: bool) -> Daemon {
    daemon_with(name, dir, allow_relay, SECRET)
}

/// [`daemon`] with its own `secret`.
fn daemon_with(name: &str, dir: &Path, allow_relay: bool, secret_text: &str) -> Daemon {
    Daemon::serve(config_with(name, dir, allow_relay, secret_text))
}

/// The configuration of [`daemon_with`].
fn config_with(name: &str, dir: &Path, allow_relay: bool, secret_text: &str) -> blit_daemon::DaemonConfig {
    std::fs::create_dir_all(dir).unwrap();
    let secret = dir.with_extension("secret");
    std::fs::write(&secret, format!("{secret_text}\n")).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    let flags = if allow_relay { ":rw,allow_relay" } else { "" };
    config.add_module_spec(&format!("{name}={}{flags}", dir.display())).unwrap();
    config.modules[0].auth_secret_file = Some(secret);
    config
}

fn blit_secret(args: &[&OsStr]) -> std::process::Output {
    blit_with_env(args, &[("BLIT_SECRET", SECRET)])
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Pair {
    _t: tempfile::TempDir,
    src: PathBuf,
    dst: PathBuf,
    a: Daemon,
    b: Daemon,
}

/// Daemon `a` serving `src` as `m1` (relays allowed), `b` serving `dst` as `m2`.
fn pair(allow_relay: bool) -> Pair {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    let a = daemon("m1", &src, allow_relay);
    let b = daemon("m2", &dst, false);
    Pair { _t: t, src, dst, a, b }
}

#[test]
fn copy_and_mirror_between_two_daemons_give_identical_trees() {
    let p = pair(true);
    awkward_tree(&p.src.join("tree"));
    let out = blit_secret(&[os("copy"), os("--json"), &p.a.url("/m1/tree"), &p.b.url("/m2/backup/")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same(&snapshot(&p.src.join("tree")), &snapshot(&p.dst.join("backup/tree")));
    let json = summary(&out);
    assert_eq!(json["direction"], "push", "{json}");
    assert!(json["entries_transferred"].as_u64().unwrap() > 10, "{json}");
    // Mirror: the extra entry goes, a changed file comes back as it was.
    write(&p.dst.join("backup/tree/extra"), b"not in the source", 0o644, 1_000, 0);
    write(&p.dst.join("backup/tree/one"), b"changed", 0o644, 1_000, 0);
    let out = blit_secret(&[os("mirror"), &p.a.url("/m1/tree/"), &p.b.url("/m2/backup/tree")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same(&snapshot(&p.src.join("tree")), &snapshot(&p.dst.join("backup/tree")));
    // A file to a new name, in the URL form.
    let one = OsString::from(format!("blit://127.0.0.1:{}/m1/tree/one", p.a.port));
    let out = blit_secret(&[os("copy"), &one, &p.b.url("/m2/renamed")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(p.dst.join("renamed")).unwrap(), b"x");
}

#[test]
fn a_move_between_two_daemons_empties_the_source() {
    let p = pair(true);
    write(&p.src.join("tree/a"), b"alpha", 0o644, 1_000, 0);
    write(&p.src.join("tree/sub/b"), b"beta", 0o600, 2_000, 5);
    let before = snapshot(&p.src.join("tree"));
    let out = blit_secret(&[os("move"), &p.a.url("/m1/tree"), &p.b.url("/m2/")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("removed 4 source entries"), "{}", stderr(&out));
    assert!(!p.src.join("tree").exists(), "the moved directory is gone from the source");
    assert_same(&before, &snapshot(&p.dst.join("tree")));
}

#[test]
fn a_module_that_does_not_allow_relays_refuses_and_nothing_lands() {
    let p = pair(false);
    write(&p.src.join("tree/a"), b"alpha", 0o644, 1_000, 0);
    let out = blit_secret(&[os("copy"), &p.a.url("/m1/tree"), &p.b.url("/m2/")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("module `m1` does not allow copies to another daemon"), "{text}");
    assert!(text.contains("allow_relay = true"), "{text}");
    assert!(std::fs::read_dir(&p.dst).unwrap().next().is_none(), "nothing lands");
}

#[test]
fn a_wrong_secret_is_refused_before_anything_moves() {
    let p = pair(true);
    write(&p.src.join("tree/a"), b"alpha", 0o644, 1_000, 0);
    let args = [os("copy"), &p.a.url("/m1/tree"), &p.b.url("/m2/")];
    let out = blit_with_env(&args, &[("BLIT_SECRET", "not-the-secret-at-all")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("wrong secret for module 'm2'"), "{}", stderr(&out));
    assert!(std::fs::read_dir(&p.dst).unwrap().next().is_none(), "nothing lands");
}

#[test]
fn daemons_with_different_secrets_take_dst_secret_file() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    let a = daemon("m1", &src, true);
    let b = daemon_with("m2", &dst, false, "the-other-daemons-secret-42");
    write(&src.join("tree/a"), b"alpha", 0o644, 1_000, 0);
    let args = [os("copy"), &a.url("/m1/tree"), &b.url("/m2/")];
    // One secret for both: the destination refuses it.
    let out = blit_secret(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("wrong secret for module 'm2'"), "{}", stderr(&out));
    assert!(!dst.join("tree").exists(), "nothing lands");
    let file = t.path().join("dst.secret");
    std::fs::write(&file, "the-other-daemons-secret-42\n").unwrap();
    let mut with_file = vec![os("copy"), os("--dst-secret-file"), file.as_os_str()];
    with_file.extend_from_slice(&args[1..]);
    let out = blit_secret(&with_file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(dst.join("tree/a")).unwrap(), b"alpha");
    // Anywhere else the flag would be ignored: it is refused instead.
    let push = [os("copy"), os("--dst-secret-file"), file.as_os_str(), src.as_os_str(), &b.url("/m2/x/")];
    let out = blit_secret(&push);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--dst-secret-file applies only"), "{}", stderr(&out));
}

#[test]
fn both_legs_run_over_tls_with_the_ca_the_command_was_given() {
    let t = tempfile::tempdir().unwrap();
    let keys = t.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let [ca, cert, key] = blit_tls::testing::TestPki::new(&["127.0.0.1"]).write(&keys);
    let tls = |mut config: blit_daemon::DaemonConfig| {
        config.tls_cert = Some(cert.clone());
        config.tls_key = Some(key.clone());
        Daemon::serve(config)
    };
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    let a = tls(config_with("m1", &src, true, SECRET));
    let b = tls(config_with("m2", &dst, false, SECRET));
    awkward_tree(&src.join("tree"));
    let out = blit_secret(&[os("copy"), os("--tls-ca"), ca.as_os_str(), &a.url("/m1/tree"), &b.url("/m2/")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same(&snapshot(&src.join("tree")), &snapshot(&dst.join("tree")));
    // Without the CA the command cannot even reach the source daemon.
    let out = blit_secret(&[os("copy"), &a.url("/m1/tree"), &b.url("/m2/again/")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!dst.join("again").exists(), "nothing lands without TLS");
}

#[test]
fn ssh_endpoints_cannot_relay_and_the_error_says_what_to_write() {
    let p = pair(true);
    let out = blit_secret(&[os("copy"), &p.a.url("/m1/tree"), os("somehost:backup/")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("somehost:backup/") && text.contains("/m1/tree"), "names both endpoints: {text}");
    assert!(text.contains("HOST::module/path") && text.contains("blit://HOST:PORT/module/path"), "{text}");
}

/// Bytes through a TCP proxy on loopback, per connection in accept order.
#[derive(Clone, Default)]
struct Counted(Arc<Mutex<Vec<Arc<AtomicU64>>>>);

impl Counted {
    fn connections(&self) -> Vec<u64> {
        self.0.lock().unwrap().iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }
}

/// A proxy on 127.0.0.1 that forwards every connection to `port` and
/// counts the bytes both ways; runs until the runtime stops.
async fn proxy(port: u16) -> (u16, Counted) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap().port();
    let counted = Counted::default();
    let seen = counted.clone();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let count = Arc::new(AtomicU64::new(0));
            seen.0.lock().unwrap().push(count.clone());
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return };
                let ((in_r, in_w), (out_r, out_w)) = (inbound.into_split(), outbound.into_split());
                tokio::join!(pump(in_r, out_w, &count), pump(out_r, in_w, &count));
            });
        }
    });
    (local, counted)
}

/// Copies `from` to `to` until end of stream, counting as it goes (so a
/// count read while the connection is open is already up to date).
async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, count: &AtomicU64) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        count.fetch_add(n as u64, Ordering::Relaxed);
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    let _ = to.shutdown().await;
}

/// The command's own traffic is tiny next to the tree. The payload goes
/// in-stream (`--transport grpc`), so every byte the command exchanged
/// with a daemon passed a proxy: all of its traffic to the source (only it
/// uses that proxy), and its one connection to the destination (the
/// grant; the relayed push then comes through the same proxy, from the
/// source daemon, and carries the tree, which shows the count is real).
#[test]
fn the_commands_own_traffic_is_small() {
    let p = pair(true);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..4 {
        let data: Vec<u8> = (0..2 * 1024 * 1024)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        write(&p.src.join(format!("big/f{i}")), &data, 0o644, 1_000 + i, 0);
    }
    let tree = 8 * 1024 * 1024;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ((to_a, a), (to_b, b)) = rt.block_on(async { (proxy(p.a.port).await, proxy(p.b.port).await) });
    let src = OsString::from(format!("127.0.0.1:{to_a}:/m1/big"));
    let dst = OsString::from(format!("127.0.0.1:{to_b}:/m2/"));
    let out = blit_secret(&[os("copy"), os("--transport"), os("grpc"), &src, &dst]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same(&snapshot(&p.src.join("big")), &snapshot(&p.dst.join("big")));
    let (a, b) = (a.connections(), b.connections());
    let own: u64 = a.iter().sum::<u64>() + b[0];
    assert!(own < 256 * 1024, "the command exchanged {own} bytes (source {a:?}, destination {b:?})");
    assert!(b.iter().sum::<u64>() > tree, "the relayed push passed the destination's proxy: {b:?}");
    drop(rt);
}

#[test]
fn a_grant_that_lapsed_is_named_as_such() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    let a = daemon("m1", &src, true);
    // Grants on `b` lapse at once: the source's push always comes too late.
    let mut config = config_with("m2", &dst, false, SECRET);
    config.grant_lifetime = std::time::Duration::ZERO;
    let b = Daemon::serve(config);
    write(&src.join("tree/a"), b"alpha", 0o644, 1_000, 0);
    let out = blit_secret(&[os("copy"), &a.url("/m1/tree"), &b.url("/m2/")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("refused this copy's one-time grant"), "{text}");
    assert!(text.contains("run the copy again"), "{text}");
    assert!(std::fs::read_dir(&dst).unwrap().next().is_none(), "nothing lands");
}
