//! Image references as docker parses them.
//!
//! `busybox` is `docker.io/library/busybox:latest`; `user/app` is `docker.io/user/app:latest`;
//! the first path component is a registry host when it contains `.` or `:` or is `localhost`;
//! a reference may carry a tag, a digest (`@sha256:...`) or both (the digest then decides what
//! is pulled).

use crate::digest::Digest;
use std::fmt;

/// The registry used when a reference names none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The host that serves the API for [`DEFAULT_DOMAIN`].
pub const DEFAULT_REGISTRY_HOST: &str = "registry-1.docker.io";
/// The tag used when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;

/// A fully qualified image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry domain, possibly with a port: `docker.io`, `127.0.0.1:5000`.
    pub domain: String,
    /// Repository path inside the registry: `library/busybox`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// Why a reference string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid reference format {input:?}: {reason}")]
pub struct InvalidReference {
    pub input: String,
    pub reason: String,
}

fn invalid(input: &str, reason: impl Into<String>) -> InvalidReference {
    InvalidReference {
        input: input.to_string(),
        reason: reason.into(),
    }
}

impl Reference {
    /// Parse a reference the way `docker pull` does, applying docker.io defaults. A reference
    /// with neither tag nor digest gets the tag `latest`.
    pub fn parse(input: &str) -> Result<Self, InvalidReference> {
        if input.is_empty() {
            return Err(invalid(input, "empty reference"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((name, d)) => {
                let digest = Digest::parse(d).map_err(|e| invalid(input, e.to_string()))?;
                (name, Some(digest))
            }
            None => (input, None),
        };
        // A tag is a ':' after the last '/', so that "host:5000/name" is not read as a tag.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(rest[at + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag {
            validate_tag(t).map_err(|r| invalid(input, r))?;
        }
        let (domain, path) = split_domain(name);
        validate_domain(&domain).map_err(|r| invalid(input, r))?;
        validate_path(&path).map_err(|r| invalid(input, r))?;
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(invalid(
                input,
                "repository name must not be longer than 255 characters",
            ));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (t, _) => t,
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// `domain/path`, the fully qualified repository name.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as docker shows it: `busybox`, `user/app`, `host:5000/ns/app`.
    /// `docker.io/` stays when the path's first component would read as a registry host
    /// (`docker.io/libr.io/app`, not `libr.io/app`), so that the shown name parses back to
    /// this repository and not to one on another registry.
    pub fn familiar_repository(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.repository();
        }
        let short = match self.path.strip_prefix("library/") {
            Some(p) if !p.contains('/') => p,
            _ => self.path.as_str(),
        };
        match short.split_once('/') {
            Some((first, _)) if names_registry(first) => self.repository(),
            _ => short.to_string(),
        }
    }

    /// What a registry's manifest endpoint is asked for: the digest if there is one, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// The host:port serving the registry API for this reference's domain.
    pub fn registry_host(&self) -> &str {
        if self.domain == DEFAULT_DOMAIN {
            DEFAULT_REGISTRY_HOST
        } else {
            &self.domain
        }
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// The name stored in the image index (`org.opencontainers.image.ref.name`): the fully
    /// qualified `domain/path:tag`, or `domain/path@digest` for a digest-only reference.
    pub fn store_name(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), _) => format!("{}:{}", self.repository(), t),
            (None, Some(d)) => format!("{}@{}", self.repository(), d),
            (None, None) => format!("{}:{}", self.repository(), DEFAULT_TAG),
        }
    }
}

impl fmt::Display for Reference {
    /// The familiar form: `busybox:latest`, `host:5000/app:1@sha256:...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.familiar_repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = InvalidReference;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if names_registry(first) => (first.to_string(), rest.to_string()),
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (domain, path)
}

/// Whether the first component of a name is a registry host rather than part of the path.
fn names_registry(first: &str) -> bool {
    first.contains('.')
        || first.contains(':')
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn validate_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
        ))
    }
}

fn validate_domain(domain: &str) -> Result<(), String> {
    let (host, port) = if let Some(end) = domain.find(']') {
        match &domain[end + 1..] {
            "" => (domain, None),
            rest => match rest.strip_prefix(':') {
                Some(p) => (&domain[..end + 1], Some(p)),
                None => return Err(format!("invalid registry host {domain:?}")),
            },
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return Err(format!("invalid port in registry {domain:?}"));
        }
    }
    let ipv6 = host.starts_with('[') && host.ends_with(']');
    let valid = if ipv6 {
        host[1..host.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    if valid {
        Ok(())
    } else {
        Err(format!("invalid registry host {domain:?}"))
    }
}

fn validate_path(path: &str) -> Result<(), String> {
    for component in path.split('/') {
        if !valid_component(component) {
            return Err(format!(
                "repository name component {component:?} must be lowercase letters, digits and \
                 single separators (. _ __ -)"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "."
            || sep == "_"
            || sep == "__"
            || (!sep.is_empty() && sep.bytes().all(|x| x == b'-'));
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn official_image_defaults() {
        let r = p("busybox");
        assert_eq!(r.domain, "docker.io");
        assert_eq!(r.path, "library/busybox");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.digest, None);
        assert_eq!(r.store_name(), "docker.io/library/busybox:latest");
        assert_eq!(r.to_string(), "busybox:latest");
        assert_eq!(r.registry_host(), "registry-1.docker.io");
    }

    #[test]
    fn user_image_and_explicit_docker_io() {
        let r = p("user/app:1.2");
        assert_eq!(r.repository(), "docker.io/user/app");
        assert_eq!(r.to_string(), "user/app:1.2");
        assert_eq!(p("docker.io/busybox").path, "library/busybox");
        assert_eq!(p("index.docker.io/library/busybox").domain, "docker.io");
        assert_eq!(p("docker.io/library/busybox:1").to_string(), "busybox:1");
    }

    // Found by the fuzzer (fuzz/fuzz_targets/reference.rs): a docker.io path whose first
    // component looks like a host was shown without docker.io/, naming another registry.
    #[test]
    fn shown_name_keeps_docker_io_when_the_path_looks_like_a_host() {
        let r = p("docker.io/libr.io/library/app");
        assert_eq!(r.to_string(), "docker.io/libr.io/library/app:latest");
        assert_eq!(p(&r.to_string()), r);
        let r = p("docker.io/localhost/app:1");
        assert_eq!(r.familiar_repository(), "docker.io/localhost/app");
        assert_eq!(p(&r.to_string()), r);
        // The ordinary forms stay short.
        assert_eq!(p("docker.io/user/app").to_string(), "user/app:latest");
        assert_eq!(p("docker.io/library/libr.io").to_string(), "libr.io:latest");
        assert_eq!(
            p(&p("docker.io/library/libr.io").to_string()).path,
            "library/libr.io"
        );
    }

    #[test]
    fn host_port_namespace_tag() {
        let r = p("127.0.0.1:5000/ns/name:v1");
        assert_eq!(r.domain, "127.0.0.1:5000");
        assert_eq!(r.path, "ns/name");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.registry_host(), "127.0.0.1:5000");
        assert_eq!(r.to_string(), "127.0.0.1:5000/ns/name:v1");
        let r = p("localhost/app");
        assert_eq!(r.domain, "localhost");
        assert_eq!(r.path, "app");
        let r = p("localhost:5000/app");
        assert_eq!(r.domain, "localhost:5000");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = p("quay.io/org/sub/app");
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            ("quay.io", "org/sub/app")
        );
    }

    #[test]
    fn digest_only_and_tag_plus_digest() {
        let r = p(&format!("busybox@{D}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_ref().unwrap().to_string(), D);
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.store_name(), format!("docker.io/library/busybox@{D}"));
        let r = p(&format!("host:5000/a/b:t1@{D}"));
        assert_eq!(r.tag.as_deref(), Some("t1"));
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.to_string(), format!("host:5000/a/b:t1@{D}"));
    }

    #[test]
    fn separators() {
        assert!(Reference::parse("ns/a.b_c__d---e/f").is_ok());
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "busybox@sha256:abc",
            "busybox@sha256:../../etc",
            "a..b",
            "a___b",
            "-a",
            "a-",
            "a//b",
            "/a",
            "host:99999/a",
            "host:/a",
            "a/b/",
            &format!("a:{}", "t".repeat(129)),
            &format!("x/{}", "a".repeat(260)),
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn uppercase_first_component_is_a_host() {
        // docker treats a first component with uppercase letters as a domain.
        let r = p("MyHost/app");
        assert_eq!(r.domain, "MyHost");
    }
}
