use super::*;

#[test]
fn json_events_carry_schema_tag_and_exact_names() {
    let e = ProgressEvent::NeedBatch { files: 3, bytes: 9 };
    let v: serde_json::Value = serde_json::from_str(&event_json(&e)).unwrap();
    assert_eq!(v["schema"], report::JSON_SCHEMA);
    assert_eq!(v["event"], "need_batch");
    assert_eq!(v["files"], 3);
    let path = RelPath::from_bytes(b"d/bad\xffname".to_vec()).unwrap();
    let done = ProgressEvent::FileDone { path, kind: FileKind::File, bytes: 1 };
    let v: serde_json::Value = serde_json::from_str(&event_json(&done)).unwrap();
    assert_eq!(v["path"], "d/bad\\xffname");
    assert_eq!(v["path_b64"], "ZC9iYWT/bmFtZQ==");
    let plain = ProgressEvent::FileDone {
        path: RelPath::from_bytes(b"a\\b".to_vec()).unwrap(),
        kind: FileKind::File,
        bytes: 1,
    };
    let v: serde_json::Value = serde_json::from_str(&event_json(&plain)).unwrap();
    assert_eq!((v["path"].as_str(), v.get("path_b64")), (Some("a\\b"), None), "a UTF-8 name is exact");
}

#[test]
fn failures_name_their_path_once() {
    let p = RelPath::from_bytes(b"d/f".to_vec()).unwrap();
    assert_eq!(failure_text(&p, "d/f: write failed"), "d/f: write failed");
    assert_eq!(failure_text(&p, "/abs/d/f: open failed"), "d/f: /abs/d/f: open failed");
    assert_eq!(failure_text(&p, "d/fx: other"), "d/f: d/fx: other");
    assert_eq!(failure_text(&RelPath::root(), "/dst/file: write failed"), "/dst/file: write failed");
}

#[test]
fn itemize_codes_follow_rsync() {
    assert_eq!((code(FileKind::File), code(FileKind::Dir), code(FileKind::Symlink)), (">f", "cd", "cL"));
    assert_eq!(shown(&RelPath::from_bytes(b"d".to_vec()).unwrap(), FileKind::Dir), "d/");
}
