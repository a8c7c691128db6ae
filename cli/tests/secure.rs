//! The `blit` binary against a blitd (in this process) that requires a
//! secret and serves TLS: the secret from BLIT_SECRET or --secret-file (the
//! flag wins), the CA from --tls-ca; refusals exit 1 with a message that
//! says what to do, and create nothing in the module.

mod common;

use blit_tls::testing::TestPki;
use common::daemon::Daemon;
use common::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

struct Setup {
    daemon: Daemon,
    module: PathBuf,
    ca: PathBuf,
    right: PathBuf,
    wrong: PathBuf,
}

/// A daemon with module `m`, a daemon-wide secret and TLS.
fn setup(t: &Path) -> Setup {
    let keys = t.join("keys");
    std::fs::create_dir(&keys).unwrap();
    let [ca, cert, key] = TestPki::new(&["127.0.0.1"]).write(&keys);
    let (right, wrong, daemon_secret) = (keys.join("right"), keys.join("wrong"), keys.join("daemon"));
    std::fs::write(&right, "open sesame, friend\n").unwrap();
    std::fs::write(&wrong, "open says me\n").unwrap();
    std::fs::write(&daemon_secret, "open sesame, friend\n").unwrap();
    let module = t.join("module");
    std::fs::create_dir(&module).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    config.auth_secret_file = Some(daemon_secret);
    config.tls_cert = Some(cert);
    config.tls_key = Some(key);
    Setup { daemon: Daemon::serve(config), module, ca, right, wrong }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_secret_from_the_environment_or_a_file_and_the_ca_open_every_command() {
    let t = tempfile::tempdir().unwrap();
    let s = setup(t.path());
    let src = t.path().join("src");
    awkward_tree(&src);
    let ca = s.ca.as_os_str();
    let push = [os("copy"), os("--transport"), os("tcp"), os("--tls-ca"), ca, &slash(&src), &s.daemon.url("/m/tree/")];
    let out = blit_with_env(&push, &[("BLIT_SECRET", "open sesame, friend")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same(&snapshot(&src), &snapshot(&s.module.join("tree")));

    let back = t.path().join("back");
    let secret = s.right.as_os_str();
    let pull =
        [os("copy"), os("--secret-file"), secret, os("--tls-ca"), ca, &s.daemon.url("/m/tree"), back.as_os_str()];
    blit_ok(&[&pull[..1], &[os("--transport"), os("tcp")], &pull[1..]].concat());
    assert_same(&snapshot(&src), &snapshot(&back.join("tree")));

    let host = format!("127.0.0.1:{}", s.daemon.port);
    let out = blit_ok(&[os("modules"), os("--secret-file"), secret, os("--tls-ca"), ca, os(&host)]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("m "), "{out:?}");
    let out = blit_ok(&[os("ls"), os("--secret-file"), secret, os("--tls-ca"), ca, &s.daemon.url("/m/tree")]);
    assert!(!out.stdout.is_empty());
}

#[test]
fn missing_or_wrong_secrets_and_a_plain_client_exit_1_and_change_nothing() {
    let t = tempfile::tempdir().unwrap();
    let s = setup(t.path());
    let src = t.path().join("src");
    awkward_tree(&src);
    let ca = s.ca.as_os_str();
    let (from, dst) = (slash(&src), s.daemon.url("/m/new/"));
    // (flags, environment, what stderr must say)
    type Case<'a> = (Vec<&'a OsStr>, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 4] = [
        (vec![os("--tls-ca"), ca], &[], "requires a secret"),
        (vec![os("--tls-ca"), ca], &[("BLIT_SECRET", "guess")], "wrong secret"),
        // The flag wins over the environment.
        (
            vec![os("--tls-ca"), ca, os("--secret-file"), s.wrong.as_os_str()],
            &[("BLIT_SECRET", "open sesame, friend")],
            "wrong secret",
        ),
        (vec![], &[("BLIT_SECRET", "open sesame, friend")], "--tls"),
    ];
    for (flags, env, expect) in cases {
        let args = [&[os("copy")], &flags[..], &[from.as_os_str(), &dst]].concat();
        let out = blit_with_env(&args, env);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{args:?}: {}", stderr(&out));
    }
    let out = blit_with_env(&[os("modules"), os("--tls-ca"), ca, os(&format!("127.0.0.1:{}", s.daemon.port))], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("set BLIT_SECRET or pass --secret-file"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(&s.module).unwrap().count(), 0, "nothing was created in the module");
}
