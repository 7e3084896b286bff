//! cgroup v1 on this (hybrid) host: each resource set at create is read back from the
//! container's own cgroup files and shown in behaviour (OOM kill reported by `events`, a fork
//! bomb stopped by pids.max, a denied device, CFS throttling), `update`, `pause`/`resume`,
//! bad resource input, and cleanup of every hierarchy. The same checks on cgroup v2 run in a
//! VM (tests/vm_cgroup_v2.rs).

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

fn cgroup_dirs_of(env: &Env, id: &str) -> Vec<PathBuf> {
    let saved: serde_json::Value =
        serde_json::from_slice(&fs::read(env.root.join(id).join("state.json")).unwrap()).unwrap();
    saved["cgroups"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| PathBuf::from(v.as_str().unwrap()))
        .collect()
}

#[test]
fn v1_limits_are_read_back_inside() {
    let env = Env::new("cgv1limits");
    let b = env.bundle();
    b.edit(|c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864, "reservation": 33554432, "swap": 134217728, "swappiness": 10});
        c["linux"]["resources"]["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"});
        c["linux"]["resources"]["pids"] = json!({"limit": 30});
    });
    b.script(
        "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes \
         memory/memory.memsw.limit_in_bytes memory/memory.swappiness cpu/cpu.shares cpu/cpu.cfs_quota_us \
         cpu/cpu.cfs_period_us cpuset/cpuset.cpus pids/pids.max",
    );
    let id = env.id("c");
    let out = env.run(&b, &id);
    out.ok();
    let got: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        got,
        [
            "67108864",
            "33554432",
            "134217728",
            "10",
            "512",
            "50000",
            "100000",
            "0",
            "30"
        ],
        "{out:?}"
    );
    env.assert_clean(&id, &b);
}

#[test]
fn v1_oom_kill_is_reported_by_events() {
    let env = Env::new("cgv1oom");
    let b = env.bundle();
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 16777216, "swap": 16777216}));
    // A child allocates past the limit (no swap here) and is OOM-killed; init lives on: the
    // child volunteers as the victim (oom_score_adj 1000; lowering init's would need
    // CAP_SYS_RESOURCE), or a second OOM pass that runs before
    // the first victim's memory is reaped may pick init and stop the container. The allocation
    // waits for /dev/shm/go so that `events` has taken its baseline count first.
    b.script("while [ ! -e /dev/shm/go ]; do sleep 0.1; done; sh -c 'echo 1000 >/proc/self/oom_score_adj; x=$(head -c 60000000 /dev/zero | tr \"\\0\" a); echo survived ${#x}'; echo child-done; sleep 30");
    let id = env.id("c");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let (child, out, _err) = env.spawn(&["events", "--interval", "200ms", &id]);
    assert!(
        wait_until(Duration::from_secs(20), || fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("\"type\":\"stats\"")),
        "events printed no stats"
    );
    env.hull(&["exec", &id, "touch", "/dev/shm/go"]).ok();
    let seen = wait_until(Duration::from_secs(20), || {
        fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("\"type\":\"oom\"")
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = wait_timeout(child, TIMEOUT, "events");
    let text = fs::read_to_string(&out).unwrap_or_default();
    assert!(
        seen,
        "events reported no oom: {}",
        &text[text.len().saturating_sub(400)..]
    );
    let stats = env.hull(&["events", "--stats", &id]);
    stats.ok();
    let v: serde_json::Value = serde_json::from_str(stats.stdout.trim()).unwrap();
    assert_eq!(v["data"]["memory"]["usage"]["limit"], 16777216, "{v}");
    env.hull(&["delete", "--force", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn v1_pids_max_stops_a_fork_bomb() {
    let env = Env::new("cgv1pids");
    let b = env.bundle();
    b.edit(|c| c["linux"]["resources"]["pids"] = json!({"limit": 20}));
    // The inner shell dies when fork fails; the outer one counts with builtins only.
    b.script("sh -c 'while :; do sleep 5 & done' 2>/dev/null; set -- /proc/[0-9]*; echo $#");
    let id = env.id("c");
    let out = env.run(&b, &id);
    out.ok();
    let n: usize = out
        .stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{out:?}"));
    assert!((2..=20).contains(&n), "{n} processes with pids.max 20");
    env.assert_clean(&id, &b);
}

#[test]
fn v1_device_rules_deny_and_allow() {
    let env = Env::new("cgv1dev");
    let b = env.bundle();
    b.edit(|c| {
        for k in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][k]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        }
        c["root"]["readonly"] = json!(false);
    });
    b.script("mknod /tmp/sda b 8 0 && echo made; head -c 1 /tmp/sda >/dev/null 2>&1 && echo READ || echo denied; head -c 3 /dev/zero | wc -c");
    let id = env.id("c");
    let out = env.run(&b, &id);
    out.ok();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["made", "denied", "3"],
        "{out:?}"
    );
    env.assert_clean(&id, &b);
}

#[test]
fn v1_cpu_quota_throttles() {
    let env = Env::new("cgv1cpu");
    let b = env.bundle();
    b.edit(|c| c["linux"]["resources"]["cpu"] = json!({"quota": 20000, "period": 100000}));
    b.script(
        "timeout 1 sh -c 'while :; do :; done'; grep nr_throttled /sys/fs/cgroup/cpu/cpu.stat",
    );
    let id = env.id("c");
    let out = env.run(&b, &id);
    out.ok();
    let n: u64 = out
        .stdout
        .split_whitespace()
        .last()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(n > 0, "no throttling at 20% of a cpu: {out:?}");
    env.assert_clean(&id, &b);
}

#[test]
fn v1_update_pause_resume_and_cleanup_of_every_hierarchy() {
    let env = Env::new("cgv1upd");
    let b = env.bundle();
    b.script("while :; do date +%s%N > /tmp/tick; sleep 0.05; done");
    b.edit(|c| c["root"]["readonly"] = json!(false));
    let id = env.id("c");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let dirs = cgroup_dirs_of(&env, &id);
    assert!(dirs.len() >= 5, "one directory per hierarchy: {dirs:?}");
    assert!(dirs.iter().all(|d| d.is_dir()), "{dirs:?}");
    env.hull(&["update", "--memory", "32M", "--pids-limit", "9", &id])
        .ok();
    let mem = dirs
        .iter()
        .find(|d| d.join("memory.limit_in_bytes").exists())
        .unwrap();
    assert_eq!(
        fs::read_to_string(mem.join("memory.limit_in_bytes"))
            .unwrap()
            .trim(),
        "33554432"
    );
    let pids = dirs.iter().find(|d| d.join("pids.max").exists()).unwrap();
    assert_eq!(
        fs::read_to_string(pids.join("pids.max")).unwrap().trim(),
        "9"
    );
    env.hull(&["pause", &id]).ok();
    assert_eq!(env.status(&id), "paused");
    let tick = b.rootfs().join("tmp/tick");
    let a = fs::read_to_string(&tick).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        a,
        fs::read_to_string(&tick).unwrap_or_default(),
        "a paused container ran"
    );
    env.hull(&["resume", &id]).ok();
    assert_eq!(env.status(&id), "running");
    assert!(
        wait_until(Duration::from_secs(5), || fs::read_to_string(&tick)
            .unwrap_or_default()
            != a),
        "resumed container is stuck"
    );
    env.hull(&["delete", "--force", &id]).ok();
    for d in &dirs {
        assert!(!d.exists(), "cgroup left behind: {}", d.display());
    }
    env.assert_clean(&id, &b);
}

#[test]
fn v1_bad_resources_are_refused_and_leave_nothing() {
    let env = Env::new("cgv1bad");
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({"unified": {"memory.high": "1000"}}), "unified"),
        (
            json!({"memory": {"limit": -5}}),
            "linux.resources.memory.limit",
        ),
        (
            json!({"cpu": {"shares": 18446744073709551615u64}}),
            "linux.resources.cpu.shares",
        ),
        (json!({"memory": {"swappiness": 200}}), "swappiness"),
    ];
    for (res, needle) in cases {
        let b = env.bundle();
        b.edit(|c| {
            for (k, v) in res.as_object().unwrap() {
                c["linux"]["resources"][k] = v.clone();
            }
        });
        let id = env.id("c");
        env.create(&b, &id).fails_with(1, &[needle]);
        env.assert_clean(&id, &b);
    }
    let b = env.bundle();
    b.edit(|c| c["linux"]["cgroupsPath"] = json!("/hull-test/../escape"));
    let id = env.id("c");
    env.create(&b, &id).fails_with(1, &["cgroupsPath", ".."]);
    env.assert_clean(&id, &b);
}
