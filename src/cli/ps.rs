//! `ps`: the container's processes. `--format json` prints an array of pids (containerd's
//! `task ps`); the table runs the host's `ps` (default `-ef`) and keeps the container's rows.

use hull::{Error, Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short, long, default_value = "table")]
    pub format: String,
    pub id: String,
    /// Arguments for ps(1) (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    let pids = hull::lifecycle::pids(rt, &a.id)?;
    match a.format.as_str() {
        "json" => {
            crate::out!(
                "{}",
                serde_json::to_string(&pids).map_err(|e| Error::msg(e.to_string()))?
            );
            Ok(0)
        }
        "table" => {
            let args = if a.ps_args.is_empty() {
                vec!["-ef".to_string()]
            } else {
                a.ps_args.clone()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| Error::sys("run", "ps", e))?;
            if !out.status.success() {
                return Err(Error::msg(format!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or("");
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| {
                    Error::msg(format!("ps {}: output has no PID column", args.join(" ")))
                })?;
            crate::out!("{header}");
            for l in lines {
                if l.split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok())
                    .is_some_and(|p| pids.contains(&p))
                {
                    crate::out!("{l}");
                }
            }
            Ok(0)
        }
        other => Err(Error::msg(format!(
            "invalid format option {other:?}: use table or json"
        ))),
    }
}
