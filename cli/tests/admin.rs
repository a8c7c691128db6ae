//! `blit du`, `df`, `find` and `rm`: the real `blit` binary against a real
//! blitd serving on 127.0.0.1:0 in this process, on real files.

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::OsStr;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that `out` exited with `code` and said `says` on stderr.
fn fails(out: &Output, code: i32, says: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).contains(says), "wanted {says:?} in: {}", stderr(out));
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stdout(out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// `photos` in a module: sizes 5 + 4 + 3 + 2 + 1 bytes of files at three
/// depths, an empty directory and a symlink (target `beach.jpg`, 9 bytes).
fn photos(module: &Path) -> PathBuf {
    let p = module.join("photos");
    write(&p.join("2024/beach.jpg"), b"beach", 0o644, 1_000, 0);
    write(&p.join("2024/summer/sea.jpg"), b"sea!", 0o644, 1_000, 0);
    write(&p.join("2025/snow.jpg"), b"sno", 0o644, 1_000, 0);
    write(&p.join("top.jpg"), b"tp", 0o644, 1_000, 0);
    write(&p.join("notes.txt"), b"n", 0o644, 1_000, 0);
    std::fs::create_dir_all(p.join("empty")).unwrap();
    symlink("beach.jpg", p.join("2024/link.jpg")).unwrap();
    p
}

#[test]
fn du_sums_apparent_bytes_per_directory_up_to_max_depth() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("m");
    photos(&module);
    let d = Daemon::modules(&[("m", &module, false)]);
    let lines = |args: &[&OsStr]| -> Vec<(String, String)> {
        let out = blit_ok(args);
        stdout(&out)
            .lines()
            .map(|l| {
                let (size, name) = l.split_once(' ').unwrap();
                (size.to_owned(), name.trim().to_owned())
            })
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
    // Every directory after its contents, the target (`.`) last; the
    // symlink counts its target's length (9), an empty directory 0.
    assert_eq!(
        lines(&[os("du"), &d.url("/m/photos")]),
        pairs(&[("4", "2024/summer"), ("18", "2024"), ("3", "2025"), ("0", "empty"), ("24", ".")])
    );
    assert_eq!(
        lines(&[os("du"), os("--max-depth"), os("1"), &d.url("/m/photos")]),
        pairs(&[("18", "2024"), ("3", "2025"), ("0", "empty"), ("24", ".")])
    );
    assert_eq!(lines(&[os("du"), os("-s"), &d.url("/m/photos")]), pairs(&[("24", ".")]));
    assert_eq!(lines(&[os("du"), &d.url("/m/photos/2024/beach.jpg")]), pairs(&[("5", "beach.jpg")]));
    assert_eq!(lines(&[os("du"), os("-s"), &d.url("/m/photos/2024/beach.jpg")]), pairs(&[("5", "beach.jpg")]));
    let json = json_lines(&blit_ok(&[os("du"), os("--json"), os("-d"), os("0"), &d.url("/m/photos")]));
    assert_eq!(json, [serde_json::json!({"schema": 2, "path": "", "bytes": 24, "files": 5})]);
    let out = blit_ok(&[os("du"), os("-h"), os("-s"), &d.url("/m")]);
    assert!(stdout(&out).starts_with("24 B "), "{}", stdout(&out));
    fails(&blit(&[os("du"), &d.url("/m/nope")]), 1, "/m/nope");
}

#[test]
fn df_reports_the_statvfs_of_the_module_directory() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    photos(&a);
    std::fs::create_dir(&b).unwrap();
    let d = Daemon::modules(&[("a", &a, false), ("b", &b, true)]);
    let fs = rustix::fs::statvfs(&a).unwrap();
    let json = json_lines(&blit_ok(&[os("df"), os("--json"), &d.url("/a/photos")]));
    assert_eq!(json.len(), 1);
    let v = &json[0];
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    assert_eq!(v["path"], "/a/photos");
    assert_eq!(n("total_bytes"), fs.f_blocks * fs.f_frsize, "{v}");
    assert_eq!(n("total_inodes"), fs.f_files, "{v}");
    assert!(n("total_bytes") > 0 && n("free_bytes") <= n("total_bytes"), "{v}");
    assert!(n("available_bytes") <= n("total_bytes"), "{v}");
    assert_eq!(n("used_bytes"), n("total_bytes") - n("free_bytes"), "{v}");
    // HOST alone: every module, read-only ones too.
    let out = blit_ok(&[os("df"), os(&format!("127.0.0.1:{}", d.port))]);
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(rows, ["PATH", "/a", "/b"], "{text}");
    let total = (fs.f_blocks * fs.f_frsize).to_string();
    assert!(text.lines().nth(1).unwrap().split_whitespace().nth(1) == Some(total.as_str()), "{text}");
    fails(&blit(&[os("df"), &d.url("/nope")]), 1, "no module `nope`");
}

#[test]
fn find_matches_globs_below_the_target_and_filters_kinds() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("m");
    photos(&module);
    let d = Daemon::modules(&[("m", &module, false)]);
    let found = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![os("find")];
        args.extend(extra.iter().map(|a| os(a)));
        let url = d.url("/m/photos");
        args.push(&url);
        stdout(&blit_ok(&args)).lines().map(str::to_owned).collect()
    };
    assert_eq!(
        found(&[]),
        [
            "2024",
            "2024/beach.jpg",
            "2024/link.jpg",
            "2024/summer",
            "2024/summer/sea.jpg",
            "2025",
            "2025/snow.jpg",
            "empty",
            "notes.txt",
            "top.jpg"
        ]
    );
    assert_eq!(found(&["--pattern", "*.jpg"]), ["top.jpg"], "`*` does not cross `/`");
    assert_eq!(found(&["--pattern", "2024/*.jpg"]), ["2024/beach.jpg", "2024/link.jpg"]);
    assert_eq!(
        found(&["--pattern", "**/*.jpg"]),
        ["2024/beach.jpg", "2024/link.jpg", "2024/summer/sea.jpg", "2025/snow.jpg", "top.jpg"],
        "`**` does"
    );
    assert_eq!(
        found(&["--pattern", "**/*.jpg", "--files"]),
        ["2024/beach.jpg", "2024/summer/sea.jpg", "2025/snow.jpg", "top.jpg"],
        "--files leaves the symlink out"
    );
    assert_eq!(found(&["--dirs"]), ["2024", "2024/summer", "2025", "empty"]);
    assert_eq!(found(&["--dirs", "--pattern", "2024/**"]), ["2024/summer"]);
    let json = json_lines(&blit_ok(&[os("find"), os("--json"), os("--pattern"), os("2024/l*"), &d.url("/m/photos")]));
    assert_eq!(json.len(), 1, "{json:?}");
    assert_eq!((&json[0]["path"], &json[0]["kind"]), (&"2024/link.jpg".into(), &"symlink".into()));
    assert_eq!(json[0]["link_target"], "beach.jpg");
    // A bad glob is a usage error.
    fails(&blit(&[os("find"), os("--pattern"), os("a[b"), &d.url("/m/photos")]), 64, "--pattern");
}

/// Runs `blit rm ARGS` with stdin closed (no terminal).
fn rm(args: &[&OsStr]) -> Output {
    let mut all = vec![os("rm")];
    all.extend_from_slice(args);
    std::process::Command::new(env!("CARGO_BIN_EXE_blit"))
        .args(&all)
        .env_remove("BLIT_SECRET")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn rm_removes_files_trees_and_links_never_what_they_point_to() {
    let t = tempfile::tempdir().unwrap();
    let (module, outside) = (t.path().join("m"), t.path().join("outside"));
    photos(&module);
    write(&outside.join("precious"), b"keep me", 0o644, 1_000, 0);
    symlink(&outside, module.join("out-dir")).unwrap();
    symlink(outside.join("precious"), module.join("photos/2025/out-file")).unwrap();
    let d = Daemon::modules(&[("m", &module, false)]);
    let before = snapshot(&outside);

    let out = rm(&[os("-y"), os("-v"), &d.url("/m/photos/top.jpg")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "removed /m/photos/top.jpg\n");
    assert!(!module.join("photos/top.jpg").exists());
    // Links: the link goes, what it points to stays.
    for link in ["/m/out-dir", "/m/photos/2025/out-file"] {
        let out = rm(&[os("-y"), &d.url(link)]);
        assert!(out.status.success(), "{link}: {}", stderr(&out));
    }
    assert!(std::fs::symlink_metadata(module.join("out-dir")).is_err());
    assert!(std::fs::symlink_metadata(module.join("photos/2025/out-file")).is_err());
    assert_eq!(snapshot(&outside), before, "nothing outside the module changed");
    // A tree, with a link to the outside in it.
    symlink(&outside, module.join("photos/2024/summer/escape")).unwrap();
    let out = rm(&[os("--yes"), &d.url("/m/photos/2024")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!module.join("photos/2024").exists());
    assert!(module.join("photos/2025/snow.jpg").exists(), "only the named tree goes");
    assert_eq!(snapshot(&outside), before);
    // Through a symlink on the way: refused, nothing removed.
    symlink(&outside, module.join("out-again")).unwrap();
    let out = rm(&[os("-y"), &d.url("/m/out-again/precious")]);
    fails(&out, 1, "/m/out-again/precious");
    fails(&out, 1, "symlink");
    assert_eq!(snapshot(&outside), before);
    // What is not there.
    fails(&rm(&[os("-y"), &d.url("/m/photos/2024")]), 1, "/m/photos/2024: no such file or directory");
}

#[test]
fn rm_refuses_the_root_read_only_modules_dot_dot_and_no_terminal() {
    let t = tempfile::tempdir().unwrap();
    let (module, ro) = (t.path().join("m"), t.path().join("ro"));
    photos(&module);
    photos(&ro);
    let d = Daemon::modules(&[("m", &module, false), ("ro", &ro, true)]);
    let (m_before, ro_before) = (snapshot(&module), snapshot(&ro));
    let cases: [(&[&str], &str, i32, &str); 6] = [
        (&["-y"], "/m", 1, "/m: refused: blit rm never removes a module's root"),
        (&["-y"], "/m/", 1, "never removes a module's root"),
        (&["-y"], "/ro/photos/notes.txt", 1, "module `ro` is read-only; removals are refused"),
        (&["-y"], "/m/photos/2024/../notes.txt", 1, "/m/photos/2024/../notes.txt: bad remote path"),
        (&[], "/m/photos/notes.txt", 64, "pass -y to remove without asking"),
        (&["-y"], "/nope/x", 1, "no module `nope`"),
    ];
    for (flags, path, code, says) in cases {
        let url = d.url(path);
        let mut args: Vec<&OsStr> = flags.iter().map(|f| os(f)).collect();
        args.push(&url);
        fails(&rm(&args), code, says);
    }
    assert_eq!(snapshot(&module), m_before, "nothing was removed");
    assert_eq!(snapshot(&ro), ro_before, "nothing was removed");
}

#[test]
fn every_verb_needs_the_module_secret() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("m");
    photos(&module);
    let secret = t.path().join("secret");
    std::fs::write(&secret, "open sesame, friend\n").unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    config.modules[0].auth_secret_file = Some(secret.clone());
    let d = Daemon::serve(config);
    let before = snapshot(&module);
    let url = d.url("/m/photos");
    let note = d.url("/m/photos/notes.txt");
    for args in [vec![os("du"), &url], vec![os("df"), &url], vec![os("find"), &url], vec![os("rm"), os("-y"), &note]] {
        fails(&blit(&args), 1, "requires a secret");
        fails(&blit_with_env(&args, &[("BLIT_SECRET", "guess")]), 1, "wrong secret");
    }
    assert_eq!(snapshot(&module), before, "nothing was removed");
    let secret = secret.as_os_str();
    let out = blit_ok(&[os("du"), os("--secret-file"), secret, os("-s"), &url]);
    assert!(stdout(&out).starts_with("24 "), "{}", stdout(&out));
    blit_ok(&[os("rm"), os("--secret-file"), secret, os("-y"), &note]);
    assert!(!module.join("photos/notes.txt").exists());
}

#[test]
fn rm_asks_on_a_terminal_and_only_yes_removes() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("m");
    write(&module.join("keep"), b"k", 0o644, 1_000, 0);
    write(&module.join("old/gone"), b"g", 0o644, 1_000, 0);
    let d = Daemon::modules(&[("m", &module, false)]);
    let tmux = common::tmux::Tmux::new(t.path());
    let command = format!(
        "{} rm {} {}; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_blit"),
        d.url("/m/keep").to_string_lossy(),
        d.url("/m/old").to_string_lossy()
    );
    tmux.run(&["new-session", "-d", "-s", "blit", "-x", "120", "-y", "20", &command]);
    tmux.wait_for("remove /m/keep? [y/N]");
    tmux.run(&["send-keys", "-t", "blit", "n", "Enter"]);
    tmux.wait_for("remove /m/old? [y/N]");
    assert!(module.join("keep").exists() && module.join("old/gone").exists(), "nothing removed before yes");
    tmux.run(&["send-keys", "-t", "blit", "yes", "Enter"]);
    let screen = tmux.wait_for("EXIT=");
    assert!(screen.contains("blit: kept /m/keep") && screen.contains("EXIT=0"), "{screen}");
    assert!(module.join("keep").exists(), "n keeps it");
    assert!(!module.join("old").exists(), "yes removes the tree");
}
