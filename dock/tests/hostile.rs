//! Misbehaving registries (a fake registry in this test on 127.0.0.1): each failure must end
//! with exit 1, an error naming the image and the digest, and the store as it was.

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scenario {
    BlobDigestMismatch,
    ManifestTooLarge,
    RedirectLoop,
    UnauthorizedForever,
    MissingBlob,
    Stall,
}

struct Fixture {
    server: FakeServer,
    good: TestImage,
    bad: TestImage,
}

fn fixture(scenario: Scenario) -> Fixture {
    let good = make_image("amd64", vec![small_layer("good", b"good layer")], false);
    let bad = make_image(
        "amd64",
        vec![
            small_layer("shared", b"x"),
            small_layer("bad", &vec![7u8; 200_000]),
        ],
        false,
    );
    let (g, b) = (good.clone(), bad.clone());
    let server = FakeServer::start(move |req| {
        let path = req.path.as_str();
        let unauthorized = || {
            HttpResponse::new(401)
                .header(
                    "WWW-Authenticate",
                    &format!(
                        "Bearer realm=\"http://{}/token\",service=\"fake\"",
                        req.header("host").unwrap_or("")
                    ),
                )
                .body(
                    "application/json",
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                )
        };
        if path == "/token" {
            return HttpResponse::new(200).body("application/json", r#"{"token":"never-good"}"#);
        }
        if scenario == Scenario::UnauthorizedForever && path.starts_with("/v2/") {
            return unauthorized();
        }
        if path == "/v2/" {
            return HttpResponse::new(200).body("application/json", "{}");
        }
        let serve = |img: &TestImage, hostile: bool| -> HttpResponse {
            let repo = if hostile {
                "/v2/bad/app/"
            } else {
                "/v2/good/app/"
            };
            let Some(rest) = path.strip_prefix(repo) else {
                return HttpResponse::new(404);
            };
            if rest == "manifests/1" || rest == format!("manifests/{}", img.manifest.digest) {
                if hostile && scenario == Scenario::ManifestTooLarge {
                    let mut big = b"{\"schemaVersion\":2,\"x\":\"".to_vec();
                    big.resize(5 << 20, b'a');
                    big.extend_from_slice(b"\"}");
                    return HttpResponse::new(200).body(dock::manifest::OCI_MANIFEST, big);
                }
                return HttpResponse::new(200)
                    .body(&img.manifest.media_type, img.manifest.data.clone())
                    .header("Docker-Content-Digest", &img.manifest.digest.to_string());
            }
            let blobs: Vec<&Blob> = std::iter::once(&img.config)
                .chain(img.layers.iter())
                .collect();
            for (i, b) in blobs.iter().enumerate() {
                if rest != format!("blobs/{}", b.digest) {
                    continue;
                }
                let target = hostile && i == blobs.len() - 1;
                if !target {
                    return HttpResponse::new(200).body("application/octet-stream", b.data.clone());
                }
                return match scenario {
                    Scenario::BlobDigestMismatch => {
                        let mut data = b.data.clone();
                        let n = data.len() / 2;
                        data[n] ^= 0xff;
                        HttpResponse::new(200).body("application/octet-stream", data)
                    }
                    Scenario::RedirectLoop => {
                        let n: u32 = req.query_all("hop").first().and_then(|v| v.parse().ok()).unwrap_or(0);
                        HttpResponse::new(302).header("Location", &format!("{path}?hop={}", n + 1))
                    }
                    Scenario::MissingBlob => HttpResponse::new(404).body(
                        "application/json",
                        r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
                    ),
                    Scenario::Stall => {
                        let mut r = HttpResponse::new(200).body("application/octet-stream", b.data.clone());
                        r.stall_after = Some((b.data.len() / 2, Duration::from_secs(30)));
                        r
                    }
                    _ => HttpResponse::new(200).body("application/octet-stream", b.data.clone()),
                };
            }
            HttpResponse::new(404).body(
                "application/json",
                r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
            )
        };
        if path.starts_with("/v2/good/") {
            serve(&g, false)
        } else {
            serve(&b, true)
        }
    });
    Fixture { server, good, bad }
}

/// Pull the good image, then the hostile one; check exit 1, the message, the store unchanged.
fn run(scenario: Scenario, expect: &[&str]) -> String {
    let f = fixture(scenario);
    let d = Dock::new();
    let host = &f.server.addr;
    if scenario != Scenario::UnauthorizedForever {
        d.ok(&["pull", &format!("{host}/good/app:1")]);
        assert_eq!(
            d.index()["manifests"][0]["digest"],
            f.good.manifest.digest.to_string()
        );
    } else {
        d.ok(&["images"]);
    }
    let before = d.snapshot();
    let image = format!("{host}/bad/app:1");
    let start = Instant::now();
    let err = d.fails(&["--timeout", "1", "--retries", "1", "pull", &image]);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(20), "{scenario:?} took {took:?}");
    assert!(err.contains(&image), "{scenario:?}: image not named: {err}");
    for e in expect {
        assert!(err.contains(e), "{scenario:?}: {e:?} not in: {err}");
    }
    assert_eq!(before, d.snapshot(), "{scenario:?}: store changed");
    d.verify_store();
    let _ = &f.bad;
    eprintln!("{scenario:?} ({took:?}): {err}");
    err
}

fn bad_layer(scenario: Scenario) -> String {
    // The fixture is deterministic, so the hostile layer's digest is known in advance.
    fixture(scenario).bad.layers[1].digest.to_string()
}

#[test]
fn blob_bytes_not_matching_digest() {
    let d = bad_layer(Scenario::BlobDigestMismatch);
    run(Scenario::BlobDigestMismatch, &[&d, "digest mismatch"]);
}

#[test]
fn manifest_over_4_mib() {
    run(
        Scenario::ManifestTooLarge,
        &["manifest", "larger than the 4194304 byte limit"],
    );
}

#[test]
fn redirect_loop() {
    let d = bad_layer(Scenario::RedirectLoop);
    run(Scenario::RedirectLoop, &[&d, "too many redirects"]);
}

#[test]
fn unauthorized_that_never_accepts() {
    run(
        Scenario::UnauthorizedForever,
        &["unauthorized", "refused the credentials"],
    );
}

#[test]
fn manifest_referencing_missing_blob() {
    let d = bad_layer(Scenario::MissingBlob);
    run(Scenario::MissingBlob, &[&d, "HTTP 404", "BLOB_UNKNOWN"]);
}

#[test]
fn stalled_connection_times_out() {
    let d = bad_layer(Scenario::Stall);
    let err = run(Scenario::Stall, &[&d]);
    assert!(err.to_lowercase().contains("timed out"), "{err}");
}

/// A blob of 8 MiB served with Range support; the first request stalls half way.
#[test]
fn killed_pull_resumes_and_leaves_no_garbage() {
    let mut data = vec![0u8; 8 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let big = (data, dock::digest::Digest::sha256_of(&[]));
    let img = make_image("amd64", vec![big], false);
    let layer = img.layers[0].clone();
    let first = Arc::new(AtomicUsize::new(0));
    let ranges = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (img2, first2, ranges2) = (img.clone(), first.clone(), ranges.clone());
    let server = FakeServer::start(move |req| {
        let path = req.path.as_str();
        if path == "/v2/" {
            return HttpResponse::new(200);
        }
        if path == "/v2/big/app/manifests/1" {
            return HttpResponse::new(200)
                .body(&img2.manifest.media_type, img2.manifest.data.clone());
        }
        if path == format!("/v2/big/app/blobs/{}", img2.config.digest) {
            return HttpResponse::new(200)
                .body("application/octet-stream", img2.config.data.clone());
        }
        if path == format!("/v2/big/app/blobs/{}", img2.layers[0].digest) {
            let data = &img2.layers[0].data;
            if let Some(r) = req.header("range") {
                ranges2.lock().unwrap().push(r.to_string());
                let start: usize = r
                    .trim_start_matches("bytes=")
                    .trim_end_matches('-')
                    .parse()
                    .unwrap();
                return HttpResponse::new(206)
                    .header(
                        "Content-Range",
                        &format!("bytes {start}-{}/{}", data.len() - 1, data.len()),
                    )
                    .body("application/octet-stream", data[start..].to_vec());
            }
            let mut resp = HttpResponse::new(200).body("application/octet-stream", data.clone());
            if first2.fetch_add(1, Ordering::SeqCst) == 0 {
                resp.stall_after = Some((data.len() / 2, Duration::from_secs(60)));
            }
            return resp;
        }
        HttpResponse::new(404)
    });
    let d = Dock::new();
    let image = format!("{}/big/app:1", server.addr);
    let mut child = d
        .cmd(&["--timeout", "30", "pull", "-q", &image])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial = d
        .root
        .path()
        .join("ingest")
        .join(format!("sha256-{}.partial", layer.digest.hex()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let len = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        if len >= (layer.data.len() / 2) as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "download never got half way ({len} bytes)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL to this child's PID only
    child.wait().unwrap();
    assert!(d.index()["manifests"].as_array().unwrap().is_empty());
    assert!(!d
        .root
        .path()
        .join("blobs/sha256")
        .join(layer.digest.hex())
        .exists());

    d.ok(&["pull", &image]);
    let ranges = ranges.lock().unwrap().clone();
    assert_eq!(
        ranges,
        vec![format!("bytes={}-", layer.data.len() / 2)],
        "did not resume"
    );
    d.verify_store();
    assert_eq!(
        d.index()["manifests"][0]["digest"],
        img.manifest.digest.to_string()
    );
    let leftovers: Vec<_> = std::fs::read_dir(d.root.path().join("ingest"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "garbage in ingest/: {leftovers:?}");
    let out = d.ok(&["gc"]);
    assert!(out.contains("removed 0 blobs"), "{out}");
}

/// A leftover partial download whose bytes are wrong is detected after resuming and the blob
/// is fetched again from byte 0.
#[test]
fn corrupt_leftover_partial_is_refetched() {
    let img = make_image("amd64", vec![small_layer("p", &vec![3u8; 100_000])], false);
    let layer = img.layers[0].clone();
    let i2 = img.clone();
    let full_gets = Arc::new(AtomicUsize::new(0));
    let fg = full_gets.clone();
    let server = FakeServer::start(move |req| {
        if req.path == "/v2/" {
            return HttpResponse::new(200);
        }
        if req.path == "/v2/p/app/manifests/1" {
            return HttpResponse::new(200).body(&i2.manifest.media_type, i2.manifest.data.clone());
        }
        for b in std::iter::once(&i2.config).chain(i2.layers.iter()) {
            if req.path == format!("/v2/p/app/blobs/{}", b.digest) {
                if let Some(r) = req.header("range") {
                    let start: usize = r
                        .trim_start_matches("bytes=")
                        .trim_end_matches('-')
                        .parse()
                        .unwrap();
                    return HttpResponse::new(206)
                        .header(
                            "Content-Range",
                            &format!("bytes {start}-{}/{}", b.data.len() - 1, b.data.len()),
                        )
                        .body("application/octet-stream", b.data[start..].to_vec());
                }
                fg.fetch_add(1, Ordering::SeqCst);
                return HttpResponse::new(200).body("application/octet-stream", b.data.clone());
            }
        }
        HttpResponse::new(404)
    });
    let d = Dock::new();
    d.ok(&["images"]);
    let partial = d
        .root
        .path()
        .join("ingest")
        .join(format!("sha256-{}.partial", layer.digest.hex()));
    let mut junk = layer.data[..layer.data.len() / 2].to_vec();
    junk[10] ^= 0xff;
    std::fs::write(&partial, junk).unwrap();
    d.ok(&["pull", &format!("{}/p/app:1", server.addr)]);
    d.verify_store();
    assert!(!partial.exists());
    assert_eq!(
        full_gets.load(Ordering::SeqCst),
        2,
        "config + the layer once from byte 0"
    );
}
