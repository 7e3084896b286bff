//! A container's `container.log` in docker's json-file format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout"|"stderr","time":"RFC 3339 nanos"}`, so `dock logs`
//! can give each stream back on its own fd. Output is split at newlines; a line longer than
//! [`MAX_LINE`] is written in pieces without the newline (as docker's 16 KiB buffer does), and
//! whatever is left when a stream ends is written as a last partial line.

use serde::{Deserialize, Serialize};
use std::io::Write;

pub const MAX_LINE: usize = 16 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Turns each stream's bytes into log entries on `out`.
pub struct Writer<W: Write> {
    out: W,
    pending: [Vec<u8>; 2],
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        Writer {
            out,
            pending: [Vec::new(), Vec::new()],
        }
    }

    pub fn write(&mut self, s: Stream, data: &[u8]) -> std::io::Result<()> {
        let i = s as usize;
        self.pending[i].extend_from_slice(data);
        loop {
            let buf = &self.pending[i];
            let cut = match buf.iter().position(|&b| b == b'\n') {
                Some(n) if n < MAX_LINE => n + 1,
                _ if buf.len() >= MAX_LINE => MAX_LINE,
                _ => return Ok(()),
            };
            let line: Vec<u8> = self.pending[i].drain(..cut).collect();
            self.entry(s, &line)?;
        }
    }

    /// The stream ended: its unterminated last line goes out as it is.
    pub fn finish(&mut self, s: Stream) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.pending[s as usize]);
        if rest.is_empty() {
            return Ok(());
        }
        self.entry(s, &rest)
    }

    fn entry(&mut self, s: Stream, line: &[u8]) -> std::io::Result<()> {
        // Not UTF-8: replaced characters, as docker's JSON encoding does.
        let e = Entry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: s.name().into(),
            time: hull::time::rfc3339_nanos(std::time::SystemTime::now()),
        };
        let mut j = serde_json::to_vec(&e).map_err(std::io::Error::other)?;
        j.push(b'\n');
        // One write per entry: O_APPEND keeps concurrent writers' entries whole.
        self.out.write_all(&j)
    }
}

/// Parse one line of a log file. A line that is not an entry (a log written by an older
/// dock, raw output) is shown as stdout text.
pub fn parse(line: &[u8]) -> Entry {
    serde_json::from_slice(line).unwrap_or_else(|_| Entry {
        log: format!("{}\n", String::from_utf8_lossy(line)),
        stream: "stdout".into(),
        time: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(buf: &[u8]) -> Vec<(String, String)> {
        buf.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let e = parse(l);
                assert!(e.time.ends_with('Z'), "{}", e.time);
                (e.stream, e.log)
            })
            .collect()
    }

    #[test]
    fn lines_are_split_per_stream() {
        let mut w = Writer::new(Vec::new());
        w.write(Stream::Stdout, b"a\nb").unwrap();
        w.write(Stream::Stderr, b"err\n").unwrap();
        w.write(Stream::Stdout, b"c\n\"q\"").unwrap();
        w.finish(Stream::Stdout).unwrap();
        w.finish(Stream::Stderr).unwrap();
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            entries(&w.out),
            [
                s("stdout", "a\n"),
                s("stderr", "err\n"),
                s("stdout", "bc\n"),
                s("stdout", "\"q\"")
            ]
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let mut w = Writer::new(Vec::new());
        w.write(Stream::Stdout, &vec![b'x'; MAX_LINE + 5]).unwrap();
        w.write(Stream::Stdout, b"\n").unwrap();
        let e = entries(&w.out);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].1.len(), MAX_LINE);
        assert_eq!(e[1].1, "xxxxx\n");
        assert_eq!(parse(b"raw old line").log, "raw old line\n");
    }
}
