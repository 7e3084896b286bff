//! oci-conformance: runs our OCI runtime-spec cases against one or more runtimes and prints a
//! table (case × runtime). See README.md.
mod cases;
mod rt;

use rt::{Base, Ctx, Fail, Runtime};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One case: named after the spec section it checks ("runtime.md/…", "config-linux.md/…"), or
/// after runc's behaviour ("runc/…") where the spec says nothing.
pub struct Case {
    pub name: &'static str,
    pub f: fn(&Ctx) -> rt::R,
    /// Set where we follow runc against the letter of the spec (a deliberate deviation).
    pub deviation: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq)]
enum Res {
    Pass,
    Fail(String),
    Skip(String),
}

const USAGE: &str =
    "usage: oci-conformance --runtime BIN [--runtime [NAME=]BIN ...] [--filter PATTERN]...
       [--expected-failures FILE] [--check NAME] [--work DIR] [--list] [--verbose] [--serial]
  --runtime      a runtime binary (runc-compatible CLI); NAME defaults to its file name.
                 crun on a hybrid-cgroup host runs in a private mount namespace without
                 /sys/fs/cgroup/unified (crun 1.8 refuses such hosts otherwise).
  --filter       run only cases whose name contains PATTERN (repeatable: any matches)
  --check        the runtime whose failures decide the exit code (default: hull if given)
  --expected-failures  cases the checked runtime is known to fail (see expected-failures.txt)";

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    let (mut runtimes, mut filters, mut expected, mut check, mut work) =
        (vec![], vec![], None, None, None);
    let (mut list, mut verbose, mut serial) = (false, false, false);
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned();
        let need = |v: Option<String>| {
            v.unwrap_or_else(|| {
                eprintln!("{USAGE}");
                std::process::exit(2)
            })
        };
        match args[i].as_str() {
            "--runtime" | "-r" => {
                runtimes.push(need(v));
                i += 1;
            }
            "--filter" | "-f" => {
                filters.push(need(v));
                i += 1;
            }
            "--expected-failures" => {
                expected = Some(PathBuf::from(need(v)));
                i += 1;
            }
            "--check" => {
                check = Some(need(v));
                i += 1;
            }
            "--work" => {
                work = Some(PathBuf::from(need(v)));
                i += 1;
            }
            "--list" => list = true,
            "--verbose" | "-v" => verbose = true,
            "--serial" => serial = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            o => {
                eprintln!("unknown argument {o:?}\n{USAGE}");
                return 2;
            }
        }
        i += 1;
    }
    let all = cases::all();
    let selected: Vec<&Case> = all
        .iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.name.contains(f.as_str())))
        .collect();
    if list {
        for c in &selected {
            println!(
                "{}{}",
                c.name,
                c.deviation
                    .map(|d| format!("  [deviation: {d}]"))
                    .unwrap_or_default()
            );
        }
        return 0;
    }
    if runtimes.is_empty() {
        eprintln!("{USAGE}");
        return 2;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("oci-conformance: run as root (cases create real containers)");
        return 2;
    }
    let work = work
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/oci-conformance-{}", std::process::id())));
    let _ = fs::create_dir_all(&work);
    // Bundles live on a shared mount, so rootfsPropagation shared/slave have a peer group to
    // join (this host's / is private).
    let ws = work.to_string_lossy();
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mount --bind {ws} {ws} && mount --make-shared {ws}"
        ))
        .status();
    // OCI_PROBE overrides the probe (e.g. a static build: `cargo rustc -p oci-conformance
    // --bin oci-probe -- -C target-feature=+crt-static`); a dynamic one brings its libraries.
    let probe = match std::env::var_os("OCI_PROBE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(|d| d.join("oci-probe")))
        }) {
        Some(p) if p.exists() => p,
        _ => {
            eprintln!("oci-conformance: oci-probe not found next to this binary (cargo build -p oci-conformance)");
            return 2;
        }
    };
    let base = match Base::build(&work.join("base"), &probe) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("oci-conformance: building the base rootfs: {e}");
            return 2;
        }
    };
    let mut crun_ns: Option<CrunNs> = None;
    let mut rts = vec![];
    for spec in &runtimes {
        let (name, bin) = match spec.split_once('=') {
            Some((n, b)) => (n.to_string(), b.to_string()),
            None => (
                Path::new(spec)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or(spec.clone()),
                spec.clone(),
            ),
        };
        let bin = resolve(&bin);
        let mut argv = vec![bin.clone()];
        if name.contains("crun") && is_hybrid() {
            if crun_ns.is_none() {
                match CrunNs::new(&work) {
                    Ok(n) => crun_ns = Some(n),
                    Err(e) => {
                        eprintln!("oci-conformance: crun namespace: {e}");
                        return 2;
                    }
                }
            }
            let ns = crun_ns
                .as_ref()
                .map(|n| n.file.to_string_lossy().into_owned())
                .unwrap_or_default();
            argv = vec!["nsenter".into(), format!("--mount={ns}"), "--".into(), bin];
        }
        let root = work.join(format!("state-{name}"));
        let _ = fs::create_dir_all(&root);
        rts.push(Runtime { name, argv, root });
    }
    cleanup_on_signal(rts.clone(), work.clone());
    let started = Instant::now();
    eprintln!(
        "oci-conformance: {} cases x {} runtimes ({})",
        selected.len(),
        rts.len(),
        rts.iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // One thread per runtime; each runs the cases in order.
    let results: Vec<Vec<(Res, Duration)>> = std::thread::scope(|s| {
        let hs: Vec<_> = rts
            .iter()
            .map(|r| {
                let (sel, base, work) = (&selected, &base, &work);
                let run = move || {
                    let mut out = vec![];
                    for (k, c) in sel.iter().enumerate() {
                        let t = Instant::now();
                        let ctx = Ctx::new(r, base, work.join(format!("{}-{k}", r.name)));
                        let res =
                            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                (c.f)(&ctx)
                            })) {
                                Ok(Ok(())) => Res::Pass,
                                Ok(Err(Fail::Fail(m))) => Res::Fail(m),
                                Ok(Err(Fail::Skip(m))) => Res::Skip(m),
                                Err(p) => Res::Fail(format!(
                                    "panic: {:?}",
                                    p.downcast_ref::<String>()
                                        .cloned()
                                        .or(p.downcast_ref::<&str>().map(|s| s.to_string()))
                                )),
                            };
                        drop(ctx);
                        if verbose {
                            eprintln!(
                                "[{}] {} {:?} ({:.1}s)",
                                r.name,
                                c.name,
                                res,
                                t.elapsed().as_secs_f64()
                            );
                        }
                        out.push((res, t.elapsed()));
                    }
                    out
                };
                if serial { None } else { Some(s.spawn(run)) }
                    .map(Ok)
                    .unwrap_or_else(|| Err(run()))
            })
            .collect();
        hs.into_iter()
            .map(|h| match h {
                Ok(h) => h.join().unwrap_or_default(),
                Err(v) => v,
            })
            .collect()
    });
    drop(crun_ns);
    // The table.
    let w = selected
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut hdr = format!("{:w$}", "case");
    for r in &rts {
        hdr.push_str(&format!("  {:>6}", r.name));
    }
    println!("{hdr}");
    let cell = |r: &Res| match r {
        Res::Pass => "pass",
        Res::Fail(_) => "FAIL",
        Res::Skip(_) => "skip",
    };
    for (k, c) in selected.iter().enumerate() {
        let mut line = format!("{:w$}", c.name);
        for (j, _) in rts.iter().enumerate() {
            line.push_str(&format!("  {:>6}", cell(&results[j][k].0)));
        }
        if c.deviation.is_some() {
            line.push_str("  (deviation: follows runc)");
        }
        println!("{line}");
    }
    // Per-area summary: the area is the name up to the second '/'.
    println!();
    let mut areas: BTreeMap<String, Vec<Vec<u32>>> = BTreeMap::new();
    for (k, c) in selected.iter().enumerate() {
        let area = c.name.splitn(3, '/').take(2).collect::<Vec<_>>().join("/");
        let e = areas
            .entry(area)
            .or_insert_with(|| vec![vec![0; 3]; rts.len()]);
        for j in 0..rts.len() {
            let i = match results[j][k].0 {
                Res::Pass => 0,
                Res::Fail(_) => 1,
                Res::Skip(_) => 2,
            };
            e[j][i] += 1;
        }
    }
    let aw = areas.keys().map(|a| a.len()).max().unwrap_or(4).max(4);
    let mut hdr = format!("{:aw$}", "area (pass/fail/skip)");
    for r in &rts {
        hdr.push_str(&format!("  {:>10}", r.name));
    }
    println!("{hdr}");
    let mut totals = vec![vec![0; 3]; rts.len()];
    for (a, v) in &areas {
        let mut line = format!("{a:aw$}");
        for (j, c) in v.iter().enumerate() {
            line.push_str(&format!("  {:>10}", format!("{}/{}/{}", c[0], c[1], c[2])));
            for i in 0..3 {
                totals[j][i] += c[i];
            }
        }
        println!("{line}");
    }
    let mut line = format!("{:aw$}", "TOTAL");
    for c in &totals {
        line.push_str(&format!("  {:>10}", format!("{}/{}/{}", c[0], c[1], c[2])));
    }
    println!("{line}");
    // Failure details.
    println!();
    for (j, r) in rts.iter().enumerate() {
        for (k, c) in selected.iter().enumerate() {
            match &results[j][k].0 {
                Res::Fail(m) => println!("[{}] FAIL {}: {}", r.name, c.name, rt::short(m)),
                Res::Skip(m) if verbose => println!("[{}] skip {}: {}", r.name, c.name, m),
                _ => {}
            }
        }
    }
    println!("\nsuite took {:.1}s", started.elapsed().as_secs_f64());
    rt::umount_under(&work);
    let _ = Command::new("umount").arg("-l").arg(&work).status();
    let _ = fs::remove_dir_all(&work);
    // The verdict for the checked runtime.
    let check = check.or_else(|| {
        rts.iter()
            .find(|r| r.name == "hull")
            .map(|r| r.name.clone())
    });
    let Some(check) = check else { return 0 };
    let Some(j) = rts.iter().position(|r| r.name == check) else {
        eprintln!("--check {check}: no such runtime");
        return 2;
    };
    let known: Vec<String> = expected
        .and_then(|p| fs::read_to_string(p).ok())
        .map(|s| {
            s.lines()
                .filter(|l| {
                    !l.trim().is_empty()
                        && !l.starts_with('#')
                        && !l.starts_with(char::is_whitespace)
                })
                .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut bad = 0;
    for (k, c) in selected.iter().enumerate() {
        let listed = known.iter().any(|n| n == c.name);
        match (&results[j][k].0, listed) {
            (Res::Fail(_), false) => {
                println!("{check}: UNEXPECTED FAILURE {}", c.name);
                bad += 1;
            }
            (Res::Pass, true) => println!(
                "{check}: {} passes now: remove it from the expected failures",
                c.name
            ),
            _ => {}
        }
    }
    if bad > 0 {
        println!("{check}: {bad} unexpected failure(s)");
        1
    } else {
        println!("{check}: no unexpected failures");
        0
    }
}

static SIGNALLED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, std::sync::atomic::Ordering::SeqCst);
}

/// On SIGINT/SIGTERM (a CI timeout, ^C): delete every container of every runtime, unmount the
/// work dir and exit, so nothing is left running on the host.
fn cleanup_on_signal(rts: Vec<Runtime>, work: PathBuf) {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        let sig = SIGNALLED.load(std::sync::atomic::Ordering::SeqCst);
        if sig == 0 {
            continue;
        }
        eprintln!("oci-conformance: signal {sig}: deleting containers and exiting");
        rt::STOP.store(true, std::sync::atomic::Ordering::SeqCst);
        // Let a runtime command already under way finish (it is bounded by its timeout).
        std::thread::sleep(Duration::from_millis(500));
        for r in &rts {
            let ids: Vec<String> = fs::read_dir(&r.root)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            for id in ids {
                let _ = Command::new(&r.argv[0])
                    .args(&r.argv[1..])
                    .arg("--root")
                    .arg(&r.root)
                    .args(["delete", "--force", &id])
                    .output();
            }
        }
        rt::umount_under(&work);
        let _ = Command::new("umount").arg("-l").arg(&work).status();
        let _ = fs::remove_dir_all(&work);
        std::process::exit(130);
    });
}

fn resolve(bin: &str) -> String {
    if bin.contains('/') {
        return fs::canonicalize(bin)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or(bin.to_string());
    }
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(bin))
        .find(|p| p.exists())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or(bin.to_string())
}

/// Is cgroup2 mounted at /sys/fs/cgroup/unified next to v1 hierarchies?
fn is_hybrid() -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup/unified") && l.contains(" - cgroup2 "))
}

/// A persistent mount namespace without /sys/fs/cgroup/unified, shared by every crun
/// invocation (create, start, kill, delete of one container must all see the same cgroup
/// layout). It is a slave of the host's, so mounts made later on the host still show up.
struct CrunNs {
    dir: PathBuf,
    file: PathBuf,
}

impl CrunNs {
    fn new(work: &Path) -> Result<CrunNs, String> {
        let dir = work.join("crun-ns");
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let sh = |s: &str| -> Result<(), String> {
            let o = Command::new("sh")
                .arg("-c")
                .arg(s)
                .output()
                .map_err(|e| e.to_string())?;
            if o.status.success() {
                Ok(())
            } else {
                Err(format!("{s}: {}", String::from_utf8_lossy(&o.stderr)))
            }
        };
        let d = dir.to_string_lossy();
        sh(&format!(
            "mount --bind {d} {d} && mount --make-private {d} && touch {d}/mnt"
        ))?;
        let file = dir.join("mnt");
        sh(&format!(
            "unshare --mount={d}/mnt --propagation slave umount /sys/fs/cgroup/unified"
        ))?;
        Ok(CrunNs { dir, file })
    }
}

impl Drop for CrunNs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.file).status();
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
