//! Payload schemas: a documented subset of JSON Schema, checked in full when
//! a workflow is saved and applied to every trigger's payload.
//!
//! Supported: `type` (one or a list of `object`, `array`, `string`,
//! `number`, `integer`, `boolean`, `null`), `properties`, `required`,
//! `additionalProperties` (boolean or schema), `items`, `enum`, `const`,
//! `minLength`, `maxLength`, `minimum`, `maximum`, `exclusiveMinimum`,
//! `exclusiveMaximum`, `minItems`, `maxItems`, and the annotations `$schema`,
//! `$id`, `title`, `description`, `default`, `examples` and any `x-…`.
//! Any other keyword is refused at save time, so a schema never passes
//! something its author meant to forbid.

use serde_json::{Map, Value};

const ANNOTATIONS: [&str; 6] = ["$schema", "$id", "title", "description", "default", "examples"];
const KEYWORDS: [&str; 15] = [
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
];
const TYPES: [&str; 7] = ["object", "array", "string", "number", "integer", "boolean", "null"];

/// A schema that cannot be used, with where in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payload_schema{path}: {reason}")]
pub struct SchemaError {
    /// JSON pointer into the schema, e.g. `/properties/order`.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// A payload that breaks its schema, with where in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct Violation {
    /// Dotted path into the payload, e.g. `payload.order.id`.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// Checks that `schema` uses only the supported subset, correctly.
pub fn check(schema: &Value) -> Result<(), SchemaError> {
    check_at(schema, "")
}

fn check_at(schema: &Value, path: &str) -> Result<(), SchemaError> {
    let fail = |reason: String| SchemaError { path: path.to_owned(), reason };
    let Value::Object(map) = schema else {
        return if schema.is_boolean() { Ok(()) } else { Err(fail("a schema is an object or a boolean".to_owned())) };
    };
    for (keyword, value) in map {
        if ANNOTATIONS.contains(&keyword.as_str()) || keyword.starts_with("x-") {
            continue;
        }
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(fail(format!("the keyword {keyword:?} is not supported; supported: {}", KEYWORDS.join(", "))));
        }
        let ok = match keyword.as_str() {
            "type" => match value {
                Value::String(name) => TYPES.contains(&name.as_str()),
                Value::Array(names) => names.iter().all(|name| name.as_str().is_some_and(|name| TYPES.contains(&name))),
                _ => false,
            },
            "properties" => {
                let Value::Object(properties) = value else {
                    return Err(fail("properties must be an object".to_owned()));
                };
                for (name, property) in properties {
                    check_at(property, &format!("{path}/properties/{name}"))?;
                }
                true
            }
            "required" => value.as_array().is_some_and(|names| names.iter().all(Value::is_string)),
            "additionalProperties" | "items" => {
                check_at(value, &format!("{path}/{keyword}"))?;
                true
            }
            "enum" => value.is_array(),
            "const" => true,
            "minLength" | "maxLength" | "minItems" | "maxItems" => value.as_u64().is_some(),
            _ => value.is_number(),
        };
        if !ok {
            return Err(fail(format!("{keyword} has the wrong form")));
        }
    }
    Ok(())
}

/// Checks `value` (the payload, reported as `payload…`) against a checked schema.
pub fn validate(schema: &Value, value: &Value) -> Result<(), Violation> {
    validate_at(schema, value, "payload")
}

fn validate_at(schema: &Value, value: &Value, path: &str) -> Result<(), Violation> {
    let fail = |reason: String| Err(Violation { path: path.to_owned(), reason });
    let map = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return fail("no value is allowed here".to_owned()),
        Value::Object(map) => map,
        _ => return Ok(()),
    };
    if let Some(types) = map.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !allowed.iter().any(|name| has_type(value, name)) {
            return fail(format!("must be {}, not {}", allowed.join(" or "), type_name(value)));
        }
    }
    if let Some(Value::Array(options)) = map.get("enum") {
        if !options.contains(value) {
            return fail(format!("must be one of {}", Value::Array(options.clone())));
        }
    }
    if let Some(expected) = map.get("const") {
        if expected != value {
            return fail(format!("must be {expected}"));
        }
    }
    match value {
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if let Some(min) = number(map, "minLength").filter(|min| (length as f64) < *min) {
                return fail(format!("must be at least {min} characters"));
            }
            if let Some(max) = number(map, "maxLength").filter(|max| (length as f64) > *max) {
                return fail(format!("must be at most {max} characters"));
            }
        }
        Value::Number(number_value) => {
            let x = number_value.as_f64().unwrap_or(0.0);
            for keyword in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
                if let Some(limit) = number(map, keyword) {
                    let broken = match keyword {
                        "minimum" => x < limit,
                        "maximum" => x > limit,
                        "exclusiveMinimum" => x <= limit,
                        _ => x >= limit,
                    };
                    if broken {
                        return fail(format!("breaks {keyword} {limit}"));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = number(map, "minItems").filter(|min| (items.len() as f64) < *min) {
                return fail(format!("must have at least {min} items"));
            }
            if let Some(max) = number(map, "maxItems").filter(|max| (items.len() as f64) > *max) {
                return fail(format!("must have at most {max} items"));
            }
            if let Some(item_schema) = map.get("items") {
                for (index, item) in items.iter().enumerate() {
                    validate_at(item_schema, item, &format!("{path}.{index}"))?;
                }
            }
        }
        Value::Object(object) => {
            if let Some(Value::Array(required)) = map.get("required") {
                for name in required.iter().filter_map(Value::as_str) {
                    if !object.contains_key(name) {
                        return Err(Violation { path: format!("{path}.{name}"), reason: "is required".to_owned() });
                    }
                }
            }
            let properties = map.get("properties").and_then(Value::as_object);
            for (name, item) in object {
                let at = format!("{path}.{name}");
                match properties.and_then(|properties| properties.get(name)) {
                    Some(property) => validate_at(property, item, &at)?,
                    None => {
                        if let Some(additional) = map.get("additionalProperties") {
                            if additional == &Value::Bool(false) {
                                return Err(Violation { path: at, reason: "is not allowed".to_owned() });
                            }
                            validate_at(additional, item, &at)?;
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The segment of a personal path that stands for every element of an
/// array (`items`) or every value of an object (`additionalProperties`).
pub const ANY: &str = "*";

/// The payload fields a schema marks `"x-personal": true`, as paths of
/// property names, [`ANY`] for an array's items or an object's other
/// properties; the empty path when the root itself is personal.
pub fn personal_paths(schema: &Value) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    collect_personal(schema, &mut Vec::new(), &mut paths);
    paths
}

fn collect_personal(schema: &Value, at: &mut Vec<String>, paths: &mut Vec<Vec<String>>) {
    if schema.get("x-personal") == Some(&Value::Bool(true)) {
        paths.push(at.clone());
        return;
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            at.push(name.clone());
            collect_personal(property, at, paths);
            at.pop();
        }
    }
    for nested in [schema.get("items"), schema.get("additionalProperties")].into_iter().flatten() {
        if nested.is_object() {
            at.push(ANY.to_owned());
            collect_personal(nested, at, paths);
            at.pop();
        }
    }
}

fn number(map: &Map<String, Value>, keyword: &str) -> Option<f64> {
    map.get(keyword).and_then(Value::as_f64)
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "integer" => value.as_f64().is_some_and(|x| x.fract() == 0.0),
        "number" => value.is_number(),
        other => type_name(value) == other,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn order_schema() -> Value {
        json!({
            "type": "object",
            "required": ["order"],
            "additionalProperties": false,
            "properties": {
                "order": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "items": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 5}},
                    "status": {"enum": ["paid", "shipped"]}
                }},
                "note": {"type": ["string", "null"], "x-personal": true}
            }
        })
    }

    #[test]
    fn accepts_what_fits() {
        assert_eq!(check(&order_schema()), Ok(()));
        let payload = json!({"order": {"id": 3, "items": ["tea"], "status": "paid"}, "note": null});
        assert_eq!(validate(&order_schema(), &payload), Ok(()));
    }

    #[test]
    fn names_the_failing_path() {
        let cases = [
            (json!({}), "payload.order", "is required"),
            (json!({"order": {}}), "payload.order.id", "is required"),
            (json!({"order": {"id": "3"}}), "payload.order.id", "must be integer, not string"),
            (json!({"order": {"id": 0}}), "payload.order.id", "breaks minimum 1"),
            (json!({"order": {"id": 1.5}}), "payload.order.id", "must be integer, not number"),
            (json!({"order": {"id": 1, "items": []}}), "payload.order.items", "must have at least 1 items"),
            (
                json!({"order": {"id": 1, "items": ["toolong"]}}),
                "payload.order.items.0",
                "must be at most 5 characters",
            ),
            (
                json!({"order": {"id": 1, "status": "lost"}}),
                "payload.order.status",
                "must be one of [\"paid\",\"shipped\"]",
            ),
            (json!({"order": {"id": 1}, "extra": 1}), "payload.extra", "is not allowed"),
        ];
        for (payload, path, reason) in cases {
            let violation = validate(&order_schema(), &payload).unwrap_err();
            assert_eq!((violation.path.as_str(), violation.reason.as_str()), (path, reason), "{payload}");
        }
    }

    #[test]
    fn refuses_unsupported_schemas_with_the_place() {
        assert_eq!(
            check(&json!({"type": "object", "properties": {"a": {"pattern": "x"}}})).unwrap_err().path,
            "/properties/a"
        );
        assert!(check(&json!({"type": "strings"})).is_err());
        assert!(check(&json!({"required": "a"})).is_err());
        assert!(check(&json!({"minLength": -1})).is_err());
        assert!(check(&json!(3)).is_err());
        assert_eq!(check(&json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "t"})), Ok(()));
    }
}
