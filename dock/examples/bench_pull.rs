//! Benchmark: pull a multi-layer image (5 layers, 200 MiB, made offline) from a local
//! docker-registry with `dock pull` and with `skopeo copy docker://... oci:...`, in the same
//! run, and print both times and the ratio. Run through `bench/dock-pull.sh`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// A gzip'd tar layer with one file of incompressible bytes, as real layers are after gzip.
fn layer(seed: u64, size: usize) -> (Vec<u8>, dock::digest::Digest) {
    let mut data = vec![0u8; size];
    let mut x = seed | 1;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    small_layer(&format!("data/{seed}"), &data)
}

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() {
    let dock_bin = std::env::var("DOCK_BIN").unwrap_or_else(|_| "target/release/dock".into());
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let layers = 5;
    let layer_size = 40 << 20;
    eprintln!(
        "building a {layers}-layer image of {} MiB ...",
        (layers * layer_size) >> 20
    );
    let img = make_image(
        "amd64",
        (0..layers)
            .map(|i| layer(0x1234 + i as u64, layer_size))
            .collect(),
        false,
    );
    let total: usize = img.layers.iter().map(|l| l.data.len()).sum();
    let reg = RegistryProc::start(RegistryAuth::None);
    upload(&reg.host, "bench/big", "1", &img, None);
    let image = format!("{}/bench/big:1", reg.host);
    let mut dock_times = Vec::new();
    let mut skopeo_times = Vec::new();
    for run in 0..runs {
        let root = TempDir::new("bench-dock");
        let t = time(|| {
            let s = Command::new(&dock_bin)
                .args([
                    "--root",
                    root.path().to_str().unwrap(),
                    "pull",
                    "-q",
                    &image,
                ])
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(s.success(), "dock pull failed");
        });
        dock_times.push(t);
        let out = TempDir::new("bench-skopeo");
        let t2 = time(|| {
            let s = Command::new("skopeo")
                .args([
                    "copy",
                    "-q",
                    "--src-tls-verify=false",
                    &format!("docker://{image}"),
                    &format!("oci:{}/layout:big", out.path().display()),
                ])
                .env("HOME", std::env::temp_dir())
                .status()
                .unwrap();
            assert!(s.success(), "skopeo copy failed");
        });
        skopeo_times.push(t2);
        eprintln!(
            "run {}: dock {:.2}s, skopeo {:.2}s",
            run + 1,
            t.as_secs_f64(),
            t2.as_secs_f64()
        );
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (d, s) = (median(&mut dock_times), median(&mut skopeo_times));
    println!(
        "pull of {layers} layers, {:.0} MiB, local docker-registry, median of {runs}: \
         dock {:.2}s, skopeo {:.2}s, dock/skopeo = {:.2}",
        total as f64 / 1048576.0,
        d.as_secs_f64(),
        s.as_secs_f64(),
        d.as_secs_f64() / s.as_secs_f64()
    );
}
