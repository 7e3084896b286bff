//! Registry authentication: WWW-Authenticate challenges, credentials from docker's
//! `config.json` (auths with base64 `auth`, `credHelpers`, `credsStore`), and `dock login`.

use base64::Engine as _;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: String,
    },
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parse `Bearer realm="https://x/token",service="reg",scope="repository:a:pull"` or
/// `Basic realm="Registry"`. Unknown schemes give None.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic {
            realm: params.get("realm").cloned().unwrap_or_default(),
        }),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

/// `k="v", k2=v2` with quoted values that may contain commas and escaped quotes.
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        let key = s[ks..i].trim().to_ascii_lowercase();
        if i >= b.len() {
            break;
        }
        i += 1; // '='
        let mut val = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                let ch_len = s[i..].chars().next().map(char::len_utf8).unwrap_or(1);
                val.push_str(&s[i..i + ch_len]);
                i += ch_len;
            }
            i += 1;
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            val = s[vs..i].trim().to_string();
        }
        if !key.is_empty() {
            out.insert(key, val);
        }
    }
    out
}

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ username: {:?}, password: <redacted> }}",
            self.username
        )
    }
}

impl Credentials {
    /// The value of an `Authorization: Basic ...` header.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// Failures reading or writing credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("{path}: {detail}")]
    Config { path: PathBuf, detail: String },
    #[error("credential helper docker-credential-{helper}: {detail}")]
    Helper { helper: String, detail: String },
}

/// docker's client configuration directory: `$DOCKER_CONFIG` or `~/.docker`.
pub fn docker_config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker")
}

/// The key docker uses in config.json for a registry host.
pub fn config_key(host: &str) -> String {
    if host == "docker.io" || host == "registry-1.docker.io" || host == "index.docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        host.to_string()
    }
}

fn read_config() -> Result<(PathBuf, serde_json::Value), CredentialsError> {
    let path = docker_config_dir().join("config.json");
    match std::fs::read(&path) {
        Ok(data) => {
            let v = serde_json::from_slice(&data).map_err(|e| CredentialsError::Config {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            Ok((path, v))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((path, serde_json::Value::Object(Default::default())))
        }
        Err(e) => Err(CredentialsError::Config {
            path,
            detail: e.to_string(),
        }),
    }
}

/// Look up credentials for `domain` (a reference's domain, e.g. `docker.io`, `host:5000`):
/// a `credHelpers` entry, else the `auths` entry, else `credsStore`.
pub fn lookup(domain: &str) -> Result<Option<Credentials>, CredentialsError> {
    let (path, cfg) = read_config()?;
    let key = config_key(domain);
    if let Some(helper) = cfg
        .get("credHelpers")
        .and_then(|h| h.get(&key).or_else(|| h.get(domain)))
        .and_then(|v| v.as_str())
    {
        return helper_get(helper, &key);
    }
    if let Some(auths) = cfg.get("auths").and_then(|a| a.as_object()) {
        let candidates = [
            key.clone(),
            format!("https://{domain}"),
            format!("http://{domain}"),
            format!("https://{domain}/v1/"),
            format!("https://{domain}/v2/"),
        ];
        for c in &candidates {
            if let Some(entry) = auths.get(c) {
                if let Some(creds) =
                    decode_auth_entry(entry).map_err(|detail| CredentialsError::Config {
                        path: path.clone(),
                        detail: format!("auths[{c:?}]: {detail}"),
                    })?
                {
                    return Ok(Some(creds));
                }
            }
        }
    }
    if let Some(store) = cfg.get("credsStore").and_then(|v| v.as_str()) {
        return helper_get(store, &key);
    }
    Ok(None)
}

fn decode_auth_entry(entry: &serde_json::Value) -> Result<Option<Credentials>, String> {
    if let Some(auth) = entry.get("auth").and_then(|v| v.as_str()) {
        if auth.is_empty() {
            return Ok(None);
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|e| format!("auth is not base64: {e}"))?;
        let raw = String::from_utf8(raw).map_err(|_| "auth is not UTF-8".to_string())?;
        let (u, p) = raw
            .split_once(':')
            .ok_or_else(|| "auth is not user:password".to_string())?;
        return Ok(Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    match (
        entry.get("username").and_then(|v| v.as_str()),
        entry.get("password").and_then(|v| v.as_str()),
    ) {
        (Some(u), Some(p)) => Ok(Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        })),
        _ => Ok(None),
    }
}

fn helper_name_ok(helper: &str) -> bool {
    !helper.is_empty()
        && helper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Run `docker-credential-<helper> get` with the server URL on stdin.
fn helper_get(helper: &str, server: &str) -> Result<Option<Credentials>, CredentialsError> {
    let herr = |detail: String| CredentialsError::Helper {
        helper: helper.to_string(),
        detail,
    };
    if !helper_name_ok(helper) {
        return Err(herr("invalid helper name".into()));
    }
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| herr(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| herr(e.to_string()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        return Err(herr(format!("get failed ({}): {msg}", out.status)));
    }
    #[derive(serde::Deserialize)]
    struct HelperOut {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let parsed: HelperOut =
        serde_json::from_slice(&out.stdout).map_err(|e| herr(format!("unreadable output: {e}")))?;
    Ok(Some(Credentials {
        username: parsed.username,
        password: parsed.secret,
    }))
}

/// Save credentials for `domain` the way `docker login` does: through the configured helper if
/// there is one, else as base64 `auth` in config.json (written atomically, mode 0600).
pub fn store(domain: &str, creds: &Credentials) -> Result<PathBuf, CredentialsError> {
    let (path, mut cfg) = read_config()?;
    let key = config_key(domain);
    let helper = cfg
        .get("credHelpers")
        .and_then(|h| h.get(&key))
        .or_else(|| cfg.get("credsStore"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    if let Some(helper) = helper {
        let herr = |detail: String| CredentialsError::Helper {
            helper: helper.clone(),
            detail,
        };
        if !helper_name_ok(&helper) {
            return Err(herr("invalid helper name".into()));
        }
        let payload = serde_json::json!({"ServerURL": key, "Username": creds.username, "Secret": creds.password});
        let mut child = Command::new(format!("docker-credential-{helper}"))
            .arg("store")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| herr(format!("cannot run: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(payload.to_string().as_bytes());
        }
        let out = child.wait_with_output().map_err(|e| herr(e.to_string()))?;
        if !out.status.success() {
            return Err(herr(format!("store failed ({})", out.status)));
        }
        return Ok(path);
    }
    let obj = cfg
        .as_object_mut()
        .ok_or_else(|| CredentialsError::Config {
            path: path.clone(),
            detail: "not a JSON object".into(),
        })?;
    let auths = obj
        .entry("auths")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    let raw = format!("{}:{}", creds.username, creds.password);
    if let Some(a) = auths.as_object_mut() {
        a.insert(
            key,
            serde_json::json!({"auth": base64::engine::general_purpose::STANDARD.encode(raw)}),
        );
    }
    let dir = docker_config_dir();
    std::fs::create_dir_all(&dir).map_err(|e| CredentialsError::Config {
        path: dir.clone(),
        detail: e.to_string(),
    })?;
    let data = serde_json::to_vec_pretty(&cfg).unwrap_or_default();
    crate::store::atomic_write(&path, &data).map_err(|e| CredentialsError::Config {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic {
                realm: "Registry Realm".into()
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn auth_entries() {
        let e = serde_json::json!({"auth": "dXNlcjpwYTpzcw=="}); // user:pa:ss
        let c = decode_auth_entry(&e).unwrap().unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("user", "pa:ss")
        );
        assert!(decode_auth_entry(&serde_json::json!({"auth": "!!"})).is_err());
        assert!(decode_auth_entry(&serde_json::json!({})).unwrap().is_none());
        assert_eq!(config_key("docker.io"), "https://index.docker.io/v1/");
        assert!(!helper_name_ok("../../bin/sh"));
    }
}
