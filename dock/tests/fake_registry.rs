//! Registry behaviours that a real docker-registry does not show on its own, from a fake
//! registry in this test: transient 5xx/429 answers, blob redirects to another host (a CDN)
//! that must not receive the registry credentials, and credentials from a credential helper.

mod common;

use base64::Engine as _;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn retries_5xx_and_429_then_succeeds() {
    let img = make_image("amd64", vec![small_layer("f", b"flaky")], false);
    let i2 = img.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let server = FakeServer::start(move |req| {
        if req.path == "/v2/" {
            return HttpResponse::new(200);
        }
        // Every path fails twice (503, then 429) before it is served.
        let n = c2.fetch_add(1, Ordering::SeqCst);
        match n % 3 {
            0 => return HttpResponse::new(503),
            1 => return HttpResponse::new(429).header("Retry-After", "0"),
            _ => {}
        }
        if req.path == "/v2/flaky/app/manifests/1" {
            return HttpResponse::new(200).body(&i2.manifest.media_type, i2.manifest.data.clone());
        }
        for b in std::iter::once(&i2.config).chain(i2.layers.iter()) {
            if req.path == format!("/v2/flaky/app/blobs/{}", b.digest) {
                return HttpResponse::new(200).body("application/octet-stream", b.data.clone());
            }
        }
        HttpResponse::new(404)
    });
    let d = Dock::new();
    d.ok(&[
        "pull",
        "--max-concurrent-downloads",
        "1",
        &format!("{}/flaky/app:1", server.addr),
    ]);
    d.verify_store();
    assert_eq!(
        d.index()["manifests"][0]["digest"],
        img.manifest.digest.to_string()
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        9,
        "3 requests, 3 attempts each"
    );

    // Retries are bounded: with --retries 1 the same server makes the pull fail.
    let e = Dock::new();
    let err = e.fails(&[
        "--retries",
        "1",
        "pull",
        &format!("{}/flaky/app:1", server.addr),
    ]);
    assert!(
        err.contains("HTTP 429") || err.contains("HTTP 503"),
        "{err}"
    );
}

#[test]
fn basic_auth_redirect_to_cdn_and_credential_helper() {
    let img = make_image("amd64", vec![small_layer("c", b"cdn layer")], false);
    let (user, pass) = ("helperuser", "helperpass");
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    );
    // The CDN serves blobs and records any Authorization header it gets.
    let leaked = Arc::new(Mutex::new(Vec::<String>::new()));
    let (i2, l2) = (img.clone(), leaked.clone());
    let cdn = FakeServer::start(move |req| {
        if let Some(a) = req.header("authorization") {
            l2.lock().unwrap().push(a.to_string());
        }
        for b in std::iter::once(&i2.config).chain(i2.layers.iter()) {
            if req.path == format!("/cdn/{}", b.digest.hex()) {
                return HttpResponse::new(200).body("application/octet-stream", b.data.clone());
            }
        }
        HttpResponse::new(404)
    });
    let cdn_url = cdn.url();
    let (i3, want2) = (img.clone(), want.clone());
    let registry = FakeServer::start(move |req| {
        if req.header("authorization") != Some(want2.as_str()) {
            return HttpResponse::new(401).header("WWW-Authenticate", "Basic realm=\"fake\"");
        }
        if req.path == "/v2/" {
            return HttpResponse::new(200);
        }
        if req.path == "/v2/cdn/app/manifests/1" {
            return HttpResponse::new(200).body(&i3.manifest.media_type, i3.manifest.data.clone());
        }
        for b in std::iter::once(&i3.config).chain(i3.layers.iter()) {
            if req.path == format!("/v2/cdn/app/blobs/{}", b.digest) {
                return HttpResponse::new(307)
                    .header("Location", &format!("{cdn_url}/cdn/{}", b.digest.hex()));
            }
        }
        HttpResponse::new(404)
    });

    // A credential helper on PATH, configured through credHelpers.
    let d = Dock::new();
    let bin = TempDir::new("helper-bin");
    let helper = bin.path().join("docker-credential-docktest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\n[ \"$server\" = \"{}\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{pass}\"}}' \"$server\"\n",
            registry.addr
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        d.config.path().join("config.json"),
        serde_json::json!({"credHelpers": {registry.addr.clone(): "docktest"}}).to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let image = format!("{}/cdn/app:1", registry.addr);
    let out = d
        .cmd(&["pull", &image])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.verify_store();
    assert!(
        leaked.lock().unwrap().is_empty(),
        "credentials sent to the CDN"
    );
    assert_eq!(cdn.hits.load(Ordering::SeqCst), 2);

    // credsStore works the same way; a helper without the entry means no credentials.
    let e = Dock::new();
    std::fs::write(
        e.config.path().join("config.json"),
        serde_json::json!({"credsStore": "docktest"}).to_string(),
    )
    .unwrap();
    let out = e
        .cmd(&["pull", &image])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
