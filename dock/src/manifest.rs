//! Manifest, index and descriptor types shared by the registry client and the store: OCI image
//! manifest and index, Docker schema 2 manifest and manifest list (same JSON shapes, other media
//! types), and platform selection.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The annotation naming an image in an OCI layout's index.json.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Every manifest type dock accepts, for the Accept header.
pub const ACCEPT: &[&str] = &[OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

impl Descriptor {
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (OCI index or Docker manifest list).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A platform, as in an index entry and on the command line (`os/arch[/variant]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

/// Why a `--platform` value was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid platform {0:?}: want os/arch[/variant], e.g. linux/amd64 or linux/arm/v7")]
pub struct InvalidPlatform(pub String);

impl Platform {
    /// The platform of this machine, in OCI names.
    pub fn host() -> Self {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "powerpc64" => ("ppc64le", None),
            "loongarch64" => ("loong64", None),
            other => (other, None),
        };
        Platform {
            architecture: architecture.to_string(),
            os: std::env::consts::OS.to_string(),
            variant: variant.map(str::to_string),
            os_version: None,
        }
    }

    /// Parse `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Self, InvalidPlatform> {
        let parts: Vec<&str> = s.split('/').collect();
        let good = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| good(p)) {
            return Err(InvalidPlatform(s.to_string()));
        }
        let architecture = match parts[1] {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        Ok(Platform {
            os: parts[0].to_lowercase(),
            architecture: architecture.to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
            os_version: None,
        })
    }

    /// Whether an index entry's platform satisfies this (wanted) platform. A wanted variant must
    /// match, except that arm64 without a variant is arm64/v8; a wanted platform without variant
    /// takes any variant.
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        let norm = |v: &Option<String>| -> Option<String> {
            match (self.architecture.as_str(), v.as_deref()) {
                ("arm64", None) => Some("v8".to_string()),
                (_, v) => v.map(str::to_string),
            }
        };
        match (&self.variant, &candidate.variant) {
            (None, _) => true,
            (want, have) => norm(want) == norm(have),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A parsed manifest document of either kind.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // short-lived; boxing would only add noise at every match
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// Why a manifest document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("unsupported manifest media type {0:?} (schema 1 and unknown types are not pulled)")]
    Unsupported(String),
    #[error("malformed manifest: {0}")]
    Malformed(String),
}

impl Manifest {
    /// Parse a manifest body. `content_type` is the registry's Content-Type (may be empty or
    /// generic); the document's own `mediaType` and shape decide when it is not specific.
    pub fn parse(content_type: &str, body: &[u8]) -> Result<(Self, String), ManifestError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            #[serde(default)]
            schema_version: Option<u32>,
            #[serde(default)]
            media_type: Option<String>,
            #[serde(default)]
            manifests: Option<serde_json::Value>,
            #[serde(default)]
            config: Option<serde_json::Value>,
        }
        let probe: Probe =
            serde_json::from_slice(body).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        let ct = content_type.split(';').next().unwrap_or("").trim();
        let mt = if ACCEPT.contains(&ct) || ct == DOCKER_SCHEMA1 || ct == DOCKER_SCHEMA1_SIGNED {
            ct.to_string()
        } else if let Some(m) = &probe.media_type {
            m.clone()
        } else if probe.manifests.is_some() {
            OCI_INDEX.to_string()
        } else if probe.config.is_some() {
            OCI_MANIFEST.to_string()
        } else {
            ct.to_string()
        };
        if probe.schema_version != Some(2) {
            return Err(ManifestError::Unsupported(if mt.is_empty() {
                format!("schemaVersion {:?}", probe.schema_version)
            } else {
                mt
            }));
        }
        let m = match mt.as_str() {
            OCI_INDEX | DOCKER_LIST => Manifest::Index(
                serde_json::from_slice(body)
                    .map_err(|e| ManifestError::Malformed(e.to_string()))?,
            ),
            OCI_MANIFEST | DOCKER_MANIFEST => Manifest::Image(
                serde_json::from_slice(body)
                    .map_err(|e| ManifestError::Malformed(e.to_string()))?,
            ),
            other => return Err(ManifestError::Unsupported(other.to_string())),
        };
        Ok((m, mt))
    }
}

impl ImageIndex {
    /// The entry for `want`, skipping attestation manifests (platform unknown/unknown).
    /// An index whose only image entry has no platform yields that entry.
    pub fn select(&self, want: &Platform) -> Option<&Descriptor> {
        let images: Vec<&Descriptor> = self
            .manifests
            .iter()
            .filter(|d| ACCEPT.contains(&d.media_type.as_str()) || d.media_type.is_empty())
            .collect();
        if let [only] = images.as_slice() {
            if only.platform.is_none() {
                return Some(only);
            }
        }
        images
            .into_iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
    }

    /// The platforms the index offers, for error messages.
    pub fn platforms(&self) -> Vec<String> {
        self.manifests
            .iter()
            .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
            .collect()
    }
}

/// The parts of an image config dock reads (the rest is kept verbatim in the blob).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfigSummary {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parse_and_match() {
        let p = Platform::parse("linux/arm64").unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        let v8 = Platform::parse("linux/arm64/v8").unwrap();
        assert!(v8.matches(&p));
        assert!(p.matches(&v8));
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        let v6 = Platform::parse("linux/arm/v6").unwrap();
        assert!(!v7.matches(&v6));
        assert!(Platform::parse("linux/arm").unwrap().matches(&v6));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/amd64/v1/x").is_err());
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().architecture,
            "amd64"
        );
    }

    #[test]
    fn parse_kinds() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":1,"platform":{{"os":"linux","architecture":"arm64"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":2,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        );
        let (m, mt) = Manifest::parse("application/json", idx.as_bytes()).unwrap();
        assert_eq!(mt, OCI_INDEX);
        let Manifest::Index(i) = m else {
            panic!("not an index")
        };
        let sel = i.select(&Platform::parse("linux/amd64").unwrap()).unwrap();
        assert_eq!(sel.size, 2);
        assert!(i.select(&Platform::parse("linux/s390x").unwrap()).is_none());

        let bad = r#"{"schemaVersion":2,"config":{"digest":"sha256:../../etc/passwd","size":1},"layers":[]}"#;
        assert!(Manifest::parse(DOCKER_MANIFEST, bad.as_bytes()).is_err());
        let s1 = r#"{"schemaVersion":1,"name":"x"}"#;
        assert!(matches!(
            Manifest::parse(DOCKER_SCHEMA1_SIGNED, s1.as_bytes()),
            Err(ManifestError::Unsupported(_))
        ));
    }
}
