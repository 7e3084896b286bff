//! Test support: temp dirs, a real `docker-registry` process, a tiny HTTP server for token
//! servers and misbehaving registries, images built offline from busybox-static, and running
//! the `dock` binary.
#![allow(dead_code)]

use dock::digest::Digest;
use dock::manifest::{
    DOCKER_CONFIG, DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP,
    OCI_MANIFEST,
};
use dock::registry::auth::Credentials;
use dock::registry::{Body, Client, ClientOptions};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "dock-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn require(binary: &str, package: &str) {
    if !Path::new(binary).exists() {
        panic!(
            "{binary} is missing: install the Debian package `{package}` \
             (listed in .ci/packages; `apt-get install {package}`)"
        );
    }
}

/// Auth configuration for a real registry.
pub enum RegistryAuth {
    None,
    Htpasswd { user: String, password: String },
    Token { realm: String, cert: PathBuf },
}

/// A `docker-registry` (distribution 2.8) on 127.0.0.1, killed by PID on drop.
pub struct RegistryProc {
    child: Child,
    pub host: String,
    _dir: TempDir,
}

impl RegistryProc {
    pub fn start(auth: RegistryAuth) -> Self {
        require("/usr/bin/docker-registry", "docker-registry");
        let dir = TempDir::new("registry");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let auth_yaml = match &auth {
            RegistryAuth::None => String::new(),
            RegistryAuth::Htpasswd { user, password } => {
                require("/usr/bin/htpasswd", "apache2-utils");
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "htpasswd failed");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: dock-test\n    path: {}\n",
                    file.display()
                )
            }
            RegistryAuth::Token { realm, cert } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: dock-test-registry\n    issuer: dock-test-issuer\n    rootcertbundle: {}\n",
                cert.display()
            ),
        };
        for _attempt in 0..5 {
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {host}\n  secret: dock-test-secret\n{auth_yaml}",
                    storage.display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Command::new("/usr/bin/docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start docker-registry");
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut up = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(&host).is_ok() {
                    up = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if up {
                return RegistryProc {
                    child,
                    host,
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        panic!("docker-registry did not start:\n{log}");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for RegistryProc {
    fn drop(&mut self) {
        // Child::kill signals this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server for token endpoints and misbehaving registries.

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: BTreeMap<String, String>,
}

impl HttpRequest {
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .get(&k.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn query_all(&self, key: &str) -> Vec<String> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| percent_decode(v))
            .collect()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send only this many body bytes, then hold the connection open this long.
    pub stall_after: Option<(usize, Duration)>,
}

impl HttpResponse {
    pub fn new(status: u16) -> Self {
        HttpResponse {
            status,
            ..Default::default()
        }
    }
    pub fn body(mut self, ct: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers.push(("Content-Type".into(), ct.into()));
        self.body = body.into();
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync;

/// An HTTP server on 127.0.0.1 running `handler` for each request; stopped on drop.
pub struct FakeServer {
    pub addr: String,
    pub hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(handler: impl Fn(&HttpRequest) -> HttpResponse + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let (stop2, hits2) = (stop.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let h = handler.clone();
                let hits = hits2.clone();
                let stop = stop2.clone();
                std::thread::spawn(move || serve_conn(conn, &*h, &hits, &stop));
            }
        });
        FakeServer {
            addr,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_conn(conn: TcpStream, handler: &Handler, hits: &AtomicUsize, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        // Drain a request body.
        if let Some(n) = headers
            .get("content-length")
            .and_then(|v| v.parse::<u64>().ok())
        {
            let _ = std::io::copy(&mut (&mut reader).take(n), &mut std::io::sink());
        } else if headers
            .get("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            loop {
                let mut size = String::new();
                if reader.read_line(&mut size).unwrap_or(0) == 0 {
                    return;
                }
                let n = u64::from_str_radix(size.trim(), 16).unwrap_or(0);
                let _ = std::io::copy(&mut (&mut reader).take(n + 2), &mut std::io::sink());
                if n == 0 {
                    break;
                }
            }
        }
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.clone(), String::new()),
        };
        hits.fetch_add(1, Ordering::SeqCst);
        let req = HttpRequest {
            method: method.clone(),
            path,
            query,
            headers,
        };
        let resp = handler(&req);
        let mut head = format!("HTTP/1.1 {} X\r\n", resp.status);
        let has_len = resp
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
        for (k, v) in &resp.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !has_len {
            head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
        }
        head.push_str("\r\n");
        if conn.write_all(head.as_bytes()).is_err() {
            return;
        }
        if method != "HEAD" {
            match resp.stall_after {
                Some((n, hold)) => {
                    let _ = conn.write_all(&resp.body[..n.min(resp.body.len())]);
                    let _ = conn.flush();
                    let end = Instant::now() + hold;
                    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    return;
                }
                None => {
                    if conn.write_all(&resp.body).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Images built offline.

/// One blob of a test image.
#[derive(Clone)]
pub struct Blob {
    pub digest: Digest,
    pub data: Vec<u8>,
    pub media_type: String,
}

/// A single-platform image: config, layers, manifest.
#[derive(Clone)]
pub struct TestImage {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Blob,
    pub arch: String,
}

fn blob(data: Vec<u8>, media_type: &str) -> Blob {
    Blob {
        digest: Digest::sha256_of(&data),
        data,
        media_type: media_type.into(),
    }
}

/// A gzip'd tar layer holding busybox-static as /bin/busybox, /bin/sh -> busybox, and a marker
/// file with `marker` in it (so images for different arches differ).
pub fn busybox_layer(marker: &str) -> (Vec<u8>, Digest) {
    let busybox = "/bin/busybox";
    require(busybox, "busybox-static");
    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        let data = std::fs::read(busybox).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "bin/busybox", &data[..]).unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        l.set_mode(0o777);
        l.set_mtime(1_700_000_000);
        b.append_link(&mut l, "bin/sh", "busybox").unwrap();
        let m = marker.as_bytes();
        let mut h = tar::Header::new_gnu();
        h.set_size(m.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, "etc/dock-test", m).unwrap();
        b.finish().unwrap();
    }
    let diff_id = Digest::sha256_of(&tar_bytes);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_bytes).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// A layer from (path, content) files, gzip'd; `.wh.` names make whiteouts.
pub fn files_layer(files: &[(&str, &[u8])]) -> (Vec<u8>, Digest) {
    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        for (name, content) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, name, *content).unwrap();
        }
        b.finish().unwrap();
    }
    let diff_id = Digest::sha256_of(&tar_bytes);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_bytes).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// A small extra layer with one file.
pub fn small_layer(name: &str, content: &[u8]) -> (Vec<u8>, Digest) {
    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, content).unwrap();
        b.finish().unwrap();
    }
    let diff_id = Digest::sha256_of(&tar_bytes);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_bytes).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// Build an image for `arch` from layers; `docker` picks Docker schema 2 media types.
pub fn make_image(arch: &str, layers: Vec<(Vec<u8>, Digest)>, docker: bool) -> TestImage {
    make_image_with(
        arch,
        layers,
        docker,
        serde_json::json!({"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]}),
    )
}

/// [`make_image`] with a given image config `config` object.
pub fn make_image_with(
    arch: &str,
    layers: Vec<(Vec<u8>, Digest)>,
    docker: bool,
    image_config: serde_json::Value,
) -> TestImage {
    let (mt_manifest, mt_config, mt_layer) = if docker {
        (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP)
    } else {
        (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP)
    };
    let diff_ids: Vec<String> = layers.iter().map(|(_, d)| d.to_string()).collect();
    let config = serde_json::json!({
        "created": "2024-01-02T03:04:05Z",
        "architecture": arch,
        "os": "linux",
        "config": image_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": "dock test helper"}]
    });
    let config = blob(serde_json::to_vec(&config).unwrap(), mt_config);
    let layers: Vec<Blob> = layers.into_iter().map(|(d, _)| blob(d, mt_layer)).collect();
    let desc = |b: &Blob| serde_json::json!({"mediaType": b.media_type, "digest": b.digest.to_string(), "size": b.data.len()});
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": mt_manifest,
        "config": desc(&config),
        "layers": layers.iter().map(desc).collect::<Vec<_>>(),
    });
    let manifest = blob(serde_json::to_vec_pretty(&manifest).unwrap(), mt_manifest);
    TestImage {
        config,
        layers,
        manifest,
        arch: arch.into(),
    }
}

/// A busybox image for `arch`.
pub fn busybox_image(arch: &str, docker: bool) -> TestImage {
    make_image(arch, vec![busybox_layer(arch)], docker)
}

/// An index (or Docker manifest list) over images.
pub fn make_index(images: &[&TestImage], docker: bool) -> Blob {
    let mt = if docker { DOCKER_LIST } else { OCI_INDEX };
    let manifests: Vec<_> = images
        .iter()
        .map(|i| {
            let mut p = serde_json::json!({"os": "linux", "architecture": i.arch});
            if i.arch == "arm64" {
                p["variant"] = "v8".into();
            }
            serde_json::json!({
                "mediaType": i.manifest.media_type,
                "digest": i.manifest.digest.to_string(),
                "size": i.manifest.data.len(),
                "platform": p,
            })
        })
        .collect();
    let idx = serde_json::json!({"schemaVersion": 2, "mediaType": mt, "manifests": manifests});
    blob(serde_json::to_vec_pretty(&idx).unwrap(), mt)
}

/// Upload an image's blobs and manifest (under `tag`) with dock's registry client.
pub fn upload(host: &str, repo: &str, tag: &str, img: &TestImage, creds: Option<Credentials>) {
    let client = Client::new(ClientOptions {
        credentials: creds,
        timeout: Duration::from_secs(10),
        ..Default::default()
    });
    let reg = client.registry(host);
    for b in std::iter::once(&img.config).chain(img.layers.iter()) {
        if !reg.blob_exists(repo, &b.digest).unwrap() {
            reg.upload_blob(repo, &b.digest, Body::Bytes(b.data.clone()), None)
                .unwrap();
        }
    }
    reg.put_manifest(
        repo,
        tag,
        &img.manifest.media_type,
        img.manifest.data.clone(),
    )
    .unwrap();
}

/// Upload several images and an index over them under `tag`.
pub fn upload_index(
    host: &str,
    repo: &str,
    tag: &str,
    images: &[&TestImage],
    docker: bool,
    creds: Option<Credentials>,
) -> Blob {
    for i in images {
        upload(host, repo, &i.manifest.digest.to_string(), i, creds.clone());
    }
    let idx = make_index(images, docker);
    let client = Client::new(ClientOptions {
        credentials: creds,
        ..Default::default()
    });
    client
        .registry(host)
        .put_manifest(repo, tag, &idx.media_type, idx.data.clone())
        .unwrap();
    idx
}

// ---------------------------------------------------------------------------------------------
// Running dock.

/// A dock environment: its own store root and docker config dir.
pub struct Dock {
    pub root: TempDir,
    pub config: TempDir,
}

impl Dock {
    pub fn new() -> Self {
        Dock {
            root: TempDir::new("root"),
            config: TempDir::new("dockercfg"),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let bin = option_env!("CARGO_BIN_EXE_dock")
            .map(String::from)
            .or_else(|| std::env::var("DOCK_BIN").ok())
            .expect("the dock binary (CARGO_BIN_EXE_dock or DOCK_BIN)");
        let mut c = Command::new(bin);
        c.arg("--root")
            .arg(self.root.path())
            .args(args)
            .env("DOCKER_CONFIG", self.config.path())
            .env_remove("DOCK_TIMEOUT")
            .env_remove("DOCK_RETRIES")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "dock {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run and require exit code 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(1),
            "dock {args:?} should fail with 1:\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// Write docker's config.json with base64 `auth` for a host.
    pub fn write_docker_config(&self, host: &str, user: &str, password: &str) {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let cfg = serde_json::json!({"auths": {host: {"auth": auth}}});
        std::fs::write(self.config.path().join("config.json"), cfg.to_string()).unwrap();
    }

    /// The store's state: blob file names with sizes, index.json, and ingest leftovers.
    pub fn snapshot(&self) -> (Vec<(String, u64)>, String, Vec<String>) {
        let root = self.root.path();
        let mut blobs = Vec::new();
        for alg in ["sha256", "sha512"] {
            if let Ok(rd) = std::fs::read_dir(root.join("blobs").join(alg)) {
                for e in rd.flatten() {
                    blobs.push((
                        format!("{alg}/{}", e.file_name().to_string_lossy()),
                        e.metadata().unwrap().len(),
                    ));
                }
            }
        }
        blobs.sort();
        let index = std::fs::read_to_string(root.join("index.json")).unwrap_or_default();
        let mut ingest: Vec<String> = std::fs::read_dir(root.join("ingest"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".partial"))
                    .collect()
            })
            .unwrap_or_default();
        ingest.sort();
        (blobs, index, ingest)
    }

    /// Every stored blob hashes to its name.
    pub fn verify_store(&self) {
        let dir = self.root.path().join("blobs/sha256");
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let data = std::fs::read(e.path()).unwrap();
            assert_eq!(
                Digest::sha256_of(&data).hex(),
                e.file_name().to_string_lossy(),
                "corrupt blob in store"
            );
        }
    }

    pub fn index(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.root.path().join("index.json")).unwrap())
            .unwrap()
    }
}

/// Image config of the image a name points at.
pub fn stored_config(d: &Dock, name: &str) -> serde_json::Value {
    let out = d.ok(&["inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}
