use hull::{Error, Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Print only the ids
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    let states = hull::list(rt)?;
    if a.quiet {
        for s in &states {
            crate::out!("{}", s.id);
        }
        return Ok(0);
    }
    match a.format.as_str() {
        "json" => crate::out!(
            "{}",
            serde_json::to_string(&states).map_err(|e| Error::msg(e.to_string()))?
        ),
        "table" => {
            let rows: Vec<[String; 6]> = states
                .iter()
                .map(|s| {
                    [
                        s.id.clone(),
                        s.pid.to_string(),
                        s.status.as_str().to_string(),
                        s.bundle.display().to_string(),
                        s.created.clone(),
                        s.owner.clone(),
                    ]
                })
                .collect();
            let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            // Go's tabwriter as runc sets it up: min width 12, padding 1, last column unpadded.
            let mut widths = [12usize; 6];
            for r in std::iter::once(&head).chain(rows.iter()) {
                for (w, c) in widths.iter_mut().zip(r.iter()) {
                    *w = (*w).max(c.len() + 1);
                }
            }
            for r in std::iter::once(&head).chain(rows.iter()) {
                let mut line = String::new();
                for (i, c) in r.iter().enumerate() {
                    if i == 5 {
                        line.push_str(c);
                    } else {
                        line.push_str(&format!("{c:<w$}", w = widths[i]));
                    }
                }
                crate::out!("{line}");
            }
        }
        other => {
            return Err(Error::msg(format!(
                "invalid format option {other:?}: use table or json"
            )))
        }
    }
    Ok(0)
}
