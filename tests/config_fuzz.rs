//! Randomized config.json for the loader and validator (a bounded, dependency-free fuzz run
//! that CI can afford): mutations of a valid config — values swapped for other JSON types,
//! keys dropped, strings replaced by hostile ones, arrays emptied or grown — must each end in
//! a parse/validation result or a clear error, never a panic, and no error may be empty.
//! The same inputs then go through `hull create`, which must exit 0 or 1 (never crash) and
//! leave nothing behind when it fails. The coverage-guided counterpart of the first test is
//! fuzz/fuzz_targets/config.rs (`scripts/fuzz.sh`).

mod common;

use common::*;
use serde_json::{json, Value};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: reproducible from the printed seed.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const HOSTILE: &[&str] = &[
    "",
    "/",
    "..",
    "../../../../etc/passwd",
    "/proc/self/fd/3",
    "\u{0}",
    "a\u{0}b",
    "🦀",
    "-1",
    "18446744073709551616",
    "/dev/null",
    "//",
    "/proc",
    "CAP_NOPE",
    "SCMP_ACT_NOPE",
    "rw,bind",
];

fn random_value(r: &mut Rng) -> Value {
    match r.below(9) {
        0 => Value::Null,
        1 => json!(r.below(2) == 0),
        2 => json!(r.next() as i64),
        3 => json!(-(r.below(1000) as i64)),
        4 => json!(r.next() as f64 / 3.0),
        5 => json!(HOSTILE[r.below(HOSTILE.len())]),
        6 => json!([]),
        7 => json!({}),
        _ => json!([HOSTILE[r.below(HOSTILE.len())], r.below(100)]),
    }
}

/// Walk to a random node and change it.
fn mutate(v: &mut Value, r: &mut Rng, depth: usize) {
    let descend = depth < 6 && r.below(3) != 0;
    match v {
        Value::Object(m) if !m.is_empty() => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = keys[r.below(keys.len())].clone();
            if descend {
                mutate(m.get_mut(&k).unwrap(), r, depth + 1);
            } else if r.below(4) == 0 {
                m.remove(&k);
            } else {
                m.insert(k, random_value(r));
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = r.below(a.len());
            if descend {
                mutate(&mut a[i], r, depth + 1);
            } else if r.below(3) == 0 {
                a.remove(i);
            } else if r.below(2) == 0 {
                let dup = a[i].clone();
                a.push(dup);
            } else {
                a[i] = random_value(r);
            }
        }
        other => *other = random_value(r),
    }
}

fn seed() -> u64 {
    std::env::var("HULL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

#[test]
fn loader_and_validator_never_panic() {
    let base: Value = serde_json::to_value(hull::spec::default_spec(false)).unwrap();
    let s = seed();
    eprintln!("config fuzz: seed {s} (HULL_FUZZ_SEED={s} to replay)");
    let mut r = Rng(s);
    let (mut accepted, mut rejected) = (0, 0);
    for _ in 0..20_000 {
        let mut v = base.clone();
        for _ in 0..=r.below(4) {
            mutate(&mut v, &mut r, 0);
        }
        let text = v.to_string();
        let res = std::panic::catch_unwind(|| match hull::spec::parse(text.as_bytes()) {
            Ok(spec) => hull::spec::validate(&spec, true).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        });
        match res {
            Ok(Ok(())) => accepted += 1,
            Ok(Err(e)) => {
                assert!(!e.trim().is_empty(), "empty error for {text}");
                rejected += 1;
            }
            Err(_) => panic!("loader panicked on (seed {s}): {text}"),
        }
    }
    eprintln!("config fuzz: {accepted} accepted, {rejected} rejected with an error, 0 panics");
    assert!(
        rejected > 0 && accepted > 0,
        "the mutations should produce both outcomes"
    );
}

#[test]
fn create_on_mutated_configs_fails_cleanly() {
    let env = Env::new("fuzzcreate");
    let s = seed() ^ 0x9e37_79b9_7f4a_7c15;
    eprintln!("config fuzz (create): seed {s}");
    let mut r = Rng(s);
    for round in 0..40 {
        let b = env.bundle();
        b.edit(|c| {
            c["process"]["args"] = json!(["true"]);
            for _ in 0..=r.below(3) {
                mutate(c, &mut r, 0);
            }
        });
        let id = env.id("f");
        let out = env.hull(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(
            out.code == 0 || out.code == 1,
            "round {round}: hull exited {} (seed {s}): {}",
            out.code,
            out.stderr
        );
        if out.code == 1 {
            assert!(
                !out.stderr.trim().is_empty(),
                "round {round}: failed without a message"
            );
            env.assert_clean(&id, &b);
        } else {
            env.hull(&["delete", "--force", &id]).ok();
        }
    }
}
