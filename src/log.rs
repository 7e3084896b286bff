//! runc-compatible log lines. With `--log-format json` every line of the log file is one JSON
//! object; containerd decodes the whole file as a JSON stream and shows the `msg` of the last
//! error, so nothing else may ever be written there.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Default)]
pub struct Logger {
    pub file: Option<PathBuf>,
    pub format: Format,
    pub debug: bool,
}

impl Logger {
    pub fn error(&self, msg: &str) {
        self.write("error", msg);
    }
    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
    }
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }

    fn line(&self, level: &str, msg: &str) -> String {
        let time = crate::time::rfc3339_secs(std::time::SystemTime::now());
        match self.format {
            Format::Json => {
                serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
            }
            Format::Text => format!("time=\"{time}\" level={level} msg={}", quote(msg)),
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let mut line = self.line(level, msg);
        line.push('\n');
        match &self.file {
            // One write(2) per line on an O_APPEND fd, so lines from concurrent hull processes
            // (create and exec of one container) never interleave.
            Some(path) => {
                if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None if level != "error" => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            // Errors without a log file are printed plainly by main, as runc does.
            None => {}
        }
    }
}

fn quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c))
        && !s.is_empty()
    {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}
