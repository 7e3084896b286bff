//! Progress reporting: per-layer bars on a terminal, plain lines otherwise, nothing with
//! `--quiet`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// How progress is shown.
#[derive(Clone)]
pub enum Progress {
    Quiet,
    Plain,
    Bars(MultiProgress),
}

/// Progress of one blob.
pub struct Item {
    bar: Option<ProgressBar>,
    plain: Option<String>,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise; quiet wins.
    pub fn auto(quiet: bool) -> Self {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Progress::Plain
        }
    }

    /// A status line (not shown when quiet).
    pub fn line(&self, msg: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Plain => eprintln!("{msg}"),
            Progress::Bars(m) => {
                let _ = m.println(msg);
            }
        }
    }

    /// Start tracking one blob of `size` bytes.
    pub fn item(&self, label: &str, size: u64) -> Item {
        match self {
            Progress::Quiet => Item {
                bar: None,
                plain: None,
            },
            Progress::Plain => {
                eprintln!("{label}: downloading {}", human_size(size));
                Item {
                    bar: None,
                    plain: Some(label.to_string()),
                }
            }
            Progress::Bars(m) => {
                let bar = m.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix}: {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_prefix(label.to_string());
                Item {
                    bar: Some(bar),
                    plain: None,
                }
            }
        }
    }
}

impl Item {
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn finish(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.finish_with_message(msg.to_string());
        }
        if let Some(label) = &self.plain {
            eprintln!("{label}: {msg}");
        }
    }
}

/// Sizes as docker prints them (decimal units): `4.26MB`, `861kB`, `12B`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else if v < 10.0 {
        format!("{:.2}{}", v, UNITS[i])
    } else if v < 100.0 {
        format!("{:.1}{}", v, UNITS[i])
    } else {
        format!("{:.0}{}", v, UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::human_size(12), "12B");
        assert_eq!(super::human_size(4_260_000), "4.26MB");
        assert_eq!(super::human_size(861_000), "861kB");
    }
}
