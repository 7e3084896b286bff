//! Arbitrary bytes as config.json: `hull::spec::parse`, then `validate` with and without a
//! required process. Neither may panic, and every rejection must be a clear error: one line
//! without control characters (a hostile config must not be able to forge log lines or
//! terminal escapes), and saying where it is wrong — parse errors say `invalid config` and
//! the field path or the line and column; validation errors name the config field.
//! `HULL_FUZZ_SHOW=1` prints every error (for reading what the corpus produces).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The top-level config fields the validator looks at; each of its errors names one.
const FIELDS: &[&str] = &["process", "root", "hostname", "mounts", "hooks", "linux"];

fn check(stage: &str, msg: &str) {
    if std::env::var_os("HULL_FUZZ_SHOW").is_some() {
        eprintln!("{stage}: {msg}");
    }
    let what = msg
        .strip_prefix("config.json: ")
        .or_else(|| msg.strip_prefix("invalid config: "))
        .unwrap_or(msg);
    assert!(!what.trim().is_empty(), "{stage}: empty error {msg:?}");
    assert!(
        !msg.chars().any(char::is_control),
        "{stage}: control character in error {msg:?}"
    );
    if stage == "parse" {
        assert!(msg.starts_with("invalid config"), "{stage}: {msg:?}");
        // Says where: the field, or the line and column of a syntax error.
        assert!(
            msg.starts_with("invalid config field ") || msg.contains(" at line "),
            "{stage}: error says neither field nor position: {msg:?}"
        );
        if let Some(rest) = msg.strip_prefix("invalid config field ") {
            let (path, why) = rest.split_once(": ").unwrap_or((rest, ""));
            assert!(
                !path.is_empty() && !why.trim().is_empty(),
                "{stage}: {msg:?}"
            );
        }
    } else {
        assert!(
            FIELDS.iter().any(|f| msg.contains(f)),
            "{stage}: error names no config field: {msg:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    match hull::spec::parse(data) {
        Err(e) => check("parse", &e),
        Ok(spec) => {
            for need_process in [true, false] {
                if let Err(e) = hull::spec::validate(&spec, need_process) {
                    check("validate", &e.to_string());
                }
            }
        }
    }
});
