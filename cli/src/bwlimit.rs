//! `--bwlimit RATE`: parse a rate into bytes per second.
//!
//! Units follow rsync, so scripts move over unchanged: a bare number is KiB
//! per second, `K`/`M`/`G`/`T` (and `KiB`...`TiB`) are powers of 1024,
//! `KB`...`TB` powers of 1000, `B` plain bytes. Case does not matter and a
//! trailing `/s` is allowed. The limit itself is enforced where files land
//! (`blit_api::RateLimit`), for every transport and direction.

/// Parses `RATE` (e.g. `50M`, `1.5G`, `500K`, `800KB`, `4096B`, `100`)
/// into bytes per second; `0` means no limit.
pub(crate) fn parse_rate(text: &str) -> Result<u64, String> {
    let hint = "write a number with an optional unit, e.g. 500K, 50M, 1.5G (1024-based), 800KB (1000-based), 4096B";
    let trimmed = text.trim();
    let trimmed = trimmed.strip_suffix("/s").unwrap_or(trimmed);
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a rate; {hint}"))?;
    let multiplier = match unit.trim() {
        "" => 1024.0,
        other => unit_multiplier(other).ok_or_else(|| format!("`{other}` in `{text}` is not a unit; {hint}"))?,
    };
    let bytes = (value * multiplier).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large; {hint}"));
    }
    if value > 0.0 && bytes < 1.0 {
        return Err(format!("`{text}` is less than one byte per second; use 0 for no limit"));
    }
    Ok(bytes as u64)
}

/// The bytes in one `unit` (case-insensitive): `B`; `K`, `M`, `G`, `T` and
/// `KiB`...`TiB` are powers of 1024, `KB`...`TB` powers of 1000. Shared by
/// every option that takes an amount of bytes (`--bwlimit`, `--min-size`).
pub(crate) fn unit_multiplier(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn parses_rsync_style_units() {
        let ok = [
            ("50M", 50 << 20),
            ("1.5G", 3 << 29),
            ("500K", 500 << 10),
            ("500", 500 << 10),
            ("2MiB", 2 << 20),
            ("2m/s", 2 << 20),
            ("800KB", 800_000),
            ("1.5MB", 1_500_000),
            ("4096B", 4096),
            ("1T", 1 << 40),
            ("0", 0),
        ];
        for (text, want) in ok {
            assert_eq!(parse_rate(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn refuses_nonsense_with_a_hint() {
        for bad in ["", "fast", "5X", "1..2M", "-3M", "0.1B", "99999999999T"] {
            let e = parse_rate(bad).unwrap_err();
            assert!(e.contains(bad) || bad.is_empty(), "{bad}: {e}");
            assert!(e.contains("e.g.") || e.contains("no limit"), "{bad}: {e}");
        }
    }
}
