//! A blitd that dies in the middle of a transfer: the client says which
//! daemon closed the connection and what to do (rerun to resume), exits 1,
//! and a rerun against a new daemon finishes the job.

mod common;

use common::process::DaemonProcess;
use std::ffi::OsStr;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

fn main() -> ExitCode {
    if common::process::serve_if_asked() {
        return ExitCode::SUCCESS;
    }
    let args = libtest_mimic::Arguments::from_args();
    let mut trials = Vec::new();
    for transport in ["grpc", "tcp"] {
        trials.push(libtest_mimic::Trial::test(format!("daemon_killed_mid_push::{transport}"), move || {
            daemon_killed_mid_push(transport);
            Ok(())
        }));
    }
    libtest_mimic::run(&args, trials).exit_code()
}

fn daemon_killed_mid_push(transport: &str) {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&module).unwrap();
    for i in 0..4 {
        std::fs::write(src.join(format!("f{i}")), vec![i as u8; 3 << 20]).unwrap();
    }
    let mut daemon = DaemonProcess::start(&module);
    let dst = daemon.url("/m/dst/");
    // About 6 s at 2 MiB/s: the daemon dies about a third of the way.
    let from = common::slash(&src);
    let args: [&OsStr; 7] = [
        "copy".as_ref(),
        "--bwlimit".as_ref(),
        "2M".as_ref(),
        "--transport".as_ref(),
        transport.as_ref(),
        from.as_os_str(),
        dst.as_os_str(),
    ];
    let child = Command::new(env!("CARGO_BIN_EXE_blit"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    daemon.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{transport}: {err}");
    assert!(err.contains(&format!("127.0.0.1:{}", daemon.port)), "names the daemon: {err}");
    assert!(err.contains("closed the connection during the transfer"), "{transport}: {err}");
    assert!(err.contains("rerun the same command to resume"), "{transport}: {err}");
    assert!(!err.contains("h2 protocol error"), "{transport}: {err}");
    assert_eq!(err.matches("error:").count(), 1, "said once: {err}");
    // A new daemon on the same module: the rerun finishes.
    let daemon = DaemonProcess::start(&module);
    let dst = daemon.url("/m/dst/");
    let out = common::blit(&["copy".as_ref(), common::slash(&src).as_os_str(), dst.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    common::assert_same(&common::snapshot(&src), &common::snapshot(&module.join("dst")));
}
