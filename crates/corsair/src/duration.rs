//! Durations as people write them on command lines and in INI files.

use std::time::Duration;

/// Parses `2.5s`, `500ms`, `250us`, `1m`, `1h` or a bare number of seconds;
/// the error says what is wrong in one line.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("duration `{text}` must not be negative"));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try 2.5s, 500ms, 1m)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use us, ms, s, m, h)"
            ))
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("duration `{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_errors() {
        assert_eq!(parse("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
        assert!(parse("-1").unwrap_err().contains("must not be negative"));
        assert!(parse("soon").unwrap_err().contains("is not a duration"));
        assert!(parse("3 weeks")
            .unwrap_err()
            .contains("unknown duration unit"));
    }
}
