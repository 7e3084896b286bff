//! `dock logs`: a container's json-file log, each line back on the stream it came from.

use super::Ctx;
use anyhow::{bail, Context, Result};
use dock::logfile;
use std::io::{Read, Write};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Keep printing new output until the container stops
    #[arg(short = 'f', long)]
    follow: bool,
    /// Only the last N lines ("all" for everything)
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show each line's time
    #[arg(short = 't', long)]
    timestamps: bool,
    container: String,
}

/// Writes complete log lines to stdout/stderr; keeps an unfinished line for the next read.
struct Printer {
    partial: Vec<u8>,
    timestamps: bool,
}

impl Printer {
    /// The complete lines in `data` (after what was left over), parsed.
    fn lines(&mut self, data: &[u8]) -> Vec<logfile::Entry> {
        self.partial.extend_from_slice(data);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let done = std::mem::replace(&mut self.partial, rest);
        done.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(logfile::parse)
            .collect()
    }

    fn print(&self, entries: &[logfile::Entry]) -> Result<()> {
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        for e in entries {
            let w: &mut dyn Write = if e.stream == "stderr" {
                &mut err
            } else {
                &mut out
            };
            if self.timestamps && !e.time.is_empty() {
                write!(w, "{} ", e.time)?;
            }
            w.write_all(e.log.as_bytes())?;
        }
        out.flush()?;
        err.flush()?;
        Ok(())
    }
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let tail = match a.tail.as_str() {
        "all" => None,
        n => Some(
            n.parse::<usize>()
                .with_context(|| format!("invalid --tail {n:?}: a number or \"all\""))?,
        ),
    };
    let cs = ctx.containers()?;
    let r = cs.find(&a.container)?;
    let path = cs.log_path(&r.id);
    let mut f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            bail!("open {}: {e}", path.display())
        }
        Err(_) if !a.follow => return Ok(()),
        Err(_) => {
            cs.wait_stopped(&r, Duration::from_secs(u64::MAX / 4));
            return Ok(());
        }
    };
    let mut p = Printer {
        partial: Vec::new(),
        timestamps: a.timestamps,
    };
    let mut data = Vec::new();
    f.read_to_end(&mut data)
        .with_context(|| format!("read {}", path.display()))?;
    let mut first = p.lines(&data);
    if let Some(n) = tail {
        first.drain(..first.len().saturating_sub(n));
    }
    p.print(&first)?;
    if !a.follow {
        return Ok(());
    }
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = f.read(&mut buf)?;
        if n > 0 {
            let lines = p.lines(&buf[..n]);
            p.print(&lines)?;
            continue;
        }
        if cs.wait_stopped(&r, Duration::from_millis(200)) {
            // Whatever was written before the exit.
            let mut rest = Vec::new();
            f.read_to_end(&mut rest)?;
            let lines = p.lines(&rest);
            return p.print(&lines);
        }
    }
}
