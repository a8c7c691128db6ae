use super::*;

const MIB: u64 = 1 << 20;

fn at(done_bytes: u64, files_done: u64) -> Snapshot {
    Snapshot { done_bytes, total_bytes: 40 * MIB, files_done, files_needed: 10, scanned: 25, scan_done: true }
}

const WIDE: usize = 200;

#[test]
fn the_line_shows_elapsed_bar_bytes_files_rate_and_eta() {
    let t0 = Instant::now();
    let mut meter = Meter::default();
    let first = meter.line(&at(0, 0), t0, Duration::ZERO, WIDE);
    assert_eq!(first, format!("0:00  [{}]  0 B/40.0 MiB  0/10 files  -  ETA --:--", ">".to_owned() + &" ".repeat(29)));
    // 2 MiB/s for 4 s: 8 MiB done, 32 MiB to go, 16 s left.
    let mut line = String::new();
    for tick in 1..=40u64 {
        let now = Duration::from_millis(tick * 100);
        line = meter.line(&at(tick * MIB / 5, tick / 10), t0 + now, now, WIDE);
    }
    assert!(line.starts_with("0:04  [======>"), "{line}");
    assert!(line.ends_with("]  8.0 MiB/40.0 MiB  4/10 files  2.0 MiB/s  ETA 0:16"), "{line}");
}

#[test]
fn the_rate_follows_the_last_seconds_only() {
    let t0 = Instant::now();
    let mut meter = Meter::default();
    // 10 s at 4 MiB/s, then 10 s at 1 MiB/s: the line shows 1 MiB/s.
    let mut done = 0;
    for tick in 1..=200u64 {
        done += if tick <= 100 { 4 * MIB / 10 } else { MIB / 10 };
        let now = Duration::from_millis(tick * 100);
        meter.line(&at(done, 0), t0 + now, now, WIDE);
    }
    let line = meter.line(&at(done, 0), t0 + Duration::from_secs(20), Duration::from_secs(20), WIDE);
    assert!(line.contains("  1.0 MiB/s  "), "{line}");
    // The last frame shows the average of the whole run instead, as the summary does.
    let last = last_line(&at(done, 0), Duration::from_secs(20), WIDE);
    assert!(last.contains("  2.5 MiB/s  "), "{last}");
}

#[test]
fn scanning_and_finished_transfers_say_so() {
    let scanning = Snapshot { total_bytes: 3 * MIB, files_needed: 1, scanned: 1234, ..Default::default() };
    let text = fit(&scanning, Some(MIB as f64), Duration::from_secs(1), WIDE);
    assert!(text.ends_with("0 B/3.0 MiB  0/1 file  1.0 MiB/s  ETA 0:03  scanning (1234 entries)"), "{text}");
    let done =
        Snapshot { done_bytes: MIB, total_bytes: MIB, files_done: 1, files_needed: 1, scanned: 1, scan_done: true };
    let text = fit(&done, None, Duration::from_secs(1), WIDE);
    assert!(text.ends_with("ETA done"), "{text}");
    assert!(text.contains(&format!("[{}]", "=".repeat(30))), "{text}");
    assert_eq!(clock(Duration::from_secs(3 * 3600 + 62)), "3:01:02");
}

#[test]
fn narrow_terminals_get_whole_parts_only() {
    let s = Snapshot { scanned: 123_456, ..at(12 * MIB, 3) };
    let long = Snapshot {
        done_bytes: 1023 * MIB,
        total_bytes: 1023 * 1024 * MIB,
        files_done: 999_999,
        files_needed: 1_000_000,
        ..s
    };
    for snapshot in [s, long] {
        for width in 20..=120 {
            let text = fit(&snapshot, Some(2.0 * MIB as f64), Duration::from_secs(3 * 3600), width);
            assert!(text.chars().count() < width.max(24), "{width} columns: {text:?} is {} long", text.chars().count());
            // Every part shown is whole: the bytes always, and no cut words.
            assert!(text.contains(&format!("{}/", human_bytes(snapshot.done_bytes))), "{width}: {text}");
            let without_bar = match (text.find('['), text.find(']')) {
                (Some(a), Some(b)) => format!("{}[]{}", &text[..a], &text[b + 1..]),
                _ => text.clone(),
            };
            for word in without_bar.split("  ") {
                let whole = ["ETA ", "scanning (", "files", "MiB/s", "[", ":", "/"].iter().any(|w| word.contains(w));
                assert!(whole, "{width} columns: a cut part {word:?} in {text:?}");
            }
            if width >= 40 && snapshot == s {
                assert!(text.contains("MiB/s") && text.contains("ETA "), "{width} columns: {text}");
            }
        }
    }
}

#[test]
fn bytes_are_human() {
    assert_eq!(human_bytes(5), "5 B");
    assert_eq!(human_bytes(3 * MIB), "3.0 MiB");
    assert_eq!(human_bytes(MIB - 10), "1.0 MiB");
    assert_eq!(human_bytes(1023), "1023 B");
}
