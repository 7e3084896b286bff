//! hull killed half-way, and many short runs in a row and in parallel: nothing hangs, every
//! exit code comes back, and nothing is left on the host.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A tiny xorshift generator; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("HULL_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("random seed {seed} (set HULL_TEST_SEED to replay)");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A bundle whose create is slow: many tmpfs mounts for init to set up.
fn slow_bundle(env: &Env, mounts: usize) -> Bundle {
    let b = env.bundle();
    b.args(&["sleep", "1000"]).edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        for i in 0..mounts {
            m.push(json!({"destination": format!("/mnt/m{i}"), "type": "tmpfs",
                "source": "tmpfs", "options": ["size=4k"]}));
        }
    });
    b
}

/// After `delete --force`, wait a little for processes that exit on their own (an orphaned
/// init notices its parent is gone), then require that nothing at all is left.
#[track_caller]
fn assert_clean_soon(env: &Env, id: &str, b: &Bundle, what: &str) {
    let mut problems = Vec::new();
    let clean = wait_until(Duration::from_secs(3), || {
        problems = leftovers(&env.root, id, &b.rootfs());
        problems.is_empty()
    });
    assert!(
        clean,
        "{what}: container {id} left things behind after delete --force:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn sigkill_of_hull_during_create_then_delete_force() {
    let env = Env::new("kill_create");
    let b = slow_bundle(&env, 400);
    // How long does a whole create take here?
    let id = env.id("probe");
    let t = Instant::now();
    env.create(&b, &id).ok();
    let full = t.elapsed();
    env.hull(&["delete", "--force", &id]).ok();
    env.assert_clean(&id, &b);
    eprintln!("create with 400 mounts takes {full:?}");

    let mut rng = Rng::new();
    let span = full.as_micros() as u64 + 1;
    let rounds = 60;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..rounds {
        // Half the kills land in the first 12 ms (hull starting, state dir, cgroups, clone),
        // the other half spread over the whole create.
        let delay = if i % 2 == 0 {
            rng.below(12_000)
        } else {
            span * i / rounds + rng.below(span / 30 + 1)
        };
        let id = env.id("k");
        let (mut child, _o, _e) = env.spawn(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill(); // SIGKILL
        let st = wait_timeout(child, Duration::from_secs(10), "killed hull create");
        let code = status_code(st);
        let state = env.hull(&["state", &id]);
        let seen = if code == 0 {
            "finished".to_string()
        } else if state.code == 0 {
            format!("killed, state {}", state.json()["status"])
        } else {
            "killed, no state".to_string()
        };
        *outcomes.entry(seen.clone()).or_default() += 1;
        let del = env.hull(&["delete", "--force", &id]);
        assert_eq!(
            del.code, 0,
            "round {i} (delay {delay}us, {seen}): delete --force failed: {del:?}"
        );
        assert_clean_soon(&env, &id, &b, &format!("round {i} delay {delay}us {seen}"));
        env.hull(&["state", &id]).fails_with(1, &["does not exist"]);
    }
    eprintln!("outcomes: {outcomes:?}");
    assert!(
        outcomes.keys().any(|k| k.starts_with("killed")),
        "no round killed hull before create finished: {outcomes:?}"
    );
}

#[test]
fn sigkill_of_hull_run_then_delete_force() {
    // A foreground `run` killed at any point: the container may be left running, but
    // delete --force removes every trace of it.
    let env = Env::new("kill_run");
    let b = slow_bundle(&env, 200);
    let mut rng = Rng::new();
    for i in 0..15u64 {
        let delay = i * 4000 + rng.below(4000);
        let id = env.id("r");
        let (mut child, _o, _e) = env.spawn(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        wait_timeout(child, Duration::from_secs(10), "killed hull run");
        let del = env.hull(&["delete", "--force", &id]);
        assert_eq!(del.code, 0, "round {i} (delay {delay}us): {del:?}");
        assert_clean_soon(&env, &id, &b, &format!("round {i} delay {delay}us"));
    }
}

/// `run` of a process that exits at once, `n` times, `par` at a time; every run must return
/// `code` within the per-run timeout.
fn many_runs(name: &str, rounds: usize, programs: &[(&[&str], i32)]) {
    let env = Env::new(name);
    let bundles: Vec<(Bundle, i32)> = programs
        .iter()
        .map(|(args, code)| {
            let b = env.bundle();
            b.args(args);
            (b, *code)
        })
        .collect();
    let per_run = Duration::from_secs(10);
    let prefix = format!("{}-", env.name.replace('_', "-"));
    let t = Instant::now();
    let mut slowest = Duration::ZERO;
    for round in 0..rounds {
        let started = Instant::now();
        let runs: Vec<_> = bundles
            .iter()
            .map(|(b, code)| {
                // Not registered with env.id(): each run deletes its own container, and a
                // failure is caught below; ids stay unique per round.
                let id = format!("{prefix}{round}-{code}-{}", std::process::id());
                let (child, o, e) = env.spawn(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
                (child, o, e, id, *code)
            })
            .collect();
        for (child, o, e, id, code) in runs {
            let st = wait_timeout(child, per_run, &format!("round {round}: hull run {id}"));
            let got = status_code(st);
            if got != code {
                panic!(
                    "round {round}: run {id} returned {got}, want {code}; stdout {:?} stderr {:?}",
                    fs::read_to_string(&o).unwrap_or_default(),
                    fs::read_to_string(&e).unwrap_or_default()
                );
            }
            let _ = fs::remove_file(o);
            let _ = fs::remove_file(e);
        }
        slowest = slowest.max(started.elapsed());
    }
    let total = t.elapsed();
    eprintln!(
        "{name}: {rounds} rounds of {} run(s) in {total:?} ({:?} per round, slowest {slowest:?})",
        bundles.len(),
        total / rounds as u32
    );
    // Nothing left: no state, no cgroup, no process.
    let left: Vec<_> = fs::read_dir(&env.root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "state dirs left: {left:?}");
    let cg = cgroup_dirs_with_prefix(&prefix);
    assert!(cg.is_empty(), "cgroups left: {cg:?}");
    for (b, _) in &bundles {
        assert!(processes_in(&b.rootfs()).is_empty());
        assert!(host_mounts_of(&b.rootfs()).is_empty());
    }
}

#[test]
fn run_true_500_times_in_a_row() {
    many_runs("seq500", 500, &[(&["/bin/true"], 0)]);
}

#[test]
fn run_two_at_a_time_250_pairs() {
    // One of each pair fails on purpose: each run returns its own process's code.
    many_runs("par250", 250, &[(&["/bin/true"], 0), (&["/bin/false"], 1)]);
}
