//! Argument value parsers: durations and probabilities.

use std::time::Duration;

/// Parses `2.5s`, `500ms`, `250us`, `1m`, `1h` or a bare number of seconds
/// (the same syntax as the daemon framework's INI files).
pub fn duration(text: &str) -> Result<Duration, String> {
    corsair::duration::parse(text)
}

/// Parses a probability between 0 and 1.
pub fn probability(text: &str) -> Result<f64, String> {
    let p: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("`{text}` is not a probability between 0 and 1"))
    }
}

/// Parses a retry count, or `forever` / `inf` for no limit.
pub fn retries(text: &str) -> Result<Option<u32>, String> {
    match text.trim() {
        "forever" | "inf" | "unlimited" => Ok(None),
        n => n
            .parse()
            .map(Some)
            .map_err(|_| format!("`{text}` is not a retry count (a number, or `forever`)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        assert!(duration("fast").unwrap_err().contains("not a duration"));
        assert!(duration("3 parsecs")
            .unwrap_err()
            .contains("unknown duration unit"));
        assert!(duration("-1s").is_err());
    }

    #[test]
    fn probabilities_and_retries() {
        assert_eq!(probability("0.1"), Ok(0.1));
        assert!(probability("1.5").is_err());
        assert_eq!(retries("3"), Ok(Some(3)));
        assert_eq!(retries("forever"), Ok(None));
        assert!(retries("lots").is_err());
    }
}

/// CURVE options of the commands that connect to a broker.
#[derive(Debug, Clone, clap::Args)]
pub struct CurveArgs {
    /// The broker's public key file: turns CURVE on.
    #[arg(long, value_name = "FILE")]
    pub server_key: Option<std::path::PathBuf>,
    /// This peer's secret key file (its public half is derived); without
    /// it a fresh key pair is made, which only a broker without an
    /// allow-list admits.
    #[arg(long, value_name = "FILE", requires = "server_key")]
    pub curve_key: Option<std::path::PathBuf>,
}

impl CurveArgs {
    /// The CURVE settings these options ask for, if any.
    pub fn curve(&self) -> anyhow::Result<Option<corsair::security::CurveClient>> {
        let Some(server) = &self.server_key else {
            return Ok(None);
        };
        Ok(Some(corsair::security::CurveClient::from_files(
            server,
            self.curve_key.as_deref(),
        )?))
    }
}
