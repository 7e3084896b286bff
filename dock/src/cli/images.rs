//! `dock images [-q] [--no-trunc] [REPOSITORY[:TAG]]`: REPOSITORY TAG DIGEST SIZE CREATED.

use super::Ctx;
use anyhow::Result;
use dock::manifest::ImageConfigSummary;
use dock::progress::human_size;
use dock::reference::Reference;
use dock::store::{ImageEntry, Store};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print only digests
    #[arg(short, long)]
    quiet: bool,
    /// Full digests
    #[arg(long)]
    no_trunc: bool,
    /// Only images of this repository (and tag)
    filter: Option<String>,
}

pub struct Row {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub size: String,
    pub created: String,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let store = ctx.store()?;
    let filter = a.filter.as_deref().map(Reference::parse).transpose()?;
    let filter_has_tag = a.filter.as_deref().is_some_and(|f| {
        let last = f.rsplit('/').next().unwrap_or(f);
        last.contains(':') || f.contains('@')
    });
    let mut rows = Vec::new();
    for e in store.images()? {
        let r = Reference::parse(&e.name).ok();
        if let (Some(f), Some(r)) = (&filter, &r) {
            if f.repository() != r.repository() || (filter_has_tag && f.tag != r.tag) {
                continue;
            }
        }
        rows.push(row(&store, &e, r.as_ref(), a.no_trunc));
    }
    rows.sort_by(|x, y| (&x.repository, &x.tag).cmp(&(&y.repository, &y.tag)));
    if a.quiet {
        for r in rows {
            println!("{}", r.digest);
        }
        return Ok(());
    }
    let w = |f: fn(&Row) -> &str, h: &str| {
        rows.iter()
            .map(|r| f(r).len())
            .chain([h.len()])
            .max()
            .unwrap_or(0)
    };
    let (w1, w2, w3, w4) = (
        w(|r| &r.repository, "REPOSITORY"),
        w(|r| &r.tag, "TAG"),
        w(|r| &r.digest, "DIGEST"),
        w(|r| &r.size, "SIZE"),
    );
    println!(
        "{:w1$}   {:w2$}   {:w3$}   {:w4$}   CREATED",
        "REPOSITORY", "TAG", "DIGEST", "SIZE"
    );
    for r in rows {
        println!(
            "{:w1$}   {:w2$}   {:w3$}   {:w4$}   {}",
            r.repository, r.tag, r.digest, r.size, r.created
        );
    }
    Ok(())
}

fn row(store: &Store, e: &ImageEntry, r: Option<&Reference>, no_trunc: bool) -> Row {
    let (repository, tag) = match r {
        Some(r) => (
            r.familiar_repository(),
            r.tag.clone().unwrap_or_else(|| "<none>".into()),
        ),
        None => ("<none>".into(), "<none>".into()),
    };
    let d = &e.descriptor.digest;
    let digest = if no_trunc {
        d.to_string()
    } else {
        format!("{}:{}", d.algorithm().name(), d.short())
    };
    let (size, created) = match store.image_manifest(&e.descriptor) {
        Ok(m) => {
            let total: u64 = m.config.size + m.layers.iter().map(|l| l.size).sum::<u64>();
            let created = store
                .read_blob(&m.config.digest)
                .ok()
                .and_then(|c| serde_json::from_slice::<ImageConfigSummary>(&c).ok())
                .and_then(|c| c.created)
                .map(|c| ago(&c))
                .unwrap_or_else(|| "N/A".into());
            (human_size(total), created)
        }
        Err(_) => ("N/A".into(), "N/A".into()),
    };
    Row {
        repository,
        tag,
        digest,
        size,
        created,
    }
}

/// "3 hours ago" for an RFC 3339 timestamp.
pub fn ago(ts: &str) -> String {
    let Some(t) = parse_rfc3339(ts) else {
        return "N/A".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let s = now - t;
    if s < 0 {
        return "in the future".into();
    }
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match s {
        0..=59 => plural(s, "second"),
        60..=3599 => plural(s / 60, "minute"),
        3600..=172_799 => plural(s / 3600, "hour"),
        172_800..=1_209_599 => plural(s / 86400, "day"),
        1_209_600..=5_183_999 => plural(s / 604_800, "week"),
        5_184_000..=63_071_999 => plural(s / 2_592_000, "month"),
        _ => plural(s / 31_536_000, "year"),
    }
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub fn parse_rfc3339(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z') | Some(b'z') => 0,
        Some(b'+') | Some(b'-') => {
            let sign = if b[i] == b'-' { -1 } else { 1 };
            sign * (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60)
        }
        _ => return None,
    };
    // Days from civil (proleptic Gregorian).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            super::parse_rfc3339("2024-01-02T03:04:05.123456789Z"),
            Some(1_704_164_645)
        );
        assert_eq!(
            super::parse_rfc3339("2024-01-02T04:04:05+01:00"),
            Some(1_704_164_645)
        );
        assert_eq!(super::parse_rfc3339("garbage"), None);
    }
}
