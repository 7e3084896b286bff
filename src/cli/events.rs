//! `events`: runc's event stream. `--stats` prints one stats event; otherwise a stats event
//! every `--interval` and an `oom` event whenever the kernel OOM-kills in the container, until
//! the container stops.

use hull::{Result, Runtime};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print one stats event and exit
    #[arg(long)]
    pub stats: bool,
    /// How often to print stats: a Go-style duration (5s, 500ms, 1m)
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    pub id: String,
}

fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (like 5s, 500ms, 1m)");
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(format!("{s:?}: the interval must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn event(kind: &str, id: &str, data: serde_json::Value) -> String {
    // runc's field order (type, id, data); tools grep for `{"type":"oom","id":...`.
    let id = serde_json::Value::String(id.to_string());
    if data.is_null() {
        format!("{{\"type\":\"{kind}\",\"id\":{id}}}")
    } else {
        format!("{{\"type\":\"{kind}\",\"id\":{id},\"data\":{data}}}")
    }
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    let dirs = hull::lifecycle::running_cgroups(rt, &a.id)?;
    if a.stats {
        crate::out!(
            "{}",
            event("stats", &a.id, hull::cgroups::stats::collect(&dirs))
        );
        return Ok(0);
    }
    let mut ooms = hull::cgroups::stats::oom_kills(&dirs);
    let tick = Duration::from_millis(100).min(a.interval);
    let mut since = Duration::ZERO;
    let mut last_dirs = dirs;
    loop {
        let Ok(dirs) = hull::lifecycle::running_cgroups(rt, &a.id) else {
            // An OOM kill of the init ends the container between two ticks: the cgroup stays
            // until `delete`, so its count still tells whether that kill was ours to report.
            if hull::cgroups::stats::oom_kills(&last_dirs) > ooms {
                crate::out!("{}", event("oom", &a.id, serde_json::Value::Null));
            }
            return Ok(0);
        };
        last_dirs = dirs.clone();
        let now = hull::cgroups::stats::oom_kills(&dirs);
        if now > ooms {
            crate::out!("{}", event("oom", &a.id, serde_json::Value::Null));
            ooms = now;
        }
        if since.is_zero() {
            crate::out!(
                "{}",
                event("stats", &a.id, hull::cgroups::stats::collect(&dirs))
            );
        }
        std::thread::sleep(tick);
        since += tick;
        if since >= a.interval {
            since = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(super::parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(
            super::parse_duration("500ms"),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(super::parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(super::parse_duration("5").is_err());
        assert!(super::parse_duration("0s").is_err());
    }
}
