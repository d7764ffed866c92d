//! Rendering workflow text against a trigger's context.
//!
//! Placeholders are `{{ path.to.value }}`, looked up in a JSON context with
//! the roots `payload`, `subscriber` and `actor`. This is deliberately the
//! smallest useful subset; filters and conditionals come with the full
//! template language.

use serde_json::Value;

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A `{{` without its closing `}}`.
    #[error("unclosed placeholder starting at byte {offset}")]
    Unclosed {
        /// Byte offset of the opening braces.
        offset: usize,
    },
    /// A placeholder names a value the context lacks.
    #[error("missing variable {path}")]
    MissingVariable {
        /// The dotted path as written.
        path: String,
    },
    /// A placeholder names an object or array, which has no text form.
    #[error("variable {path} is not a string, number or boolean")]
    NotText {
        /// The dotted path as written.
        path: String,
    },
}

/// Renders `template`, replacing each `{{ path }}` with the value at `path`.
pub fn render(template: &str, context: &Value) -> Result<String, RenderError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after_open = &rest[start + 2..];
        let end = after_open.find("}}").ok_or(RenderError::Unclosed {
            offset: template.len() - rest.len() + start,
        })?;
        let path = after_open[..end].trim();
        out.push_str(&lookup(context, path)?);
        rest = &after_open[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(context: &Value, path: &str) -> Result<String, RenderError> {
    let missing = || RenderError::MissingVariable { path: path.to_owned() };
    if path.is_empty() {
        return Err(missing());
    }
    let mut value = context;
    for segment in path.split('.') {
        value = match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|index| items.get(index)),
            _ => None,
        }
        .ok_or_else(missing)?;
    }
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Null => Ok(String::new()),
        Value::Array(_) | Value::Object(_) => Err(RenderError::NotText { path: path.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn substitutes_nested_values() {
        let context = json!({"payload": {"name": "Ada", "order": {"id": 42, "items": ["tea"]}}});
        assert_eq!(
            render(
                "Hi {{payload.name}}, order {{ payload.order.id }}: {{payload.order.items.0}}",
                &context
            ),
            Ok("Hi Ada, order 42: tea".to_owned())
        );
        assert_eq!(render("no placeholders", &context), Ok("no placeholders".to_owned()));
    }

    #[test]
    fn names_what_is_wrong() {
        let context = json!({"payload": {"order": {}}});
        assert_eq!(
            render("{{ payload.name }}", &context),
            Err(RenderError::MissingVariable {
                path: "payload.name".to_owned()
            })
        );
        assert_eq!(
            render("{{ payload.order }}", &context),
            Err(RenderError::NotText {
                path: "payload.order".to_owned()
            })
        );
        assert_eq!(render("ab {{ oops", &context), Err(RenderError::Unclosed { offset: 3 }));
        assert!(matches!(
            render("{{}}", &context),
            Err(RenderError::MissingVariable { .. })
        ));
    }
}
