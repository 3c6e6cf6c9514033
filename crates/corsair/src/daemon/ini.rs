//! A small INI reader: `[section]` headers, `key = value` lines, `;` or
//! `#` comments, blank lines. Errors name the line, section and key.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A configuration error, with the section and key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The section (`None` for errors outside any section).
    pub section: Option<String>,
    /// The key, when the error is about one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `key` in `section`.
    pub fn at(section: &str, key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            section: Some(section.to_owned()),
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }

    /// An error about a whole section.
    pub fn section(section: &str, message: impl Into<String>) -> Self {
        ConfigError {
            section: Some(section.to_owned()),
            key: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.section {
            write!(f, "[{s}] ")?;
        }
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A parsed INI file: sections of keys, in file order of sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl Ini {
    /// Parses INI text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let mut ini = Ini::default();
        let mut current: Option<String> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            let malformed = |what: &str| ConfigError {
                section: current.clone(),
                key: None,
                message: format!("{origin} line {}: {what}: `{line}`", n + 1),
            };
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| malformed("malformed section header"))?;
                if ini.sections.contains_key(name) {
                    return Err(ConfigError::section(name, "section given twice"));
                }
                ini.sections.insert(name.to_owned(), BTreeMap::new());
                current = Some(name.to_owned());
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| malformed("expected `key = value`"))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(malformed("empty key"));
            }
            let section = current
                .as_ref()
                .ok_or_else(|| malformed("key outside any section"))?;
            let value = value.trim().trim_matches('"').to_owned();
            let keys = ini
                .sections
                .get_mut(section)
                .expect("created at its header");
            if keys.insert(key.to_owned(), value).is_some() {
                return Err(ConfigError::at(section, key, "key given twice"));
            }
        }
        Ok(ini)
    }

    /// The names of every section.
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }

    /// The keys of `section`.
    pub fn keys(&self, section: &str) -> impl Iterator<Item = &str> {
        self.sections
            .get(section)
            .into_iter()
            .flat_map(|k| k.keys().map(String::as_str))
    }

    /// The raw value of `key` in `section`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section)?.get(key).map(String::as_str)
    }

    /// `key` in `section` parsed as `T`, or `default` when absent.
    pub fn parse_or<T: std::str::FromStr>(
        &self,
        section: &str,
        key: &str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::at(section, key, format!("cannot read `{v}`"))),
        }
    }

    /// `key` in `section` as a duration (`2s`, `500ms`, `1.5`, `1m`), or
    /// `default` when absent.
    pub fn duration_or(
        &self,
        section: &str,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some(v) => crate::duration::parse(v).map_err(|e| ConfigError::at(section, key, e)),
        }
    }

    /// `key` in `section` as a boolean (`true`/`false`, `yes`/`no`,
    /// `1`/`0`), or `default`.
    pub fn bool_or(&self, section: &str, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some("true" | "yes" | "on" | "1") => Ok(true),
            Some("false" | "no" | "off" | "0") => Ok(false),
            Some(v) => Err(ConfigError::at(
                section,
                key,
                format!("`{v}` is not true or false"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_comments_and_typed_values() {
        let ini = Ini::parse(
            "; comment\n[app]\ntitle = my\nworkers=4\n\n# more\n[MyServer]\nperiod = 250ms\n",
            "t.ini",
        )
        .unwrap();
        assert_eq!(ini.get("app", "title"), Some("my"));
        assert_eq!(ini.parse_or("app", "workers", 1u32), Ok(4));
        assert_eq!(
            ini.duration_or("MyServer", "period", Duration::ZERO),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(ini.parse_or("app", "missing", 7u32), Ok(7));
    }

    #[test]
    fn errors_name_line_section_and_key() {
        let e = Ini::parse("[app]\nno equals sign\n", "t.ini").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[app] t.ini line 2: expected `key = value`: `no equals sign`"
        );
        let e = Ini::parse("title = x\n", "t.ini").unwrap_err();
        assert!(e.to_string().contains("key outside any section"));
        let e = Ini::parse("[app\n", "t.ini").unwrap_err();
        assert!(e.to_string().contains("malformed section header"));
        let ini = Ini::parse("[app]\nworkers = many\n", "t.ini").unwrap();
        assert_eq!(
            ini.parse_or("app", "workers", 1u32)
                .unwrap_err()
                .to_string(),
            "[app] workers: cannot read `many`"
        );
    }
}
