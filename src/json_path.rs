//! Name the field a JSON deserialisation error is about (`process.user.uid`), from the error's
//! line and column. serde_path_to_error does this by wrapping every deserializer, which for
//! oci-spec's types added half a megabyte of code to a binary whose resident size is a
//! benchmark target; an error only needs the path once, so it is recomputed from the text.

/// A deserialisation error as users should read it: `invalid WHAT field PATH: ERROR`, or
/// `invalid WHAT: ERROR` when it concerns the document as a whole. Keys that are not plain
/// names (`net.ipv4.ip_forward`, or anything a hostile document chose) are quoted, and control
/// characters are escaped everywhere, so the message is one line that cannot carry terminal
/// escapes (both found by fuzz/fuzz_targets/config.rs).
pub fn describe(data: &[u8], err: &serde_json::Error, what: &str) -> String {
    let path = if err.line() == 0 {
        String::new()
    } else {
        path_at(data, offset_of(data, err.line(), err.column()))
    };
    // serde echoes offending strings (`unknown variant ...`) without escaping them.
    let inner = printable(&err.to_string());
    if path.is_empty() {
        format!("invalid {what}: {inner}")
    } else {
        format!("invalid {what} field {path}: {inner}")
    }
}

/// `T` from a JSON value built in memory (a `--process` file with runc's defaults filled in,
/// `update`'s flags), with errors that name the field as `describe` does: only text has
/// positions, so the value goes through text once.
pub fn from_value<T: serde::de::DeserializeOwned>(
    v: &serde_json::Value,
    what: &str,
) -> Result<T, String> {
    let text = serde_json::to_vec(v).map_err(|e| format!("invalid {what}: {e}"))?;
    serde_json::from_slice(&text).map_err(|e| describe(&text, &e, what))
}

/// `s` with every control character escaped (`\n`, `\u{1b}`).
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A key as a path segment: `.name` for plain names, `["any\u{1b}thing"]` otherwise.
fn push_key(out: &mut String, raw: &str) {
    // The raw text still has JSON's escapes; decode them so `\u001b` shows as what it is.
    let key: String =
        serde_json::from_str(&format!("\"{raw}\"")).unwrap_or_else(|_| raw.to_string());
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&key);
    } else {
        out.push_str(&format!("[{key:?}]"));
    }
}

/// Byte offset of a 1-based line and column (serde_json's columns count bytes).
fn offset_of(data: &[u8], line: usize, column: usize) -> usize {
    let mut off = 0;
    for _ in 1..line {
        match data[off..].iter().position(|&b| b == b'\n') {
            Some(n) => off += n + 1,
            None => return data.len(),
        }
    }
    (off + column).min(data.len())
}

enum Frame {
    /// In an object: the last key read, and whether its value has started.
    Object(Option<String>),
    /// In an array: the index of the current element.
    Array(usize),
}

/// The dotted path (`mounts[2].options`) of the value being read at byte `end`.
fn path_at(data: &[u8], end: usize) -> String {
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    // The last string read, and whether a ':' followed it (making it a key).
    let mut last_string: Option<String> = None;
    while i < end && i < data.len() {
        match data[i] {
            b'{' => stack.push(Frame::Object(None)),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                // The error column points just past the token that failed: a closing bracket
                // at `end - 1` ends the value the error is about (a missing field, a wrong
                // length), so that value itself is the path, not its last member.
                if i + 1 < end {
                    stack.pop();
                } else {
                    match stack.last_mut() {
                        Some(Frame::Object(k)) => *k = None,
                        Some(Frame::Array(_)) => {
                            stack.pop();
                        }
                        None => {}
                    }
                }
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(n)) => *n += 1,
                Some(Frame::Object(k)) => *k = None,
                None => {}
            },
            b':' => {
                if let Some(Frame::Object(k)) = stack.last_mut() {
                    *k = last_string.take();
                }
            }
            b'"' => {
                let (s, next) = read_string(data, i + 1);
                last_string = Some(s);
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = String::new();
    for f in &stack {
        match f {
            Frame::Object(Some(k)) => push_key(&mut out, k),
            Frame::Object(None) => {}
            Frame::Array(n) => out.push_str(&format!("[{n}]")),
        }
    }
    out
}

/// The string starting at `start` (just past its opening quote), escapes kept as written, and
/// the offset just past its closing quote.
fn read_string(data: &[u8], start: usize) -> (String, usize) {
    let mut i = start;
    while i < data.len() {
        match data[i] {
            b'\\' => i += 2,
            b'"' => return (String::from_utf8_lossy(&data[start..i]).into_owned(), i + 1),
            _ => i += 1,
        }
    }
    (
        String::from_utf8_lossy(&data[start..]).into_owned(),
        data.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::describe;
    use oci_spec::runtime::Spec;

    fn err_of(text: &str) -> String {
        let e = serde_json::from_str::<Spec>(text).unwrap_err();
        describe(text.as_bytes(), &e, "config")
    }

    #[test]
    fn the_failing_field_is_named() {
        let m = err_of(
            r#"{"ociVersion": "1.0.2", "process": {"cwd": "/", "args": ["sh"], "user": {"uid": "zero", "gid": 0}}}"#,
        );
        assert!(
            m.starts_with("invalid config field process.user.uid: invalid type"),
            "{m}"
        );
        let m = err_of(
            "{\"ociVersion\": \"1.0.2\",\n \"mounts\": [{\"destination\": \"/a\"},\n {\"destination\": 5}]}",
        );
        assert!(
            m.starts_with("invalid config field mounts[1].destination:"),
            "{m}"
        );
        let m = err_of(r#"{"ociVersion": "1.0.2", "process": {"cwd": "/", "args": ["sh", 7]}}"#);
        assert!(
            m.starts_with("invalid config field process.args[1]:"),
            "{m}"
        );
    }

    #[test]
    fn a_missing_field_names_its_object_and_a_bad_document_names_nothing() {
        let m = err_of(r#"{"ociVersion": "1.0.2", "mounts": [{"source": "/a"}]}"#);
        assert!(
            m.starts_with("invalid config field mounts[0]: missing field `destination`"),
            "{m}"
        );
        let m = err_of("not json");
        assert!(m.starts_with("invalid config: expected ident"), "{m}");
        let m = err_of(r#"{"process": {"cwd": "/", "args": ["a\"b:c", 1]}}"#);
        assert!(
            m.starts_with("invalid config field process.args[1]:"),
            "{m}"
        );
        let m = err_of("5");
        assert!(
            m.starts_with("invalid config: invalid type: integer"),
            "{m}"
        );
    }
}
