//! A client for the distribution API v2 (docker registries and OCI registries).
//!
//! One [`Registry`] talks to one registry host. It pings `/v2/` once to learn the auth scheme,
//! then sends credentials (basic) or a bearer token (fetched from the challenge's realm with the
//! request's scope, cached and reused per scope) with every request to that host, never to a
//! redirect target on another host. Redirects are followed by hand (bounded), 5xx/429 and
//! transport errors are retried with exponential backoff, and every request has connect and
//! read timeouts, so a stalled server ends in an error instead of a hang.

pub mod auth;

use crate::digest::Digest;
use crate::manifest::{Descriptor, ACCEPT};
use crate::store::{Ingest, StoreError};
use auth::{Challenge, Credentials};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Manifests larger than this are refused (docker and containerd use 4 MiB too).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// Client settings shared by every registry connection.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Hosts (`host:port`) reached over plain http besides loopback ones.
    pub insecure_registries: Vec<String>,
    /// Connect timeout and the longest wait for any read or write.
    pub timeout: Duration,
    /// Extra attempts after a 5xx/429 or transport error.
    pub retries: u32,
    pub max_redirects: u32,
    pub max_manifest_size: u64,
    /// Credentials to use instead of looking them up (for `dock login`).
    pub credentials: Option<Credentials>,
    /// Base delay of the retry backoff (doubled each attempt).
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            timeout: Duration::from_secs(30),
            retries: 3,
            max_redirects: 10,
            max_manifest_size: MAX_MANIFEST_SIZE,
            credentials: None,
            backoff: Duration::from_millis(250),
        }
    }
}

/// Registry failures.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{method} {url}: {detail}")]
    Transport {
        method: String,
        url: String,
        detail: String,
    },
    #[error("{method} {url}: HTTP {status}{detail}")]
    Status {
        method: String,
        url: String,
        status: u16,
        detail: String,
    },
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("{url}: too many redirects (more than {max})")]
    TooManyRedirects { url: String, max: u32 },
    #[error("manifest {reference}: larger than the {limit} byte limit")]
    ManifestTooLarge { reference: String, limit: u64 },
    #[error("manifest {reference}: digest mismatch: content hashes to {actual}")]
    ManifestDigestMismatch { reference: String, actual: Digest },
    #[error("manifest {reference}: {detail}")]
    BadManifest { reference: String, detail: String },
    #[error("blob {digest}: {source}")]
    Blob {
        digest: Digest,
        #[source]
        source: Box<RegistryError>,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Credentials(#[from] auth::CredentialsError),
    #[error("{url}: {detail}")]
    Protocol { url: String, detail: String },
}

impl RegistryError {
    fn for_blob(self, digest: &Digest) -> Self {
        match self {
            // Store errors about a blob already name its digest.
            RegistryError::Store(
                e @ (StoreError::DigestMismatch { .. } | StoreError::SizeMismatch { .. }),
            ) => RegistryError::Store(e),
            other => RegistryError::Blob {
                digest: digest.clone(),
                source: Box::new(other),
            },
        }
    }
}

/// A request body that can be sent again on retry.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    File { path: PathBuf, len: u64 },
}

/// One request: method, path or absolute URL, repository scope, headers, body.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    pub url: String,
    pub scope: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Debug, Clone)]
enum AuthState {
    Unknown,
    Anonymous,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// The dock HTTP client: an agent and options, from which per-host [`Registry`]s are made.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    opts: Arc<ClientOptions>,
}

impl Client {
    pub fn new(opts: ClientOptions) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(opts.timeout)
            .timeout_read(opts.timeout)
            .timeout_write(opts.timeout)
            .redirects(0)
            .max_idle_connections_per_host(8)
            .user_agent(concat!("dock/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent,
            opts: Arc::new(opts),
        }
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// A connection to the registry serving `domain` (a reference's domain).
    pub fn registry(&self, domain: &str) -> Registry {
        let host = if domain == crate::reference::DEFAULT_DOMAIN {
            crate::reference::DEFAULT_REGISTRY_HOST.to_string()
        } else {
            domain.to_string()
        };
        let scheme = if is_loopback(&host)
            || self
                .opts
                .insecure_registries
                .iter()
                .any(|h| h == &host || h == domain)
        {
            "http"
        } else {
            "https"
        };
        Registry {
            client: self.clone(),
            domain: domain.to_string(),
            base: format!("{scheme}://{host}"),
            host,
            auth: Mutex::new(AuthState::Unknown),
            creds: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            token_fetch: Mutex::new(()),
        }
    }
}

/// `localhost`, `127.x.y.z` and `[::1]`, with or without port.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(end) = host.find(']') {
        &host[..=end]
    } else {
        host.split(':').next().unwrap_or(host)
    };
    name == "localhost"
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A connection to one registry host.
pub struct Registry {
    client: Client,
    domain: String,
    host: String,
    base: String,
    auth: Mutex<AuthState>,
    creds: Mutex<Option<Option<Credentials>>>,
    tokens: Mutex<HashMap<String, String>>,
    token_fetch: Mutex<()>,
}

/// Scope string for a repository.
pub fn scope(repo: &str, actions: &str) -> String {
    format!("repository:{repo}:{actions}")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// How many tokens were fetched (for tests of token reuse).
    pub fn cached_tokens(&self) -> usize {
        lock(&self.tokens).len()
    }

    fn credentials(&self) -> Result<Option<Credentials>, RegistryError> {
        let mut c = lock(&self.creds);
        if let Some(v) = c.as_ref() {
            return Ok(v.clone());
        }
        let v = match &self.client.opts.credentials {
            Some(given) => Some(given.clone()),
            None => auth::lookup(&self.domain)?,
        };
        *c = Some(v.clone());
        Ok(v)
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    fn same_host(&self, url: &str) -> bool {
        authority(url) == authority(&self.base)
    }

    /// GET /v2/ without credentials to learn the auth scheme.
    pub fn ping(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        let mut attempt = 0;
        loop {
            let res = self.client.agent.get(&url).call();
            let state = match res {
                Ok(resp) if resp.status() < 300 => AuthState::Anonymous,
                Ok(resp) => {
                    return Err(RegistryError::Protocol {
                        url,
                        detail: format!("ping answered HTTP {} (a redirect)", resp.status()),
                    })
                }
                Err(ureq::Error::Status(401, resp)) => {
                    match resp
                        .header("www-authenticate")
                        .and_then(auth::parse_challenge)
                    {
                        Some(Challenge::Basic { .. }) => AuthState::Basic,
                        Some(Challenge::Bearer { realm, service, .. }) => {
                            AuthState::Bearer { realm, service }
                        }
                        None => {
                            return Err(RegistryError::Unauthorized(format!(
                                "{}: no usable WWW-Authenticate challenge in the 401 answer",
                                self.host
                            )))
                        }
                    }
                }
                Err(ureq::Error::Status(code, resp))
                    if (code >= 500 || code == 429) && attempt < self.client.opts.retries =>
                {
                    drop(resp);
                    self.backoff(attempt);
                    attempt += 1;
                    continue;
                }
                Err(ureq::Error::Status(status, resp)) => {
                    // Some registries answer 404 on /v2/ but serve the API; go on anonymously.
                    if status == 404 {
                        AuthState::Anonymous
                    } else {
                        return Err(status_error("GET", &url, status, resp));
                    }
                }
                Err(ureq::Error::Transport(t)) => {
                    if attempt < self.client.opts.retries {
                        self.backoff(attempt);
                        attempt += 1;
                        continue;
                    }
                    return Err(RegistryError::Transport {
                        method: "GET".into(),
                        url,
                        detail: transport_detail(&t),
                    });
                }
            };
            *lock(&self.auth) = state;
            return Ok(());
        }
    }

    fn backoff(&self, attempt: u32) {
        let d = self.client.opts.backoff * 2u32.saturating_pow(attempt.min(6));
        std::thread::sleep(d.min(Duration::from_secs(10)));
    }

    /// The Authorization header for a request needing `scope`, fetching a token if needed.
    fn authorization(&self, scope: &str) -> Result<Option<String>, RegistryError> {
        if matches!(*lock(&self.auth), AuthState::Unknown) {
            self.ping()?;
        }
        let state = lock(&self.auth).clone();
        match state {
            AuthState::Unknown | AuthState::Anonymous => Ok(None),
            AuthState::Basic => Ok(self.credentials()?.map(|c| c.basic_header())),
            AuthState::Bearer { realm, service } => {
                if let Some(t) = lock(&self.tokens).get(scope) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                // One fetch per scope even when blob threads ask at once.
                let _one = lock(&self.token_fetch);
                if let Some(t) = lock(&self.tokens).get(scope) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let token = self.fetch_token(&realm, service.as_deref(), scope)?;
                lock(&self.tokens).insert(scope.to_string(), token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, RegistryError> {
        let mut req = self.client.agent.get(realm);
        if let Some(s) = service {
            req = req.query("service", s);
        }
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            req = req.query("scope", s);
        }
        let creds = self.credentials()?;
        if let Some(c) = &creds {
            req = req.set("Authorization", &c.basic_header());
        }
        let resp = match req.call() {
            Ok(r) if r.status() == 200 => r,
            Ok(r) => {
                return Err(RegistryError::Protocol {
                    url: realm.to_string(),
                    detail: format!("token endpoint answered HTTP {}", r.status()),
                })
            }
            Err(ureq::Error::Status(401, _)) | Err(ureq::Error::Status(403, _)) => {
                return Err(RegistryError::Unauthorized(match creds {
                    Some(c) => format!(
                        "token server {realm} rejected the credentials of {:?} for {scope}",
                        c.username
                    ),
                    None => format!(
                        "token server {realm} requires credentials for {scope}: run `dock login {}`",
                        self.domain
                    ),
                }))
            }
            Err(ureq::Error::Status(code, r)) => return Err(status_error("GET", realm, code, r)),
            Err(ureq::Error::Transport(t)) => {
                return Err(RegistryError::Transport {
                    method: "GET".into(),
                    url: realm.to_string(),
                    detail: transport_detail(&t),
                })
            }
        };
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let mut body = Vec::new();
        resp.into_reader()
            .take(1 << 20)
            .read_to_end(&mut body)
            .map_err(|e| RegistryError::Transport {
                method: "GET".into(),
                url: realm.to_string(),
                detail: e.to_string(),
            })?;
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                url: realm.to_string(),
                detail: format!("token response is not JSON: {e}"),
            })?;
        parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Protocol {
                url: realm.to_string(),
                detail: "token response has no token".into(),
            })
    }

    /// React to a 401 for `scope`: learn the challenge, drop a stale token. Errors when there
    /// is nothing new to try.
    fn on_unauthorized(&self, header: Option<&str>, scope: &str) -> Result<(), RegistryError> {
        let challenge = header.and_then(auth::parse_challenge).ok_or_else(|| {
            RegistryError::Unauthorized(format!(
                "{} answered 401 without a usable challenge",
                self.host
            ))
        })?;
        match challenge {
            Challenge::Basic { .. } => {
                if self.credentials()?.is_none() {
                    return Err(RegistryError::Unauthorized(format!(
                        "{} requires credentials: run `dock login {}` or add them to {}",
                        self.host,
                        self.domain,
                        auth::docker_config_dir().join("config.json").display()
                    )));
                }
                *lock(&self.auth) = AuthState::Basic;
            }
            Challenge::Bearer { realm, service, .. } => {
                lock(&self.tokens).remove(scope);
                *lock(&self.auth) = AuthState::Bearer { realm, service };
            }
        }
        Ok(())
    }

    /// Send a request with auth, bounded redirects and retries. Returns a 2xx response, or the
    /// 404 response when `allow_404`, otherwise an error.
    pub fn send(&self, req: &Req) -> Result<ureq::Response, RegistryError> {
        let opts = &self.client.opts;
        let mut url = self.url(&req.url);
        let mut redirects = 0;
        let mut attempt = 0;
        let mut auth_retried = false;
        loop {
            let same_host = self.same_host(&url);
            let mut r = self.client.agent.request(req.method, &url);
            for (k, v) in &req.headers {
                r = r.set(k, v);
            }
            if same_host {
                if let Some(a) = self.authorization(&req.scope)? {
                    r = r.set("Authorization", &a);
                }
            }
            let result = match &req.body {
                Body::Empty => r.call(),
                Body::Bytes(b) => r.send_bytes(b),
                Body::File { path, len } => {
                    let f = std::fs::File::open(path).map_err(|e| RegistryError::Transport {
                        method: req.method.into(),
                        url: url.clone(),
                        detail: format!("open {}: {e}", path.display()),
                    })?;
                    r.set("Content-Length", &len.to_string()).send(f)
                }
            };
            match result {
                Ok(resp) if (300..400).contains(&resp.status()) => {
                    redirects += 1;
                    if redirects > opts.max_redirects {
                        return Err(RegistryError::TooManyRedirects {
                            url: self.url(&req.url),
                            max: opts.max_redirects,
                        });
                    }
                    let loc = resp
                        .header("location")
                        .ok_or_else(|| RegistryError::Protocol {
                            url: url.clone(),
                            detail: format!("HTTP {} without Location", resp.status()),
                        })?;
                    url = resolve(&url, loc);
                }
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if same_host && !auth_retried => {
                    auth_retried = true;
                    self.on_unauthorized(resp.header("www-authenticate"), &req.scope)?;
                }
                Err(ureq::Error::Status(401, resp)) => {
                    let detail = error_detail(resp);
                    return Err(RegistryError::Unauthorized(format!(
                        "{} {url}: the registry refused the credentials{detail}",
                        req.method
                    )));
                }
                Err(ureq::Error::Status(code, resp))
                    if (code >= 500 || code == 429) && attempt < opts.retries =>
                {
                    let wait = resp
                        .header("retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    drop(resp);
                    match wait {
                        Some(s) => std::thread::sleep(Duration::from_secs(s.min(10))),
                        None => self.backoff(attempt),
                    }
                    attempt += 1;
                }
                Err(ureq::Error::Status(code, resp)) => {
                    return Err(status_error(req.method, &url, code, resp))
                }
                Err(ureq::Error::Transport(t)) => {
                    if attempt < opts.retries {
                        tracing::debug!("{} {url}: {t}; retrying", req.method);
                        self.backoff(attempt);
                        attempt += 1;
                    } else {
                        return Err(RegistryError::Transport {
                            method: req.method.into(),
                            url,
                            detail: transport_detail(&t),
                        });
                    }
                }
            }
        }
    }

    fn get(&self, path: String, scope: String, headers: Vec<(String, String)>) -> Req {
        Req {
            method: "GET",
            url: path,
            scope,
            headers,
            body: Body::Empty,
        }
    }

    /// Fetch a manifest by tag or digest: its bytes (at most the size limit), media type and
    /// digest. A manifest asked for by digest is verified against it.
    pub fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<(Vec<u8>, String, Digest), RegistryError> {
        let limit = self.client.opts.max_manifest_size;
        let req = self.get(
            format!("/v2/{repo}/manifests/{reference}"),
            scope(repo, "pull"),
            vec![("Accept".into(), ACCEPT.join(", "))],
        );
        let resp = self.send(&req)?;
        let too_large = || RegistryError::ManifestTooLarge {
            reference: format!("{}/{repo}:{reference}", self.domain)
                .replace(":sha256:", "@sha256:"),
            limit,
        };
        if let Some(len) = resp
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len > limit {
                return Err(too_large());
            }
        }
        let content_type = resp.content_type().to_string();
        let url = resp.get_url().to_string();
        let mut body = Vec::new();
        resp.into_reader()
            .take(limit + 1)
            .read_to_end(&mut body)
            .map_err(|e| RegistryError::Transport {
                method: "GET".into(),
                url,
                detail: e.to_string(),
            })?;
        if body.len() as u64 > limit {
            return Err(too_large());
        }
        let digest = match Digest::parse(reference) {
            Ok(want) => {
                let mut h = crate::digest::Hasher::new(want.algorithm());
                h.update(&body);
                let actual = h.finish();
                if actual != want {
                    return Err(RegistryError::ManifestDigestMismatch {
                        reference: format!("{}/{repo}@{want}", self.domain),
                        actual,
                    });
                }
                want
            }
            Err(_) => Digest::sha256_of(&body),
        };
        Ok((body, content_type, digest))
    }

    /// Download a blob into `ingest`, resuming from its offset, hashing every byte; commits
    /// only verified content. Any failure discards the partial data.
    pub fn fetch_blob(
        &self,
        repo: &str,
        desc: &Descriptor,
        mut ingest: Ingest,
        on_bytes: &dyn Fn(u64),
    ) -> Result<(), RegistryError> {
        if ingest.already_present() {
            on_bytes(desc.size);
            return Ok(());
        }
        let mut attempt = 0;
        // Data left by an interrupted earlier attempt is trusted only if the whole blob verifies;
        // otherwise the download starts over once from byte 0.
        let mut resumed = ingest.offset() > 0;
        let result = loop {
            match self.fetch_blob_once(repo, desc, &mut ingest, on_bytes) {
                Ok(()) if resumed && !ingest.is_complete_and_valid() => {
                    tracing::debug!(
                        "blob {}: resumed data does not verify; restarting",
                        desc.digest
                    );
                    resumed = false;
                    if let Err(e) = ingest.restart() {
                        break Err(e.into());
                    }
                }
                Ok(()) => break Ok(()),
                Err(e @ RegistryError::Transport { .. }) if attempt < self.client.opts.retries => {
                    tracing::debug!("blob {}: {e}; resuming", desc.digest);
                    self.backoff(attempt);
                    attempt += 1;
                }
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(()) => ingest
                .commit()
                .map_err(|e| RegistryError::from(e).for_blob(&desc.digest)),
            Err(e) => {
                ingest.discard();
                Err(e.for_blob(&desc.digest))
            }
        }
    }

    fn fetch_blob_once(
        &self,
        repo: &str,
        desc: &Descriptor,
        ingest: &mut Ingest,
        on_bytes: &dyn Fn(u64),
    ) -> Result<(), RegistryError> {
        let offset = ingest.offset();
        if offset == desc.size {
            return Ok(());
        }
        let mut headers = Vec::new();
        if offset > 0 {
            headers.push(("Range".to_string(), format!("bytes={offset}-")));
        }
        let req = self.get(
            format!("/v2/{repo}/blobs/{}", desc.digest),
            scope(repo, "pull"),
            headers,
        );
        let resp = self.send(&req)?;
        let url = resp.get_url().to_string();
        let resumed = resp.status() == 206
            && resp
                .header("content-range")
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok())
                == Some(offset);
        if offset > 0 && !resumed {
            ingest.restart()?;
        } else if offset > 0 {
            on_bytes(offset);
        }
        let mut reader = resp.into_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(RegistryError::Transport {
                        method: "GET".into(),
                        url,
                        detail: format!("reading body: {e}"),
                    })
                }
            };
            if n == 0 {
                break;
            }
            ingest.write(&buf[..n])?;
            on_bytes(n as u64);
        }
        Ok(())
    }

    /// Whether the registry has a blob in `repo`.
    pub fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        let req = Req {
            method: "HEAD",
            url: format!("/v2/{repo}/blobs/{digest}"),
            scope: scope(repo, "pull,push"),
            headers: Vec::new(),
            body: Body::Empty,
        };
        match self.send(&req) {
            Ok(_) => Ok(true),
            Err(RegistryError::Status { status: 404, .. }) => Ok(false),
            Err(e) => Err(e.for_blob(digest)),
        }
    }

    /// Upload a blob, trying a cross-repository mount from `mount_from` first. Monolithic: POST
    /// to open an upload, PUT the bytes with the digest. Chunked: PATCH `chunk` bytes at a time
    /// with Content-Range, then PUT the digest. Returns true if the blob was mounted.
    pub fn upload_blob(
        &self,
        repo: &str,
        digest: &Digest,
        body: Body,
        mount_from: Option<&str>,
    ) -> Result<bool, RegistryError> {
        self.upload_blob_with(repo, digest, body, mount_from, None)
    }

    /// [`Registry::upload_blob`] with an optional chunk size (chunked upload when given).
    pub fn upload_blob_with(
        &self,
        repo: &str,
        digest: &Digest,
        body: Body,
        mount_from: Option<&str>,
        chunk: Option<u64>,
    ) -> Result<bool, RegistryError> {
        let mut scope_s = scope(repo, "pull,push");
        let mut url = format!("/v2/{repo}/blobs/uploads/");
        if let Some(from) = mount_from.filter(|f| *f != repo) {
            scope_s.push(' ');
            scope_s.push_str(&scope(from, "pull"));
            url = format!("{url}?mount={digest}&from={from}");
        }
        let post = Req {
            method: "POST",
            url,
            scope: scope_s.clone(),
            headers: vec![("Content-Length".into(), "0".into())],
            body: Body::Empty,
        };
        let resp = self.send(&post).map_err(|e| e.for_blob(digest))?;
        if resp.status() == 201 {
            return Ok(true);
        }
        let mut upload = location(&resp).map_err(|e| e.for_blob(digest))?;
        let body = match (chunk, body) {
            (Some(chunk), Body::File { path, len }) if chunk > 0 => {
                upload = self
                    .patch_chunks(&upload, &scope_s, &path, len, chunk)
                    .map_err(|e| e.for_blob(digest))?;
                Body::Empty
            }
            (_, body) => body,
        };
        let sep = if upload.contains('?') { '&' } else { '?' };
        let mut headers = vec![(
            "Content-Type".to_string(),
            "application/octet-stream".to_string(),
        )];
        if matches!(body, Body::Empty) {
            headers.push(("Content-Length".into(), "0".into()));
        }
        let put = Req {
            method: "PUT",
            url: format!("{upload}{sep}digest={digest}"),
            scope: scope_s,
            headers,
            body,
        };
        self.send(&put).map_err(|e| e.for_blob(digest))?;
        Ok(false)
    }

    fn patch_chunks(
        &self,
        upload: &str,
        scope_s: &str,
        path: &std::path::Path,
        len: u64,
        chunk: u64,
    ) -> Result<String, RegistryError> {
        use std::io::{Seek, SeekFrom};
        let io = |e: std::io::Error| RegistryError::Transport {
            method: "PATCH".into(),
            url: upload.to_string(),
            detail: format!("read {}: {e}", path.display()),
        };
        let mut f = std::fs::File::open(path).map_err(io)?;
        let mut upload = upload.to_string();
        let mut offset = 0u64;
        while offset < len {
            let n = chunk.min(len - offset);
            let mut buf = vec![0u8; n as usize];
            f.seek(SeekFrom::Start(offset)).map_err(io)?;
            f.read_exact(&mut buf).map_err(io)?;
            let req = Req {
                method: "PATCH",
                url: upload.clone(),
                scope: scope_s.to_string(),
                headers: vec![
                    ("Content-Type".into(), "application/octet-stream".into()),
                    (
                        "Content-Range".into(),
                        format!("{offset}-{}", offset + n - 1),
                    ),
                ],
                body: Body::Bytes(buf),
            };
            let resp = self.send(&req)?;
            upload = location(&resp)?;
            offset += n;
        }
        Ok(upload)
    }

    /// Check that the configured credentials are accepted (`GET /v2/` with auth).
    pub fn check_login(&self) -> Result<(), RegistryError> {
        let req = self.get("/v2/".into(), String::new(), Vec::new());
        self.send(&req).map(|_| ())
    }

    /// PUT a manifest under a tag or digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> Result<(), RegistryError> {
        let req = Req {
            method: "PUT",
            url: format!("/v2/{repo}/manifests/{reference}"),
            scope: scope(repo, "pull,push"),
            headers: vec![("Content-Type".into(), media_type.into())],
            body: Body::Bytes(body),
        };
        self.send(&req)?;
        Ok(())
    }
}

/// The absolute upload URL from a response's Location header.
fn location(resp: &ureq::Response) -> Result<String, RegistryError> {
    let loc = resp
        .header("location")
        .ok_or_else(|| RegistryError::Protocol {
            url: resp.get_url().to_string(),
            detail: format!("HTTP {} without Location", resp.status()),
        })?;
    Ok(resolve(resp.get_url(), loc))
}

/// `scheme://host:port` of a URL.
fn authority(url: &str) -> &str {
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after..]
        .find(['/', '?', '#'])
        .map(|i| after + i)
        .unwrap_or(url.len());
    &url[..end]
}

/// Resolve a Location header against the URL it came from.
pub fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{}{location}", authority(base))
    } else {
        let path_end = base.find('?').unwrap_or(base.len());
        let dir = &base[..path_end];
        let dir = &dir[..dir.rfind('/').map(|i| i + 1).unwrap_or(dir.len())];
        format!("{dir}{location}")
    }
}

fn transport_detail(t: &ureq::Transport) -> String {
    let mut s = t.kind().to_string();
    if let Some(m) = t.message() {
        s.push_str(": ");
        s.push_str(m);
    }
    if let Some(src) = std::error::Error::source(t) {
        s.push_str(": ");
        s.push_str(&src.to_string());
    }
    s
}

/// `: CODE: message` from a distribution error body, if any.
fn error_detail(resp: ureq::Response) -> String {
    let mut body = Vec::new();
    let _ = resp.into_reader().take(64 << 10).read_to_end(&mut body);
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(&body) {
        Ok(e) if !e.errors.is_empty() => {
            let parts: Vec<String> = e
                .errors
                .iter()
                .map(|i| format!("{}: {}", i.code, i.message))
                .collect();
            format!(" ({})", parts.join("; "))
        }
        _ => String::new(),
    }
}

fn status_error(method: &str, url: &str, status: u16, resp: ureq::Response) -> RegistryError {
    RegistryError::Status {
        method: method.to_string(),
        url: url.to_string(),
        status,
        detail: error_detail(resp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            authority("http://127.0.0.1:5000/v2/x?y"),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            resolve(
                "http://a:1/v2/x/blobs/uploads/",
                "/v2/x/blobs/uploads/u?s=1"
            ),
            "http://a:1/v2/x/blobs/uploads/u?s=1"
        );
        assert_eq!(resolve("https://a/v2/x", "https://b/y"), "https://b/y");
        assert_eq!(resolve("https://a/v2/x?q", "y"), "https://a/v2/y");
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com"));
        assert!(!is_loopback("localhost.evil.com"));
        assert!(!is_loopback("127.evil.com"));
    }

    #[test]
    fn scheme_choice() {
        let c = Client::new(ClientOptions {
            insecure_registries: vec!["reg.lan:5000".into()],
            ..Default::default()
        });
        assert_eq!(
            c.registry("127.0.0.1:5000").base_url(),
            "http://127.0.0.1:5000"
        );
        assert_eq!(c.registry("reg.lan:5000").base_url(), "http://reg.lan:5000");
        assert_eq!(c.registry("quay.io").base_url(), "https://quay.io");
        assert_eq!(
            c.registry("docker.io").base_url(),
            "https://registry-1.docker.io"
        );
    }
}
