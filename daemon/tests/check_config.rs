//! `blitd --check-config` with the real binary, and the service files in
//! `contrib/` (the example configuration passes the check; the systemd
//! unit's command lines use flags blitd accepts).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn blitd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blitd")).args(args).env("NO_COLOR", "1").output().expect("blitd runs")
}

/// `(exit code, stdout, stderr)` of `blitd --check-config --config FILE`.
fn check(file: &Path) -> (Option<i32>, String, String) {
    let out = blitd(&["--check-config", "--config", file.to_str().unwrap()]);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let file = dir.join("blitd.toml");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn a_good_config_is_ok_and_counts_its_modules() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("a")).unwrap();
    std::fs::create_dir_all(t.path().join("b")).unwrap();
    let text = "listen = \"127.0.0.1:9031\"\n[[module]]\nname = \"a\"\npath = \"a\"\n[[module]]\nname = \"b\"\npath = \"b\"\nread_only = true\n";
    let (code, stdout, stderr) = check(&write_config(t.path(), text));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "config OK: 2 modules");
    // Flags are checked with the file, as at startup.
    let file = write_config(t.path(), text);
    let out = blitd(&["--check-config", "--config", file.to_str().unwrap(), "--module", "c=/no/such/dir/for/blit"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("module `c`"), "{out:?}");
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let t = tempfile::tempdir().unwrap();
    let file = write_config(t.path(), "listen = \"127.0.0.1:9031\"\n\n[[module]\nname = \"a\"\n");
    let (code, stdout, stderr) = check(&file);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    let want = format!("{}: invalid configuration at line 3, column", file.display());
    assert!(stderr.contains(&want), "{stderr}");
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("a")).unwrap();
    let text = "[[module]]\nname = \"a\"\npath = \"a\"\nreadonly = true\n";
    let (code, _, stderr) = check(&write_config(t.path(), text));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("line 4, column 1: unknown field `readonly`"), "{stderr}");
    let (code, _, stderr) = check(&write_config(t.path(), "\n\nmax_session = 3\n"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("line 3, column 1: unknown field `max_session`"), "{stderr}");
}

#[test]
fn a_missing_module_path_points_at_its_path_key() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("here")).unwrap();
    std::fs::write(t.path().join("file"), b"x").unwrap();
    let text = "[[module]]\nname = \"ok\"\npath = \"here\"\n\n[[module]]\nname = \"gone\"\n  path = \"missing\"\n";
    let file = write_config(t.path(), text);
    let (code, stdout, stderr) = check(&file);
    assert_eq!(code, Some(1), "{stdout}");
    let want = format!("{}: line 7, column 3:", file.display());
    assert!(stderr.contains(&want) && stderr.contains("module `gone`"), "{stderr}");
    assert!(stderr.contains("create the directory"), "says what to do: {stderr}");
    // A path that is a file, not a directory.
    let (code, _, stderr) = check(&write_config(t.path(), "[[module]]\nname = \"f\"\npath = \"file\"\n"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("line 3, column 1:") && stderr.contains("not a directory"), "{stderr}");
    // Semantic errors found while parsing point at their key too.
    let (code, _, stderr) = check(&write_config(t.path(), "max_sessions = 1\nlisten = \"nowhere\"\n"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("line 2, column 1: `nowhere` is not a listen address"), "{stderr}");
}

#[test]
fn module_privilege_keys_are_accepted_and_must_be_booleans() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("a")).unwrap();
    let text = "[[module]]\nname = \"a\"\npath = \"a\"\nallow_owner = true\nallow_setid = false\n";
    let (code, stdout, stderr) = check(&write_config(t.path(), text));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "config OK: 1 module");
    for (key, value) in [("allow_owner", "\"yes\""), ("allow_setid", "1")] {
        let text = format!("[[module]]\nname = \"a\"\npath = \"a\"\n\n{key} = {value}\n");
        let file = write_config(t.path(), &text);
        let (code, stdout, stderr) = check(&file);
        assert_eq!(code, Some(1), "{stdout}");
        let want = format!("{}: invalid configuration at line 5, column 15 (`module[0].{key}`)", file.display());
        assert!(stderr.contains(&want) && stderr.contains("expected a boolean"), "{stderr}");
    }
}

#[test]
fn missing_secret_and_tls_files_point_at_their_keys() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("a")).unwrap();
    let text = "listen = \"127.0.0.1:9031\"\n[[module]]\nname = \"a\"\npath = \"a\"\nauth_secret_file = \"nope\"\n";
    let (code, _, stderr) = check(&write_config(t.path(), text));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("line 5, column 1:") && stderr.contains("auth_secret_file of module `a`"), "{stderr}");
    let text = "\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n[[module]]\nname = \"a\"\npath = \"a\"\n";
    let (code, _, stderr) = check(&write_config(t.path(), text));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("line 2, column 1:") && stderr.contains("cert.pem"), "{stderr}");
}

/// `contrib/` in the repository.
fn contrib(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib").join(name)
}

/// The example configuration with its module paths moved into `root`
/// (created there).
fn example_in(root: &Path) -> PathBuf {
    let text = std::fs::read_to_string(contrib("blitd.toml")).unwrap();
    let mut moved = 0;
    let text: String = text
        .lines()
        .map(|line| match line.strip_prefix("path = \"/srv/") {
            Some(rest) => {
                let dir = root.join(rest.trim_end_matches('"'));
                std::fs::create_dir_all(&dir).unwrap();
                moved += 1;
                format!("path = \"{}\"\n", dir.display())
            }
            None => format!("{line}\n"),
        })
        .collect();
    assert!(moved >= 2, "the example shows a writable and a read-only module");
    write_config(root, &text)
}

#[test]
fn the_example_config_passes_the_check_and_explains_every_key() {
    let t = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = check(&example_in(t.path()));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "config OK: 2 modules");
    let text = std::fs::read_to_string(contrib("blitd.toml")).unwrap();
    for key in
        ["listen", "max_sessions", "idle_timeout", "name", "path", "read_only", "comment", "allow_owner", "allow_setid"]
    {
        assert!(text.lines().any(|l| l.starts_with(&format!("{key} = "))), "the example sets `{key}`");
    }
}

#[test]
fn the_systemd_unit_runs_flags_blitd_accepts() {
    let unit = std::fs::read_to_string(contrib("blitd.service")).unwrap();
    let help = String::from_utf8(blitd(&["--help"]).stdout).unwrap();
    let commands: Vec<&str> =
        unit.lines().filter_map(|l| l.strip_prefix("ExecStart=").or_else(|| l.strip_prefix("ExecStartPre="))).collect();
    assert_eq!(commands.len(), 2, "a check, then the daemon");
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        assert!(words[0].ends_with("/blitd"), "{command}");
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            assert!(help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")), "{flag} in {help}");
        }
    }
    // The pre-start check, run as the unit runs it, on the example moved
    // into a temporary directory.
    let t = tempfile::tempdir().unwrap();
    let example = example_in(t.path());
    let pre = commands.iter().find(|c| c.contains("--check-config")).expect("the unit checks before it starts");
    let args: Vec<String> = pre
        .split_whitespace()
        .skip(1)
        .map(|w| if w == "/etc/blit/blitd.toml" { example.display().to_string() } else { w.to_owned() })
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_blitd")).args(&args).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    for key in ["ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "ReadWritePaths=", "User=blit"] {
        assert!(unit.lines().any(|l| l.starts_with(key)), "the unit sets {key}");
    }
}
