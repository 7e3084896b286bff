//! Benchmark, in one run: (1) unpacking a 5-layer 200 MiB image: `dock create` (unpack into
//! snapshots + overlay mount + bundle) vs `umoci unpack` of the same image; (2) `dock run --rm
//! busybox true` vs `podman run --rm --runtime runc busybox true` (both without a network).
//! Medians of RUNS runs and the ratios. Run through `bench/dock-run.sh` (root).

#[path = "../tests/common/mod.rs"]
mod common;

use common::TempDir;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rng_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut x = seed | 1;
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Half random, half text-like: compresses about 2:1, as real layers do.
        let b = if i % 2 == 0 {
            x.to_le_bytes()
        } else {
            *b"layer-da"
        };
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    out
}

/// One layer: `files` files of `size` bytes in a few directories, plus a symlink per file.
fn layer_tar(seed: u64, files: usize, size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut b = tar::Builder::new(&mut out);
        for i in 0..files {
            let data = rng_bytes(seed * 1000 + i as u64, size);
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, format!("l{seed}/d{}/f{i}", i % 16), &data[..])
                .unwrap();
            let mut l = tar::Header::new_gnu();
            l.set_entry_type(tar::EntryType::Symlink);
            l.set_size(0);
            l.set_mode(0o777);
            b.append_link(&mut l, format!("l{seed}/d{}/s{i}", i % 16), format!("f{i}"))
                .unwrap();
        }
        b.finish().unwrap();
    }
    out
}

fn time(mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ok(c: &mut Command) {
    let out = c.stdout(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn main() {
    let dock = std::env::var("DOCK_BIN").unwrap_or_else(|_| "target/release/dock".into());
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let root = TempDir::new("bench-run");
    let r = root.path().to_str().unwrap().to_string();
    let store = dock::store::Store::open(root.path()).unwrap();

    // (1) unpack.
    eprintln!("building a 5-layer 200 MiB image (1 MiB files) ...");
    let layers: Vec<Vec<u8>> = (0..5).map(|i| layer_tar(i, 40, 1 << 20)).collect();
    dock::import::store_image(
        &store,
        "docker.io/library/big:latest",
        &layers,
        serde_json::json!({"Cmd": ["true"]}),
    )
    .unwrap();
    dock::import::busybox(&store, std::path::Path::new(dock::import::BUSYBOX)).unwrap();
    let layout = TempDir::new("bench-umoci-layout");
    let lp = layout.path().join("oci");
    ok(Command::new("skopeo").args([
        "copy",
        "-q",
        &format!("oci:{r}:docker.io/library/big:latest"),
        &format!("oci:{}:big", lp.display()),
    ]));
    let (mut dock_unpack, mut umoci_unpack) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(root.path().join("snapshots"));
        let mut id = String::new();
        dock_unpack.push(time(|| {
            let out = Command::new(&dock)
                .args(["--root", &r, "create", "big"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }));
        ok(Command::new(&dock).args(["--root", &r, "rm", &id]));
        let b = TempDir::new("bench-umoci-bundle");
        let bundle = b.path().join("bundle");
        umoci_unpack.push(time(|| {
            ok(Command::new("umoci").args([
                "unpack",
                "--image",
                &format!("{}:big", lp.display()),
                bundle.to_str().unwrap(),
            ]))
        }));
    }

    // (2) run --rm busybox true.
    let pod = TempDir::new("bench-podman");
    let p = pod.path().to_str().unwrap().to_string();
    let podman = |args: &[&str]| {
        let mut c = Command::new("podman");
        c.args([
            "--root",
            &format!("{p}/storage"),
            "--runroot",
            &format!("{p}/run"),
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--runtime",
            "runc",
            "--storage-driver",
            "overlay",
        ])
        .args(args);
        c
    };
    let tar = pod.path().join("busybox.tar");
    ok(Command::new(&dock).args(["--root", &r, "save", "-o", tar.to_str().unwrap(), "busybox"]));
    ok(&mut podman(&["load", "-q", "-i", tar.to_str().unwrap()]));
    // Warm both (snapshots, podman's storage).
    ok(Command::new(&dock).args(["--root", &r, "run", "--rm", "busybox", "true"]));
    // podman's default nofile/nproc exceed this host's hard limits (no CAP_SYS_RESOURCE): set them.
    let prun = [
        "run",
        "--rm",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "busybox",
        "true",
    ];
    ok(&mut podman(&prun));
    let (mut dock_run, mut podman_run) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(10) {
        dock_run.push(time(|| {
            ok(Command::new(&dock).args(["--root", &r, "run", "--rm", "busybox", "true"]))
        }));
        podman_run.push(time(|| ok(&mut podman(&prun))));
    }
    let _ = podman(&["rmi", "-a", "-f"]).output();
    let _ = podman(&["system", "reset", "-f"]).output();

    let show = |what: &str, a: Duration, an: &str, b: Duration, bn: &str| {
        println!(
            "{what}: {an} {:.3}s, {bn} {:.3}s, {an}/{bn} = {:.2}",
            a.as_secs_f64(),
            b.as_secs_f64(),
            a.as_secs_f64() / b.as_secs_f64()
        );
    };
    show(
        "unpack 5 layers / 200 MiB (median)",
        median(dock_unpack),
        "dock create",
        median(umoci_unpack),
        "umoci unpack",
    );
    show(
        "run --rm busybox true (median)",
        median(dock_run),
        "dock",
        median(podman_run),
        "podman+runc",
    );
}
