//! Names in JSON, exactly: a path that is not UTF-8 is written as its
//! escaped text (see [`blit_api::text`]) in `path`, and its exact bytes,
//! base64-encoded (standard alphabet, with padding), in `path_b64`. A
//! UTF-8 path is written as it is and has no `path_b64`.

use blit_api::RelPath;

/// Adds `path_b64` to `object` when `path` is not UTF-8.
pub(crate) fn add_b64(object: &mut serde_json::Value, path: &RelPath) {
    if path.as_utf8().is_some() {
        return;
    }
    if let Some(o) = object.as_object_mut() {
        o.insert("path_b64".into(), base64(path.as_bytes()).into());
    }
}

/// Bytes as a JSON string: exact when UTF-8, otherwise escaped (see
/// [`blit_api::text`]); a `_b64` field beside it then carries them exactly.
pub(crate) fn exact_or_escaped(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => blit_api::text::escape(bytes).into_owned(),
    }
}

/// Standard base64 with padding (RFC 4648, section 4).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        assert_eq!(base64(b"bad\xffname"), "YmFk/25hbWU=");
    }

    #[test]
    fn only_names_that_are_not_utf8_get_their_bytes() {
        let mut v = serde_json::json!({"path": "x"});
        add_b64(&mut v, &RelPath::from_bytes(b"ok".to_vec()).unwrap());
        assert!(v.get("path_b64").is_none());
        add_b64(&mut v, &RelPath::from_bytes(b"bad\xffname".to_vec()).unwrap());
        assert_eq!(v["path_b64"], "YmFk/25hbWU=");
    }
}
