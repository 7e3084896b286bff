//! Arbitrary registry responses as manifests: the first byte picks the Content-Type the
//! registry claimed, the rest is the body. `Manifest::parse` must not panic, a refusal must be
//! a non-empty printable line, and what an index yields (platform selection, the platform list
//! for errors) must not panic either.
#![no_main]

use dock::manifest::{self, Manifest, Platform};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[&str] = &[
    "",
    manifest::OCI_INDEX,
    manifest::DOCKER_LIST,
    manifest::OCI_MANIFEST,
    manifest::DOCKER_MANIFEST,
    manifest::DOCKER_SCHEMA1,
    "application/json; charset=utf-8",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[pick as usize % CONTENT_TYPES.len()];
    match Manifest::parse(content_type, body) {
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.chars().any(char::is_control),
                "control character in error {msg:?}"
            );
        }
        Ok((Manifest::Index(index), media_type)) => {
            assert!(!media_type.is_empty());
            for want in ["linux/amd64", "linux/arm64", "linux/arm/v7"] {
                let want = Platform::parse(want).expect("a valid platform");
                let _ = index.select(&want);
            }
            let _ = index.platforms();
        }
        Ok((Manifest::Image(image), media_type)) => {
            assert!(!media_type.is_empty());
            let _ = image.layers.len();
        }
    }
});
