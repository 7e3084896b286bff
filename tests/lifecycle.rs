//! The container lifecycle through hull's command line: create → created → start → running →
//! kill → stopped → delete, the state JSON and pid file at each step, `list`, `run` exit codes,
//! detach/keep, signal forwarding, `kill --all` and the delete rules.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECS: Duration = Duration::from_secs(10);

/// A shell that exits 0 on SIGTERM (init of a pid namespace ignores signals it has no handler
/// for) and otherwise runs until killed.
const TERM_TRAP: &str = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parse RFC 3339 as Go's RFC3339Nano writes it (runc's `created`): a fraction of up to nine
/// digits with trailing zeros trimmed (absent when zero), then Z or a numeric offset.
/// Returns Unix seconds; panics if the form is wrong.
fn parse_rfc3339_nanos(s: &str) -> f64 {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> i64 {
        let t = &s[r.clone()];
        assert!(
            !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()),
            "created {s:?}: {t:?} at {r:?} is not digits"
        );
        t.parse().unwrap()
    };
    assert!(b.len() >= 20, "created {s:?} is too short for RFC 3339");
    assert_eq!(
        (b[4], b[7], b[10], b[13], b[16]),
        (b'-', b'-', b'T', b':', b':'),
        "created {s:?} is not YYYY-MM-DDTHH:MM:SS"
    );
    let (y, mo, d) = (digits(0..4), digits(5..7), digits(8..10));
    let (h, mi, se) = (digits(11..13), digits(14..16), digits(17..19));
    let mut i = 19;
    let mut frac = 0.0;
    if b[i] == b'.' {
        let n = s[i + 1..]
            .bytes()
            .take_while(|c| c.is_ascii_digit())
            .count();
        assert!(
            (1..=9).contains(&n),
            "created {s:?}: fraction of {n} digits"
        );
        let f = &s[i + 1..i + 1 + n];
        assert!(!f.ends_with('0'), "created {s:?}: Go trims trailing zeros");
        frac = format!("0.{f}").parse().unwrap();
        i += 1 + n;
    }
    let zone = &s[i..];
    let offset = if zone == "Z" {
        0
    } else {
        assert!(
            zone.len() == 6 && (zone.starts_with('+') || zone.starts_with('-')),
            "created {s:?}: expected Z or ±hh:mm after the seconds, got {zone:?}"
        );
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        sign * (digits(i + 1..i + 3) * 3600 + digits(i + 4..i + 6) * 60)
    };
    assert!((1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && se < 61);
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    secs as f64 + frac
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Whether `pid` has a handler installed for `sig` (SigCgt in /proc/PID/status). A pid
/// namespace's init only receives signals it handles, so a test must not signal it before
/// its shell has set the trap.
fn catches(pid: i64, sig: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (sig - 1)) != 0)
}

fn comm(pid: i64) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Check every field of a state document.
#[track_caller]
fn check_state(s: &Value, id: &str, b: &Bundle, status: &str) {
    let o = s.as_object().expect("state is a JSON object");
    let mut keys: Vec<&str> = o.keys().map(|k| k.as_str()).collect();
    keys.sort();
    let mut want = vec![
        "bundle",
        "created",
        "id",
        "ociVersion",
        "owner",
        "pid",
        "rootfs",
        "status",
    ];
    if o.contains_key("annotations") {
        want.push("annotations");
        want.sort();
    }
    assert_eq!(keys, want, "state keys: {s}");
    let v = s["ociVersion"].as_str().expect("ociVersion is a string");
    assert!(v.starts_with("1."), "ociVersion {v:?}");
    assert_eq!(s["id"], id);
    assert_eq!(s["status"], status, "{s}");
    let bundle = fs::canonicalize(&b.dir).unwrap();
    assert_eq!(s["bundle"], bundle.to_str().unwrap(), "{s}");
    assert_eq!(s["rootfs"], bundle.join("rootfs").to_str().unwrap(), "{s}");
    assert_eq!(s["owner"], "root", "{s}");
    let created = parse_rfc3339_nanos(s["created"].as_str().expect("created is a string"));
    let age = now_secs() - created;
    assert!(
        (-5.0..300.0).contains(&age),
        "created {} is {age}s from now",
        s["created"]
    );
    let pid = s["pid"].as_i64().expect("pid is a number");
    if status == "stopped" {
        assert_eq!(pid, 0, "a stopped container's pid is 0: {s}");
    } else {
        assert!(pid > 0, "pid {pid}");
        assert!(
            pid_alive(pid),
            "pid {pid} of a {status} container is not alive"
        );
    }
}

/// create (with a pid file) → created → start → running → kill SIGNAL → stopped → delete.
fn lifecycle(name: &str, script: &str, signal: &str) {
    let env = Env::new(name);
    let b = env.bundle();
    b.script(script);
    let id = env.id("c");
    let pid_file = env.path("pidfile");
    let out = env.hull(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    out.ok();
    assert_eq!(out.stdout, "", "create prints nothing");

    let s = env.state(&id);
    check_state(&s, &id, &b, "created");
    assert!(
        s.get("annotations").is_none(),
        "no annotations configured: {s}"
    );
    let pid = s["pid"].as_i64().unwrap();

    let content = fs::read(&pid_file).expect("pid file written by create");
    let text = String::from_utf8(content).unwrap();
    assert!(
        !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()),
        "pid file holds only digits, no newline: {text:?}"
    );
    assert_eq!(text.parse::<i64>().unwrap(), pid, "pid file = state pid");
    // No temporary file is left beside it.
    let siblings: Vec<_> = fs::read_dir(pid_file.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("pidfile"))
        .collect();
    assert_eq!(siblings.len(), 1, "only the pid file: {siblings:?}");

    // Before start, init is still hull waiting on exec.fifo, not the container's program.
    assert_eq!(comm(pid), "hull", "the process ran before start");
    assert_eq!(env.status(&id), "created", "still created a moment later");

    env.hull(&["start", &id]).ok();
    let s = env.state(&id);
    check_state(&s, &id, &b, "running");
    assert_eq!(s["pid"].as_i64().unwrap(), pid, "pid unchanged by start");
    assert!(
        wait_until(SECS, || comm(pid) != "hull"),
        "after start the process is the container's program, not {:?}",
        comm(pid)
    );
    // The container's init is pid 1 of a new pid namespace.
    let nspid = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap()
        .to_string();
    assert!(
        nspid.split_whitespace().last() == Some("1"),
        "init is pid 1 inside: {nspid}"
    );

    if script == TERM_TRAP {
        assert!(
            wait_until(SECS, || catches(pid, 15)),
            "the shell never set its TERM trap"
        );
    }
    env.hull(&["kill", &id, signal]).ok();
    let s = env.wait_status(&id, "stopped", SECS);
    check_state(&s, &id, &b, "stopped");
    assert!(!pid_alive(pid), "init {pid} is gone");

    env.hull(&["delete", &id]).ok();
    env.hull(&["state", &id]).fails_with(1, &["does not exist"]);
    env.assert_clean(&id, &b);
}

#[test]
fn lifecycle_kill_by_number_15() {
    lifecycle("lc_15", TERM_TRAP, "15");
}

#[test]
fn lifecycle_kill_by_name_kill() {
    lifecycle("lc_kill", "sleep 1000", "KILL");
}

#[test]
fn lifecycle_kill_by_name_sigkill() {
    lifecycle("lc_sigkill", "sleep 1000", "SIGKILL");
}

#[test]
fn lifecycle_kill_default_signal_is_term() {
    // `kill ID` without a signal sends SIGTERM, as runc does.
    let env = Env::new("lc_default");
    let b = env.bundle();
    b.script(TERM_TRAP);
    let id = env.id("c");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert!(
        wait_until(SECS, || catches(pid, 15)),
        "the shell never set its TERM trap"
    );
    env.hull(&["kill", &id]).ok();
    env.wait_status(&id, "stopped", SECS);
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn annotations_in_state_when_configured() {
    let env = Env::new("annotations");
    let b = env.bundle();
    b.args(&["sleep", "1000"]).edit(|c| {
        c["annotations"] = serde_json::json!({"org.example.a": "1", "io.hull.test": "two words"})
    });
    let id = env.id("c");
    env.create(&b, &id).ok();
    let s = env.state(&id);
    check_state(&s, &id, &b, "created");
    assert_eq!(
        s["annotations"],
        serde_json::json!({"org.example.a": "1", "io.hull.test": "two words"})
    );
    let list = env.hull(&["list", "--format", "json"]);
    list.ok();
    assert_eq!(list.json()[0]["annotations"], s["annotations"]);
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn list_table_json_and_quiet() {
    let env = Env::new("list");
    // An empty root lists nothing but the header.
    let out = env.hull(&["list"]);
    out.ok();
    let head: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(head, ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]);
    assert_eq!(out.stdout.lines().count(), 1, "{:?}", out.stdout);
    let q = env.hull(&["list", "-q"]);
    q.ok();
    assert_eq!(q.stdout, "");

    let b = env.bundle();
    b.args(&["sleep", "1000"]);
    let (a, c) = (env.id("a"), env.id("b"));
    env.create(&b, &a).ok();
    env.hull(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &c])
        .ok();
    let sa = env.state(&a);
    let sc = env.state(&c);

    let out = env.hull(&["list"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "header + 2 rows: {:?}", out.stdout);
    let header = lines[0];
    let cols = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
    let starts: Vec<usize> = cols.iter().map(|c| header.find(c).unwrap()).collect();
    assert_eq!(starts[0], 0);
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{header:?}");
    let bundle = fs::canonicalize(&b.dir).unwrap();
    for (line, s) in lines[1..].iter().zip([&sa, &sc]) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let want = [
            s["id"].as_str().unwrap().to_string(),
            s["pid"].to_string(),
            s["status"].as_str().unwrap().to_string(),
            bundle.to_str().unwrap().to_string(),
            s["created"].as_str().unwrap().to_string(),
            "root".to_string(),
        ];
        assert_eq!(fields, want, "row {line:?}");
        // Each value starts under its heading.
        for (i, f) in fields.iter().enumerate() {
            assert_eq!(
                &line[starts[i]..starts[i] + f.len()],
                *f,
                "column {} of {line:?} under {header:?}",
                cols[i]
            );
        }
    }
    assert_eq!(sa["status"], "created");
    assert_eq!(sc["status"], "running");

    let out = env.hull(&["list", "--format", "json"]);
    out.ok();
    let arr = out.json();
    let arr = arr.as_array().expect("list --format json prints an array");
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0], sa);
    assert_eq!(arr[1], sc);
    let out = env.hull(&["list", "-f", "json"]);
    out.ok();
    assert_eq!(out.json().as_array().map(|a| a.len()), Some(2));

    let q = env.hull(&["list", "-q"]);
    q.ok();
    let mut ids = vec![a.clone(), c.clone()];
    ids.sort();
    assert_eq!(q.stdout, format!("{}\n{}\n", ids[0], ids[1]));

    env.hull(&["delete", "--force", &a]).ok();
    env.hull(&["delete", "--force", &c]).ok();
    env.assert_clean(&a, &b);
    env.assert_clean(&c, &b);
    let q = env.hull(&["list", "-q"]);
    assert_eq!(q.stdout, "");
}

#[test]
fn run_returns_exit_code() {
    let env = Env::new("run_code");
    let b = env.bundle();
    for code in [0, 3, 42, 255] {
        b.script(&format!(
            "echo out-{code}; echo err-{code} >&2; exit {code}"
        ));
        let id = env.id("c");
        let out = env.run(&b, &id);
        assert_eq!(out.code, code, "{out:?}");
        assert_eq!(
            out.stdout,
            format!("out-{code}\n"),
            "container stdout is hull's"
        );
        assert!(out.stderr.contains(&format!("err-{code}")), "{out:?}");
        env.assert_clean(&id, &b);
    }
}

#[test]
fn run_killed_by_signal_returns_128_plus_n() {
    let env = Env::new("run_sig");
    let b = env.bundle();
    // Init of a pid namespace cannot be killed by its own SIGTERM (the kernel drops signals
    // init has no handler for, runc behaves the same); share the host's pid namespace so the
    // shell is an ordinary process that dies of `kill -TERM $$`.
    b.script("kill -TERM $$; exit 5").edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    let id = env.id("term");
    let out = env.run(&b, &id);
    assert_eq!(out.code, 143, "killed by SIGTERM: {out:?}");
    env.assert_clean(&id, &b);

    // Init killed from outside with SIGKILL → 137.
    let b2 = env.bundle();
    b2.args(&["sleep", "1000"]);
    let id = env.id("kill");
    let (child, _o, _e) = env.spawn(&["run", "--bundle", b2.dir.to_str().unwrap(), &id]);
    env.wait_status(&id, "running", SECS);
    env.hull(&["kill", &id, "KILL"]).ok();
    let st = wait_timeout(child, SECS, "hull run");
    assert_eq!(status_code(st), 137);
    env.assert_clean(&id, &b2);
}

#[test]
fn run_detach_returns_at_once() {
    let env = Env::new("run_detach");
    let b = env.bundle();
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    let t = std::time::Instant::now();
    let out = env.hull(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
    out.ok();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let s = env.state(&id);
    check_state(&s, &id, &b, "running");
    // `-d` is the short form.
    let id2 = env.id("short");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id2])
        .ok();
    assert_eq!(env.status(&id2), "running");
    for i in [&id, &id2] {
        env.hull(&["kill", i, "9"]).ok();
        env.wait_status(i, "stopped", SECS);
        env.hull(&["delete", i]).ok();
    }
    env.assert_clean(&id, &b);
    env.assert_clean(&id2, &b);
}

#[test]
fn run_keep_leaves_stopped_state() {
    let env = Env::new("run_keep");
    let b = env.bundle();
    b.script("exit 4");
    let id = env.id("c");
    let out = env.hull(&["run", "--keep", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(out.code, 4, "{out:?}");
    let s = env.state(&id);
    check_state(&s, &id, &b, "stopped");
    // Without --keep the state is gone when run returns.
    let id2 = env.id("nokeep");
    assert_eq!(env.run(&b, &id2).code, 4);
    env.hull(&["state", &id2])
        .fails_with(1, &["does not exist"]);
    env.assert_clean(&id2, &b);
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn run_forwards_signals() {
    let env = Env::new("run_fwd");
    let b = env.bundle();
    b.script("trap 'echo got-usr1; exit 7' USR1; echo ready; while :; do sleep 1 & wait $!; done");
    let id = env.id("c");
    let (child, out, _err) = env.spawn(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(
        wait_until(SECS, || fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("ready")),
        "container never printed ready"
    );
    // SAFETY: plain kill of our own child, which is not yet reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let st = wait_timeout(child, SECS, "hull run");
    assert_eq!(status_code(st), 7, "the container's trap exit code");
    assert_eq!(fs::read_to_string(&out).unwrap(), "ready\ngot-usr1\n");
    env.assert_clean(&id, &b);
}

#[test]
fn kill_all_reaches_every_process() {
    let env = Env::new("kill_all");
    let b = env.bundle();
    // Init (no handler) ignores SIGTERM; its two children do not. Once they die, `wait`
    // returns and the shell exits.
    b.script("sleep 1000 & sleep 1000 & wait; exit 0");
    let id = env.id("c");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let children_of = |pid: i64| -> Vec<i64> {
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect()
    };
    assert!(
        wait_until(SECS, || children_of(pid).len() == 2),
        "two sleeps: {:?}",
        children_of(pid)
    );
    let kids = children_of(pid);
    // Plain kill TERM reaches only init, which ignores it.
    env.hull(&["kill", &id, "TERM"]).ok();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(env.status(&id), "running");
    assert!(kids.iter().all(|&k| pid_alive(k)));

    env.hull(&["kill", "--all", &id, "TERM"]).ok();
    env.wait_status(&id, "stopped", SECS);
    for k in kids {
        assert!(!pid_alive(k), "child {k} survived kill --all");
    }
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);

    // -a KILL on a running container with children.
    let id = env.id("a9");
    b.script("sleep 1000 & sleep 1000 & wait");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert!(wait_until(SECS, || children_of(pid).len() == 2));
    let kids = children_of(pid);
    env.hull(&["kill", "-a", &id, "9"]).ok();
    env.wait_status(&id, "stopped", SECS);
    for k in kids {
        assert!(
            wait_until(SECS, || !pid_alive(k)),
            "child {k} survived kill -a 9"
        );
    }
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn delete_created_without_force() {
    let env = Env::new("del_created");
    let b = env.bundle();
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    env.create(&b, &id).ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    env.hull(&["delete", &id]).ok();
    assert!(wait_until(SECS, || !pid_alive(pid)), "init {pid} killed");
    env.hull(&["state", &id]).fails_with(1, &["does not exist"]);
    env.assert_clean(&id, &b);
}

#[test]
fn delete_running_needs_force() {
    let env = Env::new("del_running");
    let b = env.bundle();
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    env.hull(&["delete", &id]).fails_with(1, &["not stopped"]);
    let s = env.state(&id);
    check_state(&s, &id, &b, "running");
    assert_eq!(s["pid"].as_i64().unwrap(), pid);
    env.hull(&["delete", "--force", &id]).ok();
    assert!(!pid_alive(pid), "init {pid} killed by delete --force");
    env.hull(&["state", &id]).fails_with(1, &["does not exist"]);
    env.assert_clean(&id, &b);
    // -f is the short form.
    let id = env.id("short");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    env.hull(&["delete", "-f", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn stopped_container_deletes_without_force() {
    let env = Env::new("del_stopped");
    let b = env.bundle();
    b.args(&["true"]);
    let id = env.id("c");
    env.create(&b, &id).ok();
    env.hull(&["start", &id]).ok();
    let s = env.wait_status(&id, "stopped", SECS);
    check_state(&s, &id, &b, "stopped");
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn init_killed_from_outside_is_stopped() {
    // The container's process dies without hull being asked: state says stopped, pid 0, and
    // a plain delete cleans up.
    let env = Env::new("ext_kill");
    let b = env.bundle();
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    // SAFETY: plain kill of the container's init, a process of this test's making.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let s = env.wait_status(&id, "stopped", SECS);
    check_state(&s, &id, &b, "stopped");
    env.hull(&["kill", &id, "9"])
        .fails_with(1, &["container not running"]);
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn stdio_is_inherited_without_terminal() {
    let env = Env::new("stdio");
    let b = env.bundle();
    b.script("cat; echo to-stderr >&2; echo fd0=$(readlink /proc/self/fd/0)");
    let input = env.path("input");
    fs::write(&input, "line one\nline two\n").unwrap();
    let id = env.id("c");
    let mut c = env.cmd();
    c.args(["run", "--bundle", b.dir.to_str().unwrap(), &id])
        .stdin(fs::File::open(&input).unwrap());
    let out = env.run_cmd(c, "run", TIMEOUT);
    out.ok();
    let want = format!("line one\nline two\nfd0={}\n", input.display());
    assert_eq!(
        out.stdout, want,
        "stdin reaches the process; stdout is hull's"
    );
    assert_eq!(
        out.stderr, "to-stderr\n",
        "stderr is hull's, with nothing else"
    );
    env.assert_clean(&id, &b);
}
