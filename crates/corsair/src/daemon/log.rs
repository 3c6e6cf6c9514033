//! Log lines that carry the process title: `(my:worker:3) message`.

use std::fmt::Display;
use std::io::Write;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// How much to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default: what the daemons do.
    Info,
    /// Everything.
    Debug,
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(Level::Error),
            "warn" | "warning" => Ok(Level::Warn),
            "info" => Ok(Level::Info),
            "debug" => Ok(Level::Debug),
            _ => Err(format!("unknown level `{s}` (error, warn, info, debug)")),
        }
    }
}

/// Line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `(title) message`.
    Short,
    /// `seconds.millis LEVEL (title) message`.
    Full,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "short" => Ok(Format::Short),
            "full" => Ok(Format::Full),
            _ => Err(format!("unknown format `{s}` (short, full)")),
        }
    }
}

/// Writes titled lines to standard error.
#[derive(Debug, Clone)]
pub struct Logger {
    title: String,
    width: usize,
    level: Level,
    format: Format,
}

impl Logger {
    /// Lines titled `(title)`, padded to `width` so that the messages of
    /// several processes line up.
    pub fn new(title: &str, width: usize, level: Level, format: Format) -> Self {
        Logger {
            title: format!("({title})"),
            width,
            level,
            format,
        }
    }

    /// The title, with its parentheses.
    pub fn title(&self) -> &str {
        &self.title
    }

    fn write(&self, level: Level, msg: impl Display) {
        if level > self.level {
            return;
        }
        let line = match self.format {
            Format::Short => format!("{:<w$} {msg}\n", self.title, w = self.width),
            Format::Full => {
                let t = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                format!(
                    "{}.{:03} {:<5} {:<w$} {msg}\n",
                    t.as_secs(),
                    t.subsec_millis(),
                    format!("{level:?}").to_ascii_uppercase(),
                    self.title,
                    w = self.width
                )
            }
        };
        // One write per line, so lines of concurrent processes never mix.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    /// An error line.
    pub fn error(&self, msg: impl Display) {
        self.write(Level::Error, msg)
    }

    /// A warning line.
    pub fn warn(&self, msg: impl Display) {
        self.write(Level::Warn, msg)
    }

    /// An information line.
    pub fn info(&self, msg: impl Display) {
        self.write(Level::Info, msg)
    }

    /// A debugging line.
    pub fn debug(&self, msg: impl Display) {
        self.write(Level::Debug, msg)
    }
}
