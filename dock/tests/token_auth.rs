//! Bearer-token auth against a real registry: docker-registry with `auth.token`, and a token
//! server in this test that checks basic credentials and signs RS256 JWTs (x5c header) with a
//! key made by openssl.

mod common;

use base64::Engine as _;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

const USER: &str = "tokenuser";
const PASSWORD: &str = "tokenpass";

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is missing: install the Debian package `openssl`");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

struct TokenServer {
    server: FakeServer,
    _dir: TempDir,
    cert: PathBuf,
}

fn start_token_server() -> TokenServer {
    let dir = TempDir::new("token");
    let key = dir.path().join("key.pem");
    let cert = dir.path().join("cert.pem");
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=dock-test-token",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ],
        b"",
    );
    let der = openssl(
        &["x509", "-in", cert.to_str().unwrap(), "-outform", "DER"],
        b"",
    );
    let x5c = base64::engine::general_purpose::STANDARD.encode(der);
    let key2 = key.clone();
    let server = FakeServer::start(move |req| {
        if req.path != "/token" {
            return HttpResponse::new(404);
        }
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        );
        if req.header("authorization") != Some(want.as_str()) {
            return HttpResponse::new(401)
                .body("application/json", r#"{"details":"bad credentials"}"#);
        }
        let access: Vec<serde_json::Value> = req
            .query_all("scope")
            .iter()
            .filter_map(|s| {
                let mut p = s.splitn(3, ':');
                let (t, name, actions) = (p.next()?, p.next()?, p.next()?);
                Some(serde_json::json!({"type": t, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
        let claims = serde_json::json!({
            "iss": "dock-test-issuer", "sub": USER, "aud": "dock-test-registry",
            "exp": now + 600, "nbf": now - 60, "iat": now - 60,
            "jti": format!("{now}-{}", rand_id()), "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = openssl(
            &["dgst", "-sha256", "-sign", key2.to_str().unwrap()],
            signing_input.as_bytes(),
        );
        let token = format!("{signing_input}.{}", b64url(&sig));
        HttpResponse::new(200).body(
            "application/json",
            serde_json::json!({"token": token, "expires_in": 600}).to_string(),
        )
    });
    TokenServer {
        server,
        _dir: dir,
        cert,
    }
}

fn rand_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn cert_path(t: &TokenServer) -> &Path {
    &t.cert
}

#[test]
fn bearer_token_auth_with_token_reuse() {
    let tokens = start_token_server();
    let reg = RegistryProc::start(RegistryAuth::Token {
        realm: format!("{}/token", tokens.server.url()),
        cert: cert_path(&tokens).to_path_buf(),
    });
    let creds = dock::registry::auth::Credentials {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    let img = make_image(
        "amd64",
        vec![
            busybox_layer("amd64"),
            small_layer("a", b"1"),
            small_layer("b", b"2"),
        ],
        false,
    );
    upload(&reg.host, "tok/app", "1", &img, Some(creds));
    let name = format!("{}/tok/app:1", reg.host);

    // The registry really checks tokens: a forged one is refused.
    let forged = ureq::get(&format!("http://{}/v2/tok/app/manifests/1", reg.host))
        .set("Authorization", "Bearer eyJhbGciOiJub25lIn0.e30.")
        .call();
    assert!(
        matches!(forged, Err(ureq::Error::Status(401, _))),
        "forged token accepted"
    );

    // Without credentials the token server refuses, and dock says what to do.
    let anon = Dock::new();
    anon.ok(&["images"]);
    let before = anon.snapshot();
    let err = anon.fails(&["pull", &name]);
    assert!(
        err.contains("unauthorized") && err.contains("dock login"),
        "{err}"
    );
    assert_eq!(before, anon.snapshot());

    // With credentials from config.json: one token for the pull scope, reused for the
    // manifest and all four blobs.
    let d = Dock::new();
    d.write_docker_config(&reg.host, USER, PASSWORD);
    let hits_before = tokens.server.hits.load(Ordering::SeqCst);
    d.ok(&["pull", &name]);
    let token_requests = tokens.server.hits.load(Ordering::SeqCst) - hits_before;
    assert_eq!(token_requests, 1, "token not reused");
    d.verify_store();
    assert_eq!(
        d.index()["manifests"][0]["digest"],
        img.manifest.digest.to_string()
    );

    // dock login against a token registry, then push to another repository (pull,push scope
    // for the target plus a pull scope for the mount source).
    let l = Dock::new();
    let err = l.fails(&["login", "-u", USER, "-p", "nope", &reg.host]);
    assert!(err.contains("rejected"), "{err}");
    l.ok(&["login", "-u", USER, "-p", PASSWORD, &reg.host]);
    l.ok(&["pull", &name]);
    let dst = format!("{}/tok/copy:1", reg.host);
    l.ok(&["tag", &name, &dst]);
    let out = l.run(&["push", &dst]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("mounted from tok/app"), "{stderr}");
    let fresh = Dock::new();
    fresh.write_docker_config(&reg.host, USER, PASSWORD);
    fresh.ok(&["pull", &dst]);
    assert_eq!(
        fresh.index()["manifests"][0]["digest"],
        img.manifest.digest.to_string()
    );
}
