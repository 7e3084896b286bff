//! runtime.md: state, lifecycle, operations (and their errors), hooks.
use crate::rt::{Ctx, Opts, R};
use crate::{case, ensure, Case};
use serde_json::{json, Value};
use std::fs;
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!("runtime.md/state/fields", state_fields),
        case!("runtime.md/state/annotations", state_annotations),
        case!("runtime.md/state/bundle-absolute", state_bundle_absolute),
        case!("runtime.md/lifecycle/create-does-not-run-process", create_does_not_run),
        case!("runtime.md/lifecycle/start-runs-process", start_runs),
        case!("runtime.md/lifecycle/stopped-after-exit", stopped_after_exit),
        case!("runtime.md/lifecycle/create-error-leaves-nothing", create_error_cleans),
        case!("runtime.md/lifecycle/start-error-bad-executable", bad_executable),
        case!("runtime.md/operations/create-duplicate-id", create_duplicate),
        case!("runtime.md/operations/create-invalid-config-fails", create_invalid_json),
        case!("runtime.md/operations/create-missing-bundle-fails", create_missing_bundle),
        case!("runtime.md/operations/delete-leaves-nothing", delete_leaves_nothing),
        case!("runtime.md/operations/delete-keeps-joined-namespaces", delete_keeps_joined),
        case!("runtime.md/operations/create-invalid-id-fails", create_invalid_id),
        case!("runtime.md/operations/state-unknown-id", |c| unknown(c, &["state"])),
        case!("runtime.md/operations/start-unknown-id", |c| unknown(c, &["start"])),
        case!("runtime.md/operations/kill-unknown-id", |c| unknown(c, &["kill"])),
        case!("runtime.md/operations/delete-unknown-id", |c| unknown(c, &["delete"])),
        case!("runtime.md/operations/start-running-fails", start_running),
        case!("runtime.md/operations/start-stopped-fails", start_stopped),
        case!("runtime.md/operations/kill-created", kill_created),
        case!("runtime.md/operations/kill-running", kill_running),
        case!("runtime.md/operations/kill-signal-name", kill_signal_name),
        case!("runtime.md/operations/kill-stopped-fails", kill_stopped),
        case!("runtime.md/operations/delete-running-fails", delete_running),
        case!("runtime.md/operations/delete-stopped", delete_stopped),
        case!("runtime.md/operations/delete-created", delete_created,
            deviation = "the spec says delete of a non-stopped container MUST fail; runc deletes a created container (killing its init) and containerd/podman rely on it"),
        case!("runtime.md/operations/delete-force-running", delete_force),
        case!("runtime.md/hooks/order", hooks_order),
        case!("runtime.md/hooks/state-on-stdin", hooks_state),
        case!("runtime.md/hooks/args-env", hooks_args_env),
        case!("runtime.md/hooks/prestart-in-create", hooks_prestart),
        case!("runtime.md/hooks/poststart-after-start", hooks_poststart_after_start),
        case!("runtime.md/hooks/createRuntime-failure-fails-create", hooks_create_fail),
        case!("runtime.md/hooks/poststop-failure-still-deletes", hooks_poststop_fail),
        case!("runtime.md/hooks/timeout", hooks_timeout),
        case!("runtime.md/hooks/prestart-failure-fails-create", hooks_prestart_fail),
        case!("runtime.md/hooks/poststart-failure-warns-and-continues", hooks_poststart_fail),
        case!("runtime.md/operations/config-changes-after-create-ignored", config_changes_ignored),
        case!("runtime.md/state/stopped", state_stopped),
        case!("runtime.md/state/stopped-after-outside-kill", state_outside_kill),
        case!("runtime.md/hooks/startContainer-in-container", hooks_start_container),
        case!("runtime.md/hooks/createContainer-in-container-namespaces", hooks_create_container_ns),
        case!("runtime.md/hooks/createRuntime-in-runtime-namespace", hooks_create_runtime_ns),
    ]
}

fn state_fields(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.created(&b)?;
    let s = c.state(&id)?;
    ensure!(
        s["ociVersion"]
            .as_str()
            .map(|v| v.starts_with("1."))
            .unwrap_or(false),
        "ociVersion: {s}"
    );
    ensure!(s["id"] == id.as_str(), "id: {s}");
    ensure!(s["status"] == "created", "status: {s}");
    let pid = s["pid"].as_i64().unwrap_or(0);
    ensure!(
        pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} is not a live process: {s}"
    );
    ensure!(
        s["bundle"]
            .as_str()
            .map(|p| fs::canonicalize(p).ok() == fs::canonicalize(&b.dir).ok())
            .unwrap_or(false),
        "bundle: {s}"
    );
    c.rt(&["start", &id]).ok("start")?;
    let s = c.state(&id)?;
    ensure!(
        s["status"] == "running" && s["pid"].as_i64() == Some(pid),
        "after start: {s}"
    );
    Ok(())
}

fn state_annotations(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    b.config["annotations"] = json!({"org.example.key": "value", "com.example.other": "x"});
    let id = c.created(&b)?;
    let s = c.state(&id)?;
    ensure!(
        s["annotations"]["org.example.key"] == "value",
        "annotations missing from state: {s}"
    );
    Ok(())
}

fn state_bundle_absolute(c: &Ctx) -> R {
    // create from inside the bundle with a relative --bundle: state.bundle is still absolute.
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    b.write();
    let id = c.id();
    c.rt_with(
        &["create", "--bundle", ".", &id],
        Opts {
            cwd: Some(b.dir.clone()),
            ..Default::default()
        },
    )
    .ok("create --bundle .")?;
    let s = c.state(&id)?;
    let p = s["bundle"].as_str().unwrap_or("");
    ensure!(
        p.starts_with('/') && fs::canonicalize(p).ok() == fs::canonicalize(&b.dir).ok(),
        "bundle not absolute: {s}"
    );
    Ok(())
}

fn create_does_not_run(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.sh("echo ran > /ran; sleep 30");
    let id = c.created(&b)?;
    std::thread::sleep(Duration::from_millis(300));
    ensure!(
        !b.rootfs().join("ran").exists(),
        "the user process ran before start"
    );
    ensure!(c.status(&id) == "created", "status {}", c.status(&id));
    Ok(())
}

fn start_runs(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.sh("echo ran > /ran; sleep 30");
    let id = c.started(&b)?;
    c.wait_file(&b.rootfs().join("ran"), Duration::from_secs(10))?;
    ensure!(c.status(&id) == "running", "status {}", c.status(&id));
    Ok(())
}

fn stopped_after_exit(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    let id = c.started(&b)?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))
}

fn create_error_cleans(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.add_mount(json!({"destination": "/mnt/x", "type": "bind", "source": "/nonexistent/oci-conformance", "options": ["bind"]}));
    let (id, o) = c.create(&b, &[]);
    ensure!(o.code != 0, "create with a missing bind source succeeded");
    ensure!(
        c.rt(&["state", &id]).code != 0,
        "state of a failed create still answers"
    );
    // The id is free again.
    let mut b2 = c.bundle();
    b2.args(&["true"]);
    b2.write();
    c.rt(&["create", "--bundle", b2.dir.to_str().unwrap_or(""), &id])
        .ok("create with the id of a failed create")?;
    Ok(())
}

fn bad_executable(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["/does/not/exist"]);
    let (id, o) = c.create(&b, &[]);
    if o.code == 0 {
        let s = c.rt(&["start", &id]);
        ensure!(
            s.code != 0 || c.status(&id) != "running",
            "start of a missing executable succeeded and left it running"
        );
    }
    Ok(())
}

fn create_duplicate(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.created(&b)?;
    let o = c.rt(&["create", "--bundle", b.dir.to_str().unwrap_or(""), &id]);
    ensure!(o.code != 0, "second create with the same id succeeded");
    ensure!(
        c.status(&id) == "created",
        "the first container is gone: {}",
        c.status(&id)
    );
    Ok(())
}

fn unknown(c: &Ctx, op: &[&str]) -> R {
    let mut a = op.to_vec();
    let id = format!("oc-nonexistent-{}", c.uniq());
    a.push(&id);
    if op == ["kill"] {
        a.push("KILL");
    }
    let o = c.rt(&a);
    ensure!(o.code != 0, "{} of an unknown id exited 0", op[0]);
    Ok(())
}

fn start_running(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.started(&b)?;
    ensure!(
        c.rt(&["start", &id]).code != 0,
        "start of a running container succeeded"
    );
    ensure!(c.status(&id) == "running", "status {}", c.status(&id));
    Ok(())
}

fn start_stopped(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    let id = c.started(&b)?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    ensure!(
        c.rt(&["start", &id]).code != 0,
        "start of a stopped container succeeded"
    );
    Ok(())
}

fn kill_created(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.created(&b)?;
    c.rt(&["kill", &id, "KILL"])
        .ok("kill of a created container")?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))
}

fn kill_running(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.started(&b)?;
    c.rt(&["kill", &id, "9"]).ok("kill 9")?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))
}

fn kill_signal_name(c: &Ctx) -> R {
    // Default signal is SIGTERM; a shell trap shows the signal arrived.
    let mut b = c.bundle();
    b.sh(
        "trap 'echo got > /got; exit 0' TERM; echo ready > /ready; while true; do sleep 0.1; done",
    );
    let id = c.started(&b)?;
    c.wait_file(&b.rootfs().join("ready"), Duration::from_secs(10))?;
    c.rt(&["kill", &id, "SIGTERM"]).ok("kill SIGTERM")?;
    c.wait_file(&b.rootfs().join("got"), Duration::from_secs(10))?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))
}

fn kill_stopped(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    let id = c.started(&b)?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    ensure!(
        c.rt(&["kill", &id, "KILL"]).code != 0,
        "kill of a stopped container succeeded"
    );
    Ok(())
}

fn delete_running(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.started(&b)?;
    ensure!(
        c.rt(&["delete", &id]).code != 0,
        "delete of a running container succeeded"
    );
    ensure!(
        c.status(&id) == "running",
        "the container changed: {}",
        c.status(&id)
    );
    Ok(())
}

fn delete_stopped(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.started(&b)?;
    let pid = c.pid(&id)?;
    let cg = crate::rt::cgroup_dir(pid, "memory");
    c.rt(&["kill", &id, "KILL"]).ok("kill")?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    c.rt(&["delete", &id]).ok("delete")?;
    ensure!(
        c.rt(&["state", &id]).code != 0,
        "state still answers after delete"
    );
    if let Some(cg) = cg {
        ensure!(
            !cg.exists(),
            "cgroup {} still exists after delete",
            cg.display()
        );
    }
    Ok(())
}

fn delete_created(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.created(&b)?;
    let pid = c.pid(&id)?;
    c.rt(&["delete", &id]).ok("delete of a created container")?;
    ensure!(
        c.rt(&["state", &id]).code != 0,
        "state still answers after delete"
    );
    std::thread::sleep(Duration::from_millis(200));
    ensure!(
        !crate::cases::runc::alive(pid),
        "init {pid} survived delete"
    );
    Ok(())
}

fn delete_force(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.started(&b)?;
    let pid = c.pid(&id)?;
    c.rt(&["delete", "--force", &id]).ok("delete --force")?;
    ensure!(
        c.rt(&["state", &id]).code != 0,
        "state still answers after delete"
    );
    std::thread::sleep(Duration::from_millis(200));
    ensure!(
        !crate::cases::runc::alive(pid),
        "init {pid} survived delete --force"
    );
    Ok(())
}

/// A host hook that appends "NAME <stdin>" to LOG.
fn hook(name: &str, log: &std::path::Path) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read -r s; echo \"{name} $s\" >> {}", log.display())]})
}

fn hook_lines(log: &std::path::Path) -> Vec<(String, Value)> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, s)| {
            (
                n.to_string(),
                serde_json::from_str(s).unwrap_or(Value::Null),
            )
        })
        .collect()
}

fn all_hooks(c: &Ctx) -> (crate::rt::Bundle, std::path::PathBuf) {
    let mut b = c.bundle();
    let log = b.dir.join("hooks.log");
    b.args(&["sleep", "30"]);
    b.config["hooks"] = json!({
        "prestart": [hook("prestart", &log)],
        "createRuntime": [hook("createRuntime", &log)],
        "createContainer": [hook("createContainer", &log)],
        "startContainer": [{"path": "/bin/true"}],
        "poststart": [hook("poststart", &log)],
        "poststop": [hook("poststop", &log)],
    });
    (b, log)
}

fn hooks_order(c: &Ctx) -> R {
    let (b, log) = all_hooks(c);
    let id = c.created(&b)?;
    let names = |l: &std::path::Path| {
        hook_lines(l)
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    let after_create = names(&log);
    for h in ["createRuntime", "createContainer"] {
        ensure!(
            after_create.contains(&h.to_string()),
            "{h} did not run during create: {after_create:?}"
        );
    }
    ensure!(
        !after_create
            .iter()
            .any(|n| n == "poststart" || n == "poststop"),
        "hooks ran too early: {after_create:?}"
    );
    let pos = |v: &[String], n: &str| v.iter().position(|x| x == n);
    ensure!(
        pos(&after_create, "createRuntime") < pos(&after_create, "createContainer"),
        "createRuntime must precede createContainer: {after_create:?}"
    );
    c.rt(&["start", &id]).ok("start")?;
    c.rt(&["kill", &id, "KILL"]).ok("kill")?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    c.rt(&["delete", &id]).ok("delete")?;
    let all = names(&log);
    let want = ["createRuntime", "createContainer", "poststart", "poststop"];
    let got: Vec<&String> = all.iter().filter(|n| want.contains(&n.as_str())).collect();
    ensure!(
        got == want
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>(),
        "hook order {all:?}"
    );
    Ok(())
}

fn hooks_state(c: &Ctx) -> R {
    let (b, log) = all_hooks(c);
    let id = c.started(&b)?;
    c.rt(&["kill", &id, "KILL"]).ok("kill")?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    c.rt(&["delete", &id]).ok("delete")?;
    let lines = hook_lines(&log);
    ensure!(lines.len() >= 5, "hooks ran: {lines:?}");
    for (n, s) in &lines {
        ensure!(
            s["id"] == id.as_str(),
            "{n}: state on stdin lacks the id: {s}"
        );
        ensure!(s["ociVersion"].is_string(), "{n}: no ociVersion: {s}");
        ensure!(
            s["bundle"]
                .as_str()
                .map(|p| fs::canonicalize(p).ok() == fs::canonicalize(&b.dir).ok())
                .unwrap_or(false),
            "{n}: bundle: {s}"
        );
        ensure!(s["status"].is_string(), "{n}: no status: {s}");
        if n != "poststop" {
            ensure!(s["pid"].as_i64().unwrap_or(0) > 0, "{n}: no pid: {s}");
        }
    }
    let st = |n: &str| {
        lines
            .iter()
            .find(|(x, _)| x == n)
            .map(|(_, s)| s["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    ensure!(
        st("createRuntime") == "creating",
        "createRuntime sees status {:?}, want creating",
        st("createRuntime")
    );
    ensure!(
        st("poststop") == "stopped",
        "poststop sees status {:?}, want stopped",
        st("poststop")
    );
    Ok(())
}

fn hooks_args_env(c: &Ctx) -> R {
    let mut b = c.bundle();
    let log = b.dir.join("hook.out");
    b.args(&["true"]);
    b.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["hookname", "-c", format!("echo \"$0 $1 $OCI_HOOK_VAR\" > {}", log.display()), "zero", "first"],
        "env": ["OCI_HOOK_VAR=from-env"],
    }]});
    let _id = c.created(&b)?;
    let got = fs::read_to_string(&log).unwrap_or_default();
    ensure!(got.trim() == "zero first from-env", "hook saw {got:?}");
    Ok(())
}

fn hooks_prestart(c: &Ctx) -> R {
    let mut b = c.bundle();
    let log = b.dir.join("hooks.log");
    b.args(&["sleep", "30"]);
    b.config["hooks"] = json!({"prestart": [hook("prestart", &log)]});
    let _id = c.created(&b)?;
    ensure!(
        hook_lines(&log).iter().any(|(n, _)| n == "prestart"),
        "prestart did not run during create"
    );
    Ok(())
}

fn hooks_poststart_after_start(c: &Ctx) -> R {
    let mut b = c.bundle();
    let log = b.dir.join("hooks.log");
    b.args(&["sleep", "30"]);
    b.config["hooks"] = json!({"poststart": [hook("poststart", &log)]});
    let id = c.created(&b)?;
    ensure!(hook_lines(&log).is_empty(), "poststart ran during create");
    c.rt(&["start", &id]).ok("start")?;
    let l = hook_lines(&log);
    ensure!(
        l.len() == 1,
        "poststart did not run once after start: {l:?}"
    );
    Ok(())
}

fn hooks_create_fail(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    let (id, o) = c.create(&b, &[]);
    ensure!(
        o.code != 0,
        "create with a failing createRuntime hook succeeded"
    );
    ensure!(
        c.rt(&["state", &id]).code != 0,
        "a container exists after the failed create"
    );
    Ok(())
}

fn hooks_poststop_fail(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    b.config["hooks"] = json!({"poststop": [{"path": "/bin/false"}]});
    let id = c.started(&b)?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    let _ = c.rt(&["delete", &id]);
    ensure!(
        c.rt(&["state", &id]).code != 0,
        "a failing poststop hook kept the container from being deleted"
    );
    Ok(())
}

fn hooks_timeout(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    b.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    let (_id, o) = c.create(&b, &[]);
    ensure!(o.code != 0, "a hook over its timeout did not fail create");
    ensure!(
        o.took < Duration::from_secs(10),
        "create took {:?} with a 1s hook timeout",
        o.took
    );
    Ok(())
}

fn hooks_start_container(c: &Ctx) -> R {
    // startContainer runs in the container's namespaces: its path and files are the rootfs's.
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "hostname > /tmp/start-hook"]}]});
    let id = c.created(&b)?;
    ensure!(
        !b.rootfs().join("tmp/start-hook").exists(),
        "startContainer ran during create"
    );
    c.rt(&["start", &id]).ok("start")?;
    let s = c.wait_file(&b.rootfs().join("tmp/start-hook"), Duration::from_secs(10))?;
    ensure!(
        s.trim() == "oci-conformance",
        "startContainer hook did not run in the container's UTS namespace: {s:?}"
    );
    Ok(())
}

fn hooks_prestart_fail(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.sh("echo ran > /ran; sleep 30");
    b.config["hooks"] = json!({"prestart": [{"path": "/bin/false"}]});
    let (id, o) = c.create(&b, &[]);
    ensure!(o.code != 0, "create with a failing prestart hook succeeded");
    ensure!(
        c.rt(&["state", &id]).code != 0,
        "a container exists after the failed create"
    );
    ensure!(!b.rootfs().join("ran").exists(), "the process ran");
    Ok(())
}

fn hooks_poststart_fail(c: &Ctx) -> R {
    // runtime.md: a failing poststart hook is logged as a warning; the lifecycle continues.
    let mut b = c.bundle();
    b.sh("echo ran > /ran; sleep 30");
    b.config["hooks"] = json!({"poststart": [{"path": "/bin/false"}]});
    let id = c.created(&b)?;
    let o = c.rt(&["start", &id]);
    ensure!(
        o.code == 0,
        "start failed because of a poststart hook: {}",
        o.stderr.trim()
    );
    c.wait_file(&b.rootfs().join("ran"), Duration::from_secs(10))?;
    ensure!(c.status(&id) == "running", "status {}", c.status(&id));
    Ok(())
}

fn config_changes_ignored(c: &Ctx) -> R {
    // Changing config.json after create does not change the container.
    let mut b = c.bundle();
    b.sh("echo first > /which; sleep 30");
    let id = c.created(&b)?;
    b.sh("echo second > /which; sleep 30");
    b.write();
    c.rt(&["start", &id]).ok("start")?;
    let s = c.wait_file(&b.rootfs().join("which"), Duration::from_secs(10))?;
    ensure!(
        s.trim() == "first",
        "the edited config.json was used: {s:?}"
    );
    Ok(())
}

fn state_stopped(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    let id = c.started(&b)?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    let s = c.state(&id)?;
    ensure!(
        s["id"] == id.as_str() && s["bundle"].is_string(),
        "state of a stopped container: {s}"
    );
    Ok(())
}

fn create_invalid_json(c: &Ctx) -> R {
    let b = c.bundle();
    fs::write(b.dir.join("config.json"), "{ this is not json").map_err(|e| e.to_string())?;
    let id = c.id();
    let o = c.rt(&["create", "--bundle", b.dir.to_str().unwrap_or(""), &id]);
    ensure!(o.code != 0, "create with a malformed config.json succeeded");
    ensure!(
        c.rt(&["state", &id]).code != 0,
        "a container exists after the failed create"
    );
    Ok(())
}

fn create_missing_bundle(c: &Ctx) -> R {
    let id = c.id();
    let dir = c.work.join("no-such-bundle");
    let o = c.rt(&["create", "--bundle", dir.to_str().unwrap_or(""), &id]);
    ensure!(o.code != 0, "create with a missing bundle succeeded");
    Ok(())
}

fn delete_leaves_nothing(c: &Ctx) -> R {
    // After delete: no state, no cgroups, no process, no mount of the rootfs on the host.
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.started(&b)?;
    let pid = c.pid(&id)?;
    let cgs: Vec<_> = ["memory", "pids", "cpu", "devices", "freezer", ""]
        .iter()
        .filter_map(|k| crate::rt::cgroup_dir(pid, k))
        .collect();
    c.rt(&["kill", &id, "KILL"]).ok("kill")?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    c.rt(&["delete", &id]).ok("delete")?;
    let mut left = vec![];
    if c.rt.root.join(&id).exists() {
        left.push(format!("state dir {}", c.rt.root.join(&id).display()));
    }
    left.extend(
        cgs.iter()
            .filter(|d| d.exists())
            .map(|d| format!("cgroup {}", d.display())),
    );
    let rootfs = b.rootfs().to_string_lossy().to_string();
    left.extend(
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&rootfs))
            .map(String::from),
    );
    if crate::cases::runc::alive(pid) {
        left.push(format!("process {pid}"));
    }
    ensure!(left.is_empty(), "left behind: {left:?}");
    Ok(())
}

fn hooks_create_container_ns(c: &Ctx) -> R {
    let mut b = c.bundle();
    let log = b.dir.join("cc.log");
    b.args(&["sleep", "30"]);
    b.config["hooks"] = json!({"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c",
        format!("echo $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/uts) $(readlink /proc/self/ns/net) > {}", log.display())]}]});
    let id = c.created(&b)?;
    let pid = c.pid(&id)?;
    let got = fs::read_to_string(&log).map_err(|e| format!("hook log: {e}"))?;
    let want: Vec<String> = ["mnt", "uts", "net"]
        .iter()
        .map(|n| {
            fs::read_link(format!("/proc/{pid}/ns/{n}"))
                .map(|x| x.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    ensure!(
        got.split_whitespace().collect::<Vec<_>>()
            == want.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "createContainer ran in {got:?}, container has {want:?}"
    );
    Ok(())
}

fn hooks_create_runtime_ns(c: &Ctx) -> R {
    let mut b = c.bundle();
    let log = b.dir.join("cr.log");
    b.args(&["sleep", "30"]);
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c",
        format!("echo $(readlink /proc/self/ns/uts) $(readlink /proc/self/ns/net) > {}", log.display())]}]});
    let _id = c.created(&b)?;
    let got = fs::read_to_string(&log).map_err(|e| format!("hook log: {e}"))?;
    let want = format!(
        "{} {}",
        crate::rt::host_ns("uts"),
        crate::rt::host_ns("net")
    );
    ensure!(
        got.trim() == want,
        "createRuntime ran in {got:?}, runtime has {want:?}"
    );
    Ok(())
}

fn delete_keeps_joined(c: &Ctx) -> R {
    // Deleting a container that joined another's namespaces deletes only what it created.
    let mut a = c.bundle();
    a.args(&["sleep", "60"]);
    let ida = c.started(&a)?;
    let pa = c.pid(&ida)?;
    let net = fs::read_link(format!("/proc/{pa}/ns/net")).map_err(|e| e.to_string())?;
    let mut b = c.bundle();
    b.args(&["true"]);
    b.add_ns("network", Some(&format!("/proc/{pa}/ns/net")));
    b.add_ns("ipc", Some(&format!("/proc/{pa}/ns/ipc")));
    let idb = c.started(&b)?;
    c.wait_status(&idb, "stopped", Duration::from_secs(10))?;
    c.rt(&["delete", &idb]).ok("delete")?;
    ensure!(
        c.status(&ida) == "running",
        "the namespace owner is {}",
        c.status(&ida)
    );
    ensure!(
        fs::read_link(format!("/proc/{pa}/ns/net")).ok() == Some(net),
        "the owner's netns changed"
    );
    Ok(())
}

fn create_invalid_id(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    b.write();
    for id in ["../escape", "a/b", ".."] {
        let o = c.rt(&["create", "--bundle", b.dir.to_str().unwrap_or(""), id]);
        if o.code == 0 {
            let _ = c.rt(&["delete", "--force", id]);
            return Err(format!("create accepted the id {id:?}").into());
        }
    }
    ensure!(
        !c.rt
            .root
            .parent()
            .map(|p| p.join("escape").exists())
            .unwrap_or(false),
        "state written outside the root"
    );
    Ok(())
}

fn state_outside_kill(c: &Ctx) -> R {
    // The process dies without the runtime's help: state must say stopped, delete must work.
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.started(&b)?;
    let pid = c.pid(&id)?;
    // SAFETY: kill(2) on a pid we just read from state; at worst ESRCH.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    c.rt(&["delete", &id]).ok("delete")?;
    Ok(())
}
