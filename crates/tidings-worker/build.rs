//! Writes `openapi.json` without the whitespace between its tokens into
//! `OUT_DIR`, for `GET /openapi.json` (`src/routes/meta.rs`): the same
//! document, keys in the same order, about 7 KB less of the worker's
//! compressed upload than the indented file.

use std::{env, fs, path::Path};

fn main() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = fs::read_to_string(&source).expect("openapi.json is readable");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.json");
    fs::write(out, without_whitespace(&text)).expect("OUT_DIR is writable");
}

/// `json` without the whitespace outside its strings (a string's own
/// characters, escapes included, are kept as they are).
fn without_whitespace(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for character in json.chars() {
        if in_string {
            out.push(character);
            match (escaped, character) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !matches!(character, ' ' | '\t' | '\n' | '\r') {
            in_string = character == '"';
            out.push(character);
        }
    }
    out
}
