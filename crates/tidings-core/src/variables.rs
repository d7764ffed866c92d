//! Environment variables: names are content (they move with promotion),
//! values belong to each environment (they never move). Workflow templates
//! read them as `vars.NAME`, so the same workflow can point at staging's
//! and production's own URLs or identifiers.

use std::collections::BTreeSet;

use serde_json::Value;

/// The longest value.
pub const MAX_VALUE_BYTES: usize = 4096;
/// The most variables an environment may have.
pub const MAX_VARIABLES: usize = 200;

/// Why a variable is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VariableError {
    /// The name is not `A-Z`, digits and `_`, starting with a letter, up to 64.
    #[error("variable names are 1 to 64 upper-case letters, digits and _, starting with a letter")]
    Name,
    /// The value is too long.
    #[error("a variable's value is at most {MAX_VALUE_BYTES} bytes")]
    Value,
}

/// Checks a variable name.
pub fn validate_name(name: &str) -> Result<(), VariableError> {
    let mut bytes = name.bytes();
    let valid = name.len() <= 64
        && bytes.next().is_some_and(|first| first.is_ascii_uppercase())
        && bytes.all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(VariableError::Name)
    }
}

/// Checks a variable value.
pub fn validate_value(value: &str) -> Result<(), VariableError> {
    if value.len() <= MAX_VALUE_BYTES {
        Ok(())
    } else {
        Err(VariableError::Value)
    }
}

/// The variables a workflow definition's templates read (`vars.NAME`).
pub fn referenced(definition: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    collect(definition, &mut names);
    names
}

fn collect(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::String(text) => {
            for (index, _) in text.match_indices("vars.") {
                // `vars.` must start a name: not part of `myvars.`.
                let before = text[..index].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let name: String = text[index + 5..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if validate_name(&name).is_ok() {
                    names.insert(name);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, names)),
        Value::Object(map) => map.values().for_each(|item| collect(item, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_are_upper_snake_case() {
        for good in ["A", "API_URL", "V2_HOST"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad in ["", "api_url", "2X", "_X", "A-B", &"A".repeat(65)] {
            assert_eq!(validate_name(bad), Err(VariableError::Name), "{bad}");
        }
        assert_eq!(validate_value(&"x".repeat(MAX_VALUE_BYTES + 1)), Err(VariableError::Value));
    }

    #[test]
    fn finds_the_variables_templates_read() {
        let definition = json!({
            "name": "Order",
            "steps": [
                {"type": "in_app", "subject": "{{ vars.BRAND }}: {{ payload.n }}", "body": "{{vars.SUPPORT_URL}} and myvars.NOT"},
                {"type": "webhook", "integration": "crm", "body": "{\"to\": {{ vars.CRM_LIST | tojson }}}"}
            ]
        });
        let names: Vec<String> = referenced(&definition).into_iter().collect();
        assert_eq!(names, ["BRAND", "CRM_LIST", "SUPPORT_URL"]);
    }
}
