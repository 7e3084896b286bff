//! Arbitrary strings as image references (`dock pull/run/tag` take them from the user and
//! from image indexes): `Reference::parse` must not panic, a refusal must be one printable
//! line, and an accepted reference must come back unchanged from its own familiar form
//! (what dock prints), so that what is shown is what is pulled.
#![no_main]

use dock::reference::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match Reference::parse(input) {
        Err(e) => {
            let msg = e.to_string();
            assert!(!e.reason.trim().is_empty(), "empty reason: {msg:?}");
            assert!(
                !msg.chars().any(char::is_control),
                "control character in error {msg:?}"
            );
        }
        Ok(r) => {
            let shown = r.to_string();
            assert_eq!(
                Reference::parse(&shown).as_ref(),
                Ok(&r),
                "{input:?} is shown as {shown:?}, which parses differently"
            );
            let _ = (r.registry_host(), r.manifest_ref(), r.store_name());
        }
    }
});
