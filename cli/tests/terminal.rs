//! The bar and the summary in a real terminal: the real `blit` binary runs
//! in a tmux pane 80 and then 40 columns wide (a tmux server of its own, on
//! a socket in a temporary directory), and what the pane shows is checked:
//! no line wider than the pane (tmux would wrap it), the bar's last frame
//! whole and on its own line, the summary on the lines after it.

mod common;

use common::tmux::Tmux;

/// Runs `blit copy -p` (slowed so the bar draws) in a pane `width`
/// columns wide and returns the screen once it exited.
fn copy_in_pane(width: u16) -> String {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("big"), vec![7u8; 3 << 20]).unwrap();
    for i in 0..20 {
        std::fs::write(src.join(format!("small-{i}")), b"x").unwrap();
    }
    let tmux = Tmux::new(t.path());
    let command = format!(
        "{} copy -p --bwlimit 2M {}/ {}/dst/; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_blit"),
        src.display(),
        t.path().display()
    );
    let size = (width.to_string(), "20".to_owned());
    tmux.run(&["new-session", "-d", "-s", "blit", "-x", &size.0, "-y", &size.1, &command]);
    tmux.wait_for("EXIT=")
}

fn check(width: u16) {
    let screen = copy_in_pane(width);
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in &lines {
        let shown = line.trim_end().chars().count();
        assert!(shown < usize::from(width), "{width} columns: a line wider than the pane: {line:?}");
    }
    assert!(lines.contains(&"EXIT=0"), "{screen}");
    let summary = lines.iter().position(|l| l.starts_with("blit: copied 21 files")).unwrap_or_else(|| {
        panic!("{width} columns: no summary line of its own:\n{screen}");
    });
    assert!(summary >= 1, "{screen}");
    let bar = lines[summary - 1];
    assert!(bar.contains("3.0 MiB/3.0 MiB"), "{width} columns: the last frame is whole, on its own line: {bar:?}");
    if width >= 80 {
        assert!(bar.contains("ETA done") && bar.contains("21/21 files") && bar.contains('['), "{bar:?}");
    }
    // The summary's continuation lines are indented, and the rate is on it.
    let rest: Vec<&str> = lines[summary + 1..].iter().take_while(|l| l.starts_with("      ")).copied().collect();
    let whole =
        std::iter::once(lines[summary]).chain(rest.iter().map(|l| l.trim_start())).collect::<Vec<_>>().join(" ");
    assert!(whole.contains("MiB/s;") && whole.contains("scanned 22 entries"), "{width} columns: {whole:?}");
}

#[test]
fn bar_and_summary_fit_80_columns() {
    check(80);
}

#[test]
fn bar_and_summary_fit_40_columns() {
    check(40);
}
