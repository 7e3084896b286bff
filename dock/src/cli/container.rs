//! Container verbs: run, create, ps, stop, kill, rm, exec, import-busybox (start and attach
//! are in attach.rs, logs in logs.rs).

use super::Ctx;
use anyhow::{Context, Result};
use dock::bundle::RunFlags;
use dock::container::{exit_err, parse_signal, Containers, Record};
use std::io::Write;
use std::time::Duration;

#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    #[command(flatten)]
    pub flags: RunFlags,
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Pull the image first: missing (when not in the store), always, never
    #[arg(long, default_value = "missing")]
    pub pull: String,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl Ctx {
    pub fn containers(&self) -> Result<Containers> {
        let mut cs = Containers::new(&self.root)?;
        // The hook is this very binary (dock), never a library caller's.
        cs.loopback_hook =
            Some(hull::security::sealed_exe::original_exe().context("dock's own path")?);
        Ok(cs)
    }
}

/// docker's `--pull`: fetch the image from its registry when asked or when it is missing.
fn ensure_image(ctx: &Ctx, store: &dock::store::Store, a: &RunArgs) -> Result<()> {
    let have = dock::container::resolve_image(store, &a.image).is_ok();
    match a.pull.as_str() {
        "never" => return Ok(()),
        "missing" if have => return Ok(()),
        "missing" | "always" => {}
        other => return Err(exit_err(125, format!("invalid --pull {other:?}"))),
    }
    if !have {
        eprintln!("Unable to find image '{}' locally", a.image);
    }
    let r = super::parse_ref(&a.image).map_err(|e| exit_err(125, format!("{e:#}")))?;
    let progress = dock::progress::Progress::auto(false);
    dock::pull::pull(
        &ctx.client(),
        store,
        &r,
        &dock::pull::PullOptions::default(),
        &progress,
    )
    .map_err(|e| exit_err(125, e.to_string()))?;
    Ok(())
}

pub fn run(ctx: &Ctx, a: RunArgs) -> Result<()> {
    let store = ctx.store().map_err(|e| exit_err(125, format!("{e:#}")))?;
    ensure_image(ctx, &store, &a)?;
    let cs = ctx.containers()?;
    let mut rec = cs
        .create(&store, &a.image, &a.args, &a.flags)
        .map_err(dock::container::to125)?;
    drop(store);
    if a.flags.detach {
        if let Err(e) = cs.start_detached(&mut rec) {
            if a.flags.rm {
                let _ = cs.remove(&rec, true);
            }
            return Err(e);
        }
        println!("{}", rec.id);
        return Ok(());
    }
    let code = match cs.run_foreground(&mut rec) {
        Ok(c) => c,
        Err(e) => {
            if a.flags.rm {
                let _ = cs.remove(&rec, true);
            }
            return Err(e);
        }
    };
    std::io::stdout().flush().ok();
    std::process::exit(code);
}

pub fn create(ctx: &Ctx, a: RunArgs) -> Result<()> {
    let store = ctx.store().map_err(|e| exit_err(125, format!("{e:#}")))?;
    ensure_image(ctx, &store, &a)?;
    let cs = ctx.containers()?;
    let rec = cs
        .create(&store, &a.image, &a.args, &a.flags)
        .map_err(dock::container::to125)?;
    println!("{}", rec.id);
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default: running only)
    #[arg(short = 'a', long)]
    all: bool,
    /// Only ids
    #[arg(short = 'q', long)]
    quiet: bool,
    #[arg(long = "no-trunc")]
    no_trunc: bool,
}

/// Seconds since the epoch of an RFC 3339 UTC time as dock writes it.
fn epoch(t: &str) -> Option<i64> {
    let n = |a: usize, b: usize| t.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss) = (n(11, 13)?, n(14, 16)?, n(17, 19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

/// "5 seconds", "3 minutes", ... since `t`, as docker prints.
fn ago(t: Option<&str>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let Some(s) = t.and_then(epoch).map(|e| (now - e).max(0)) else {
        return "?".into();
    };
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s < 120 => "About a minute".into(),
        s if s < 3600 => format!("{} minutes", s / 60),
        s if s < 7200 => "About an hour".into(),
        s if s < 172800 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

fn status_text(cs: &Containers, r: &Record) -> String {
    match cs.status(r).as_str() {
        "running" => format!("Up {}", ago(r.started_at.as_deref())),
        "paused" => format!("Up {} (Paused)", ago(r.started_at.as_deref())),
        "exited" => format!(
            "Exited ({}) {} ago",
            r.exit_code.unwrap_or(-1),
            ago(r.finished_at.as_deref())
        ),
        _ => "Created".into(),
    }
}

pub fn ps(ctx: &Ctx, a: PsArgs) -> Result<()> {
    let cs = ctx.containers()?;
    let rows: Vec<Record> = cs
        .all()?
        .into_iter()
        .filter(|r| a.all || matches!(cs.status(r).as_str(), "running" | "paused"))
        .collect();
    if a.quiet {
        for r in rows {
            println!("{}", &r.id[..if a.no_trunc { 64 } else { 12 }]);
        }
        return Ok(());
    }
    println!(
        "{:<12}  {:<20}  {:<24}  {:<14}  {:<28}  NAMES",
        "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS"
    );
    for r in rows {
        let mut cmd = format!("\"{}\"", r.args.join(" "));
        if !a.no_trunc && cmd.chars().count() > 24 {
            cmd = cmd.chars().take(21).collect::<String>() + "...";
        }
        println!(
            "{:<12}  {:<20}  {:<24}  {:<14}  {:<28}  {}",
            &r.id[..12],
            r.image,
            cmd,
            format!("{} ago", ago(Some(&r.created))),
            status_text(&cs, &r),
            r.name
        );
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing
    #[arg(short = 't', long = "time", default_value_t = 10)]
    time: u64,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn stop(ctx: &Ctx, a: StopArgs) -> Result<()> {
    let cs = ctx.containers()?;
    for key in &a.containers {
        let r = cs.find(key)?;
        cs.stop(&r, Duration::from_secs(a.time))?;
        println!("{key}");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal (name or number)
    #[arg(short = 's', long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(ctx: &Ctx, a: KillArgs) -> Result<()> {
    let cs = ctx.containers()?;
    let sig = parse_signal(&a.signal)?;
    for key in &a.containers {
        let r = cs.find(key)?;
        cs.kill(&r, sig)?;
        println!("{key}");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Kill a running container first
    #[arg(short = 'f', long)]
    force: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(ctx: &Ctx, a: RmArgs) -> Result<()> {
    let cs = ctx.containers()?;
    for key in &a.containers {
        let r = cs.find(key)?;
        cs.remove(&r, a.force)?;
        println!("{key}");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    #[arg(short = 'i', long)]
    interactive: bool,
    #[arg(short = 't', long)]
    tty: bool,
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Run in the background
    #[arg(short = 'd', long)]
    detach: bool,
    container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn exec(ctx: &Ctx, a: ExecArgs) -> Result<()> {
    let cs = ctx.containers()?;
    let r = cs
        .find(&a.container)
        .map_err(|e| exit_err(125, format!("{e:#}")))?;
    if cs.status(&r) != "running" {
        return Err(exit_err(
            125,
            format!("container {} is not running", r.name),
        ));
    }
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cs.bundle(&r.id).join("config.json"))?)?;
    let mut p = spec["process"].clone();
    p["args"] = serde_json::json!(a.command);
    p["terminal"] = serde_json::json!(a.tty);
    let mut env: Vec<String> = p["env"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for e in &a.env {
        let k = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(k));
        env.push(e.clone());
    }
    p["env"] = serde_json::json!(env);
    if let Some(w) = &a.workdir {
        p["cwd"] = serde_json::json!(dock::bundle::check_container_path(w, "working directory")?);
    }
    if let Some(u) = &a.user {
        let user = dock::bundle::resolve_user(&cs.rootfs(&r.id), u)
            .map_err(|e| exit_err(125, e.to_string()))?;
        p["user"] = serde_json::json!({"uid": user.uid, "gid": user.gid, "additionalGids": user.additional});
    }
    cs.check_process(&r, &p)?;
    let process: oci_spec::runtime::Process = serde_json::from_value(p).context("exec process")?;
    if !a.interactive && !a.tty {
        let null = std::fs::File::open("/dev/null")?;
        // SAFETY: dup2 of a valid fd onto stdin.
        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) };
    }
    let code = dock::hull::launch::exec::exec(
        &cs.rt,
        &dock::hull::launch::exec::ExecOpts {
            id: r.id.clone(),
            process,
            console_socket: None,
            detach: a.detach,
            pid_file: None,
            preserve_fds: 0,
            ignore_paused: false,
            program: None,
        },
    )
    .map_err(|e| {
        let m = e.to_string();
        let code = if m.contains("No such file") || m.contains("ENOENT") {
            127
        } else if m.contains("ermission denied") || m.contains("EACCES") {
            126
        } else {
            125
        };
        exit_err(code, m)
    })?;
    std::io::stdout().flush().ok();
    std::process::exit(code);
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The static busybox binary to use
    #[arg(long, default_value = dock::import::BUSYBOX)]
    busybox: std::path::PathBuf,
}

pub fn import_busybox(ctx: &Ctx, a: ImportArgs) -> Result<()> {
    let store = ctx.store()?;
    let d = dock::import::busybox(&store, &a.busybox)?;
    println!("busybox:latest {d}");
    Ok(())
}

/// `dock inspect` of containers: docker-like JSON.
pub fn inspect_container(cs: &Containers, r: &Record) -> Result<serde_json::Value> {
    let spec: serde_json::Value = std::fs::read(cs.bundle(&r.id).join("config.json"))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default();
    let status = cs.status(r);
    let dir = cs.dir(&r.id);
    let lowers: Vec<String> = r
        .lowers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    Ok(serde_json::json!({
        "Id": r.id,
        "Name": format!("/{}", r.name),
        "Created": r.created,
        "Path": r.args.first(),
        "Args": r.args.get(1..).unwrap_or(&[]),
        "Image": r.image_id,
        "Config": {"Image": r.image, "Cmd": r.args, "Env": spec["process"]["env"],
                   "WorkingDir": spec["process"]["cwd"], "Tty": r.flags.tty,
                   "Hostname": spec["hostname"]},
        "State": {
            "Status": status,
            "Running": status == "running",
            "Paused": status == "paused",
            "Pid": if status == "running" { r.pid.unwrap_or(0) } else { 0 },
            "ExitCode": r.exit_code.unwrap_or(0),
            "StartedAt": r.started_at,
            "FinishedAt": r.finished_at,
        },
        "LogPath": cs.log_path(&r.id),
        "HostConfig": {"AutoRemove": r.flags.rm, "Privileged": r.flags.privileged,
                       "ReadonlyRootfs": r.flags.read_only, "NetworkMode": r.flags.network},
        "GraphDriver": {"Name": r.rootfs_kind, "Data": {
            "LowerDir": lowers.join(":"),
            "UpperDir": dir.join("upper"),
            "WorkDir": dir.join("work"),
            "MergedDir": cs.rootfs(&r.id),
        }},
        "Mounts": spec["mounts"].as_array().map(|m| m.iter().filter(|x| x["type"] == "bind"
            && !x["destination"].as_str().unwrap_or("").starts_with("/etc/")).cloned().collect::<Vec<_>>()),
    }))
}
