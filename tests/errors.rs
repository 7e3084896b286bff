//! Bad input: each case exits 1 (255 for exec, as runc), says what is wrong in words a user or
//! containerd can act on, and leaves nothing behind on the host.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::time::Duration;

const SECS: Duration = Duration::from_secs(10);

/// `create` of `b` must fail with exit 1, name every one of `needles`, write no pid file and
/// leave nothing behind. `run` of the same bundle must fail the same way.
#[track_caller]
fn create_fails(env: &Env, b: &Bundle, needles: &[&str]) {
    let id = env.id("bad");
    let pid_file = env.path("pidfile");
    let out = env.hull(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    out.fails_with(1, needles);
    assert!(!pid_file.exists(), "no pid file after a failed create");
    env.hull(&["state", &id]).fails_with(1, &["does not exist"]);
    env.assert_clean(&id, b);

    let id = env.id("badrun");
    let out = env.hull(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    out.fails_with(1, needles);
    env.assert_clean(&id, b);
    let list = env.hull(&["list", "-q"]);
    list.ok();
    assert_eq!(list.stdout, "", "no container listed after failures");
}

#[test]
fn config_not_json() {
    let env = Env::new("notjson");
    let b = env.bundle();
    fs::write(b.config_path(), "{not json").unwrap();
    create_fails(&env, &b, &["config.json", "line 1"]);
    fs::write(b.config_path(), "this is no json at all").unwrap();
    create_fails(&env, &b, &["config.json"]);
    fs::write(b.config_path(), "").unwrap();
    create_fails(&env, &b, &["config.json"]);
}

#[test]
fn config_field_of_wrong_type_is_named() {
    let env = Env::new("wrongtype");
    let b = env.bundle();
    let good = b.config();
    let cases: Vec<(&str, Box<dyn Fn(&mut Value)>)> = vec![
        (
            "process.user.uid",
            Box::new(|c: &mut Value| c["process"]["user"]["uid"] = json!("x")),
        ),
        (
            "process.args",
            Box::new(|c: &mut Value| c["process"]["args"] = json!("sh")),
        ),
        (
            "mounts",
            Box::new(|c: &mut Value| c["mounts"] = json!({"a": 1})),
        ),
        (
            "process.rlimits",
            Box::new(|c: &mut Value| {
                c["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": "many", "hard": 1}])
            }),
        ),
    ];
    for (field, f) in cases {
        let mut c = good.clone();
        f(&mut c);
        b.write_config(&c);
        create_fails(&env, &b, &[field]);
    }
}

#[test]
fn missing_rootfs_is_named() {
    let env = Env::new("norootfs");
    let b = env.bundle();
    b.edit(|c| c["root"]["path"] = json!("no-such-rootfs"));
    create_fails(&env, &b, &["no-such-rootfs"]);
    // A rootfs that is a file.
    fs::write(b.dir.join("afile"), "x").unwrap();
    b.edit(|c| c["root"]["path"] = json!("afile"));
    create_fails(&env, &b, &["afile", "not a directory"]);
}

#[test]
fn missing_bundle_is_named() {
    let env = Env::new("nobundle");
    let id = env.id("c");
    let missing = env.path("no-such-bundle");
    env.hull(&["create", "--bundle", missing.to_str().unwrap(), &id])
        .fails_with(1, &["no-such-bundle"]);
    assert!(!env.root.join(&id).exists());
}

#[test]
fn missing_program_is_named() {
    let env = Env::new("noprog");
    let b = env.bundle();
    b.args(&["/bin/no-such-program", "arg"]);
    create_fails(&env, &b, &["/bin/no-such-program"]);
    b.args(&["no-such-program"]);
    create_fails(&env, &b, &["no-such-program"]);
    // A program that exists on the host but not in the rootfs.
    assert!(std::path::Path::new("/usr/bin/env").exists());
    b.args(&["/usr/bin/env"]);
    create_fails(&env, &b, &["/usr/bin/env"]);
}

#[test]
fn missing_process_is_named() {
    let env = Env::new("noprocess");
    let b = env.bundle();
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("process");
    });
    create_fails(&env, &b, &["process"]);
    b.edit(|c| {
        c["process"] = json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": []});
    });
    create_fails(&env, &b, &["process.args"]);
}

#[test]
fn error_inside_container_setup_is_reported() {
    // Errors of the init process (after clone, before exec) reach the caller too.
    let env = Env::new("initerr");
    let b = env.bundle();
    b.edit(|c| c["linux"]["sysctl"] = json!({"kernel.no_such_sysctl_hull": "1"}));
    create_fails(&env, &b, &["kernel.no_such_sysctl_hull"]);
    let src = env.path("no-such-source");
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({});
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/mnt/x", "type": "bind", "source": src, "options": ["bind"]}),
        );
    });
    create_fails(&env, &b, &[src.to_str().unwrap()]);
}

#[test]
fn duplicate_id_is_refused() {
    let env = Env::new("dup");
    let b = env.bundle();
    b.args(&["sleep", "1000"]);
    let b2 = env.bundle();
    let id = env.id("c");
    env.create(&b, &id).ok();
    let s1 = env.state(&id);
    let out = env.create(&b2, &id);
    out.fails_with(1, &["already exists"]);
    let out = env.hull(&["run", "--bundle", b2.dir.to_str().unwrap(), &id]);
    out.fails_with(1, &["already exists"]);
    // The first container is intact and still works.
    let s2 = env.state(&id);
    assert_eq!(s1, s2);
    assert!(pid_alive(s2["pid"].as_i64().unwrap()));
    env.hull(&["start", &id]).ok();
    assert_eq!(env.status(&id), "running");
    env.hull(&["delete", "--force", &id]).ok();
    env.assert_clean(&id, &b);
    env.assert_clean(&id, &b2);
}

#[test]
fn unknown_id_for_every_subcommand() {
    let env = Env::new("unknown");
    let id = "no-such-container-hull-test";
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["state", id], 1),
        (vec!["start", id], 1),
        (vec!["kill", id], 1),
        (vec!["kill", id, "9"], 1),
        (vec!["kill", "--all", id, "KILL"], 1),
        (vec!["delete", id], 1),
        (vec!["pause", id], 1),
        (vec!["resume", id], 1),
        (vec!["ps", id], 1),
        (vec!["ps", "--format", "json", id], 1),
        // runc exits 255 for every exec failure.
        (vec!["exec", id, "true"], 255),
    ];
    for (args, code) in cases {
        let out = env.hull(&args);
        assert_eq!(out.code, code, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("does not exist"),
            "{args:?} says 'does not exist': {out:?}"
        );
        assert!(!env.root.join(id).exists(), "{args:?} made a state dir");
    }
    // Also with a state root that does not exist at all (it is not created by asking).
    let nowhere = env.path("no-such-root");
    let mut c = std::process::Command::new(HULL);
    c.arg("--root").arg(&nowhere).args(["state", id]);
    let out = env.run_cmd(c, "state", TIMEOUT);
    out.fails_with(1, &["does not exist"]);
    assert!(!nowhere.exists());
    // runc: delete --force of an unknown id succeeds.
    env.hull(&["delete", "--force", id]).ok();
    env.hull(&["delete", "-f", id]).ok();
    assert!(!env.root.join(id).exists());
}

#[test]
fn invalid_id_is_refused() {
    let env = Env::new("badid");
    let b = env.bundle();
    for id in ["../escape", "a/b", "..", "with space"] {
        let out = env.create(&b, id);
        out.fails_with(1, &["invalid container id"]);
        env.hull(&["state", id]).fails_with(1, &[]);
    }
    assert!(!env.base.join("escape").exists());
    let entries: Vec<_> = fs::read_dir(&env.root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "{entries:?}");
}

#[test]
fn start_twice_fails() {
    let env = Env::new("start2");
    let b = env.bundle();
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    env.create(&b, &id).ok();
    env.hull(&["start", &id]).ok();
    let s = env.state(&id);
    env.hull(&["start", &id]).fails_with(1, &["running", &id]);
    assert_eq!(env.state(&id), s, "the container is unaffected");
    env.hull(&["kill", &id, "KILL"]).ok();
    env.wait_status(&id, "stopped", SECS);
    env.hull(&["start", &id]).fails_with(1, &["stopped", &id]);
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn kill_of_stopped_container() {
    let env = Env::new("killstopped");
    let b = env.bundle();
    b.args(&["true"]);
    let id = env.id("c");
    env.create(&b, &id).ok();
    env.hull(&["start", &id]).ok();
    env.wait_status(&id, "stopped", SECS);
    for sig in ["9", "TERM", "SIGKILL"] {
        env.hull(&["kill", &id, sig])
            .fails_with(1, &["container not running"]);
    }
    assert_eq!(env.status(&id), "stopped");
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn bad_signal_is_refused() {
    let env = Env::new("badsig");
    let b = env.bundle();
    b.args(&["sleep", "1000"]);
    let id = env.id("c");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    for sig in ["NOSUCHSIG", "SIGFOO", "-1", "99999"] {
        let out = env.hull(&["kill", &id, sig]);
        assert_eq!(out.code, 1, "kill {sig}: {out:?}");
        assert!(out.stderr.contains(sig), "kill {sig}: {out:?}");
    }
    assert_eq!(env.status(&id), "running");
    env.hull(&["delete", "-f", &id]).ok();
    env.assert_clean(&id, &b);
}

/// Check a JSON log file: every line an object with level/msg/time, levels lowercase, and
/// the last error's msg containing `needle`.
#[track_caller]
fn check_json_log(path: &std::path::Path, needle: &str) {
    let text = fs::read_to_string(path).expect("log file written");
    assert!(!text.is_empty(), "log file is empty");
    assert!(text.ends_with('\n'), "{text:?}");
    let mut last_error = None;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line:?}"));
        let o = v.as_object().expect("log line is an object");
        let level = o["level"].as_str().expect("level is a string");
        assert!(
            ["debug", "info", "warning", "error"].contains(&level),
            "{line}"
        );
        assert!(o["msg"].is_string(), "{line}");
        let t = o["time"].as_str().expect("time is a string");
        assert!(
            t.len() >= 20 && &t[4..5] == "-" && &t[10..11] == "T",
            "time {t:?} is RFC 3339"
        );
        if level == "error" {
            last_error = Some(o["msg"].as_str().unwrap().to_string());
        }
    }
    let msg = last_error.expect("an error line in the log");
    assert!(msg.contains(needle), "last error {msg:?} names {needle:?}");
}

#[test]
fn json_log_on_error() {
    let env = Env::new("jsonlog");
    let b = env.bundle();
    b.edit(|c| c["process"]["user"]["uid"] = json!("x"));
    let log = env.path("log.json");
    let id = env.id("c");
    let out = env.hull(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(out.code, 1);
    check_json_log(&log, "process.user.uid");
    env.assert_clean(&id, &b);

    // podman's `--opt=value` form; a second failure appends to the same file.
    b.edit(|c| {
        c["process"]["user"]["uid"] = json!(0);
        c["process"]["args"] = json!(["/bin/no-such-program"]);
    });
    let id = env.id("c");
    let out = env.hull(&[
        &format!("--log={}", log.display()),
        "--log-format=json",
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(out.code, 1);
    check_json_log(&log, "no-such-program");
    assert!(fs::read_to_string(&log).unwrap().lines().count() >= 2);
    env.assert_clean(&id, &b);

    // An unknown id, and an error from inside the container's setup.
    let out = env.hull(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "kill",
        "no-such-id-x",
        "9",
    ]);
    assert_eq!(out.code, 1);
    check_json_log(&log, "does not exist");
    b.edit(|c| {
        c["process"]["args"] = json!(["true"]);
        c["linux"]["sysctl"] = json!({"kernel.no_such_sysctl_hull": "1"});
    });
    let id = env.id("c");
    let out = env.hull(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(out.code, 1);
    check_json_log(&log, "kernel.no_such_sysctl_hull");
    env.assert_clean(&id, &b);
}

#[test]
fn successful_commands_keep_json_log_clean() {
    // A container's normal life writes nothing but JSON lines (if anything) to the log.
    let env = Env::new("jsonlog_ok");
    let b = env.bundle();
    b.args(&["sleep", "1000"]);
    let log = env.path("log.json");
    let l = log.to_str().unwrap();
    let id = env.id("c");
    let g = ["--log", l, "--log-format", "json"];
    let with = |args: &[&str]| {
        let mut a = g.to_vec();
        a.extend_from_slice(args);
        env.hull(&a)
    };
    with(&["create", "--bundle", b.dir.to_str().unwrap(), &id]).ok();
    with(&["start", &id]).ok();
    with(&["state", &id]).ok();
    with(&["kill", &id, "KILL"]).ok();
    env.wait_status(&id, "stopped", SECS);
    with(&["delete", &id]).ok();
    let text = fs::read_to_string(&log).unwrap_or_default();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line:?}"));
        assert_ne!(v["level"], "error", "{line}");
    }
    env.assert_clean(&id, &b);
}

#[test]
fn systemd_cgroup_driver_is_refused_not_ignored() {
    // No silent fallback to cgroupfs when the caller asked for systemd.
    let env = Env::new("systemdcg");
    let b = env.bundle();
    let id = env.id("c");
    let out = env.hull(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    out.fails_with(1, &["--systemd-cgroup"]);
    env.assert_clean(&id, &b);
}
