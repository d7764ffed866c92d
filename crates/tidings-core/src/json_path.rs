//! Which field of a JSON text a deserialization error is about.
//!
//! `serde_json` reports where in the text it stopped (a line and a column),
//! not the field it was reading. A wrong type deep in a request
//! (`{"to":[{"topic":7}]}`) would otherwise be blamed on the whole body.
//! [`field_path`] walks the text up to that position and answers the dotted
//! path the API's errors name fields with (`to.0.topic`).

/// One open container while walking the text.
enum Frame {
    /// An object and the key of the member being read, once one is.
    Object { key: Option<String>, expecting_key: bool },
    /// An array and the index of the element being read, once one is.
    Array { index: Option<usize> },
}

impl Frame {
    /// Notes that a value starts in this container.
    fn value_starts(&mut self) {
        if let Frame::Array { index } = self {
            *index = Some(index.map_or(0, |index| index + 1));
        }
    }

    fn segment(&self) -> Option<String> {
        match self {
            Frame::Object { key, .. } => key.clone(),
            Frame::Array { index } => index.map(|index| index.to_string()),
        }
    }
}

/// The dotted path of the field at `line` and `column` of `text`, as
/// `serde_json` reports an error's position: line one-based, column the
/// byte offset within the line of the next byte it would read, which is
/// just past the value it refused (a wrong type, an unknown variant, an
/// object missing a field), just past an unknown key, or at the start of
/// a container where a scalar was expected. Empty for the top level, or
/// for a position it cannot place.
pub fn field_path(text: &str, line: usize, column: usize) -> String {
    let Some(target) = offset_of(text, line, column) else {
        return String::new();
    };
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut at = 0;
    while at < target {
        match bytes[at] {
            b'{' | b'[' => {
                if let Some(frame) = stack.last_mut() {
                    frame.value_starts();
                }
                stack.push(if bytes[at] == b'{' {
                    Frame::Object { key: None, expecting_key: true }
                } else {
                    Frame::Array { index: None }
                });
                at += 1;
            }
            b'}' | b']' => {
                stack.pop();
                at += 1;
            }
            b',' => {
                if let Some(Frame::Object { expecting_key, .. }) = stack.last_mut() {
                    *expecting_key = true;
                }
                at += 1;
            }
            b'"' => {
                let end = string_end(bytes, at);
                match stack.last_mut() {
                    Some(Frame::Object { key, expecting_key }) if *expecting_key => {
                        *key = Some(decode_key(&text[at..end.min(text.len())]));
                        *expecting_key = false;
                    }
                    Some(frame) => frame.value_starts(),
                    None => {}
                }
                at = end;
            }
            byte if byte.is_ascii_whitespace() || byte == b':' => at += 1,
            _ => {
                if let Some(frame) = stack.last_mut() {
                    frame.value_starts();
                }
                while at < bytes.len()
                    && !matches!(bytes[at], b',' | b'}' | b']' | b':' | b'"')
                    && !bytes[at].is_ascii_whitespace()
                {
                    at += 1;
                }
            }
        }
    }
    // A container where a scalar was expected is reported at its first byte, not yet read:
    // in an array, it is the next element.
    if matches!(bytes.get(target), Some(b'{' | b'[')) {
        if let Some(frame) = stack.last_mut() {
            frame.value_starts();
        }
    }
    stack.iter().filter_map(Frame::segment).collect::<Vec<_>>().join(".")
}

/// The name in serde's "missing field `name`" message, if it is one.
pub fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// The byte offset of `column` in line `line` (one-based).
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let start = match line {
        0 => return None,
        1 => 0,
        _ => text.match_indices('\n').nth(line - 2)?.0 + 1,
    };
    let offset = start + column;
    (offset <= text.len()).then_some(offset)
}

/// The offset just past the string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// A key's text, escapes decoded where they can be.
fn decode_key(quoted: &str) -> String {
    serde_json::from_str(quoted).unwrap_or_else(|_| quoted.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::{field_path, missing_field};
    use proptest::prelude::*;
    use serde::Deserialize;

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Target {
        topic: String,
    }

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Trigger {
        name: String,
        #[serde(default)]
        shards: Option<u32>,
        #[serde(default)]
        to: Vec<Target>,
        #[serde(default)]
        kind: Option<Kind>,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Plain,
    }

    /// The path `serde_json`'s own error for `text` points at.
    fn blamed(text: &str) -> String {
        let error = serde_json::from_str::<Trigger>(text).expect_err("the text is refused");
        let message = error.to_string();
        let mut path = field_path(text, error.line(), error.column());
        if let Some(name) = missing_field(&message) {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(name);
        }
        path
    }

    #[test]
    fn names_the_field_of_a_wrong_type() {
        assert_eq!(blamed(r#"{"name":"a","shards":"8"}"#), "shards");
        assert_eq!(blamed(r#"{"shards":"8","name":"a"}"#), "shards");
        assert_eq!(blamed(r#"{"name":"a","shards":1.5}"#), "shards");
        assert_eq!(blamed(r#"{"name":"a","shards":-1}"#), "shards");
        assert_eq!(blamed(r#"{"name":"a","shards":{"x":1}}"#), "shards");
        assert_eq!(blamed(r#"{"name":"a","shards":[1]}"#), "shards");
        assert_eq!(blamed(r#"{"name":true}"#), "name");
        assert_eq!(blamed(r#"{"name":null}"#), "name");
    }

    #[test]
    fn names_elements_of_arrays_and_nested_objects() {
        assert_eq!(blamed(r#"{"name":"a","to":[{"topic":"x"},{"topic":7}]}"#), "to.1.topic");
        assert_eq!(blamed(r#"{"name":"a","to":[{"topic":"x"},"y"]}"#), "to.1");
        assert_eq!(blamed(r#"{"name":"a","to":[{"topic":"x"},{"topic":"y","z":1}]}"#), "to.1.z");
        assert_eq!(blamed(r#"{"name":"a","to":[{"topic":"x"},{}]}"#), "to.1.topic");
        assert_eq!(blamed(r#"{"name":"a","to":"all"}"#), "to");
        assert_eq!(blamed(r#"{"name":"a","tags":["x",{}]}"#), "tags.1");
        assert_eq!(blamed(r#"{"name":"a","tags":[[]]}"#), "tags.0");
        assert_eq!(blamed(r#"{"name":"a","tags":["x",{"y":1}]}"#), "tags.1");
    }

    #[test]
    fn names_missing_unknown_and_variant_fields() {
        assert_eq!(blamed(r#"{"shards":2}"#), "name");
        assert_eq!(blamed(r#"{}"#), "name");
        assert_eq!(blamed(r#"{"name":"a","colour":"red"}"#), "colour");
        assert_eq!(blamed(r#"{"name":"a","kind":"fancy"}"#), "kind");
    }

    #[test]
    fn reads_across_lines_strings_and_escapes() {
        let text = "{\n  \"name\": \"a, } ] \\\" {\",\n  \"to\": [\n    {\"topic\": 7}\n  ]\n}";
        assert_eq!(blamed(text), "to.0.topic");
        assert_eq!(blamed("{\"na\\u006de\": 5}"), "name");
        assert_eq!(blamed("{\"name\":\"é\",\"shards\":\"8\"}"), "shards");
    }

    #[test]
    fn answers_the_top_level_as_empty() {
        assert_eq!(blamed("\"x\""), "");
        assert_eq!(blamed("7"), "");
        assert_eq!(field_path("{}", 0, 0), "");
        assert_eq!(field_path("{}", 3, 0), "");
        assert_eq!(field_path("{}", 1, 99), "");
    }

    #[test]
    fn reads_a_missing_field_name() {
        assert_eq!(missing_field("missing field `name` at line 1 column 2"), Some("name"));
        assert_eq!(missing_field("invalid type: string"), None);
    }

    proptest! {
        #[test]
        fn any_text_and_position_answers_without_panicking(
            text in r#"[{}\[\]",:a-z0-9 \\\né]{0,40}"#,
            line in 0usize..4,
            column in 0usize..50,
        ) {
            let _ = field_path(&text, line, column);
        }

        #[test]
        fn a_wrong_type_anywhere_in_a_list_names_its_element(before in 0usize..6, after in 0usize..6) {
            let good = vec![r#"{"topic":"t"}"#; before].join(",");
            let rest = vec![r#"{"topic":"t"}"#; after].join(",");
            let items = [good.as_str(), r#"{"topic":[]}"#, rest.as_str()]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(",");
            let text = format!(r#"{{"name":"a","to":[{items}]}}"#);
            prop_assert_eq!(blamed(&text), format!("to.{before}.topic"));
        }
    }
}
