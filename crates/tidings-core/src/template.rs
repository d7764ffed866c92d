//! Rendering workflow text with [minijinja](https://docs.rs/minijinja), a
//! maintained Jinja2 implementation: `{{ subscriber.first_name }}`,
//! `{{ payload.order.id }}`, filters (`{{ actor.name | default("Someone") }}`,
//! `| upper`, `| truncate(40)`, …) and `{% if %}`/`{% for %}` blocks.
//!
//! Rendering is strict: a variable the context lacks is an error naming it,
//! never silently empty text. A `null` value renders as empty text.
//!
//! Every render is bounded by [`FUEL`]: a template that loops too long fails
//! with a typed error instead of running into the platform's CPU limit.

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;

/// Why a template could not be compiled or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The template is not valid template syntax.
    #[error("syntax error on line {line}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// The template uses a variable the context lacks.
    #[error("missing variable {path}")]
    MissingVariable {
        /// The failing expression as written, e.g. `payload.order.id`.
        path: String,
    },
    /// Any other rendering failure (a filter given the wrong type, …).
    /// Only the failure's class and line: what the engine says in detail can
    /// quote the values rendered (a recipient's profile, a variable), and
    /// this message is stored in execution logs that members read.
    #[error("{message}")]
    Failed {
        /// The failure's class and line, e.g. `invalid operation on line 2`.
        message: String,
    },
}

/// Checks that `template` compiles, without rendering it.
pub fn check(template: &str) -> Result<(), RenderError> {
    environment().template_from_str(template).map(|_| ()).map_err(|error| describe(template, &error))
}

/// Renders `template` against a JSON context.
pub fn render(template: &str, context: &Value) -> Result<String, RenderError> {
    let environment = environment();
    let compiled = environment.template_from_str(template).map_err(|error| describe(template, &error))?;
    compiled
        .render(minijinja::value::Value::from(minijinja::value::Serde(context)))
        .map_err(|error| describe(template, &error))
}

/// Several templates compiled once, rendered many times (one per recipient).
pub struct Renderer {
    environment: Environment<'static>,
    sources: Vec<String>,
}

impl Renderer {
    /// Compiles `sources`; template `i` is rendered with [`Renderer::render`]`(i, …)`.
    pub fn new(sources: Vec<String>) -> Result<Self, (usize, RenderError)> {
        Self::compile(environment(), sources)
    }

    /// Compiles `sources` that write JSON (webhook bodies), in an escaping
    /// mode of their own: every value is written as the inside of a JSON
    /// string literal (a list or map as its text), so no value a payload or
    /// profile carries can end the literal it stands in and add fields
    /// (`1", "refund": true` stays one string between quotes; bare, it makes
    /// the body invalid JSON). Numbers, booleans and `none` are written as
    /// before. What the template marks safe is written as it is: `tojson`'s
    /// output, and what `{% set %}` blocks, `join` and `~` build from safe parts
    /// (so a `tojson` value stands bare, as JSON, and is never escaped twice);
    /// `| safe` on a payload value gives this up.
    pub fn for_json(sources: Vec<String>) -> Result<Self, (usize, RenderError)> {
        let mut environment = environment();
        environment.set_auto_escape_callback(|_| minijinja::AutoEscape::Custom(JSON_STRING.into()));
        environment.set_formatter(|out, _state, value| {
            use minijinja::value::ValueKind;
            let text = match value.kind() {
                ValueKind::None | ValueKind::Undefined => return Ok(()),
                _ if value.is_safe() => return write!(out, "{value}").map_err(minijinja::Error::from),
                ValueKind::Number | ValueKind::Bool => return write!(out, "{value}").map_err(minijinja::Error::from),
                ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
                _ => value.to_string(),
            };
            let quoted = serde_json::Value::from(text).to_string();
            out.write_str(&quoted[1..quoted.len() - 1]).map_err(minijinja::Error::from)
        });
        Self::compile(environment, sources)
    }

    fn compile(mut environment: Environment<'static>, sources: Vec<String>) -> Result<Self, (usize, RenderError)> {
        for (index, source) in sources.iter().enumerate() {
            environment
                .add_template_owned(index.to_string(), source.clone())
                .map_err(|error| (index, describe(source, &error)))?;
        }
        Ok(Self { environment, sources })
    }

    /// Renders template `index` against a JSON context.
    pub fn render(&self, index: usize, context: &Value) -> Result<String, RenderError> {
        let source = self.sources.get(index).map_or("", String::as_str);
        let template = self.environment.get_template(&index.to_string()).map_err(|error| describe(source, &error))?;
        template
            .render(minijinja::value::Value::from(minijinja::value::Serde(context)))
            .map_err(|error| describe(source, &error))
    }
}

/// The name of [`Renderer::for_json`]'s escaping mode.
const JSON_STRING: &str = "json-string";

/// The engine's instruction budget for one render: a notification's text
/// takes a few hundred; this allows loops over a few thousand items.
pub const FUEL: u64 = 100_000;

fn environment() -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_fuel(Some(FUEL));
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.set_debug(true);
    environment.set_formatter(
        |out, state, value| {
            if value.is_none() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        },
    );
    environment
}

fn describe(source: &str, error: &minijinja::Error) -> RenderError {
    let detail = error.detail().unwrap_or("invalid template").to_owned();
    match error.kind() {
        ErrorKind::SyntaxError | ErrorKind::UnknownFilter | ErrorKind::UnknownTest | ErrorKind::UnknownFunction => {
            RenderError::Syntax { line: error.line().unwrap_or(1), message: detail }
        }
        ErrorKind::UndefinedError => {
            let path = error.range().map(|range| whole_path(source, range)).filter(|path| !path.is_empty());
            RenderError::MissingVariable { path: path.unwrap_or_else(|| "a variable".to_owned()) }
        }
        kind => RenderError::Failed { message: format!("{kind} on line {}", error.line().unwrap_or(1)) },
    }
}

/// The dotted path around `range` as written: the engine's span may cover
/// only part of it (`.order` of `payload.order.id`).
fn whole_path(source: &str, range: std::ops::Range<usize>) -> String {
    let is_path = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'[' | b']' | b'\'' | b'"');
    let bytes = source.as_bytes();
    let (mut start, mut end) = (range.start.min(bytes.len()), range.end.min(bytes.len()));
    while start > 0 && is_path(bytes[start - 1]) {
        start -= 1;
    }
    while end < bytes.len() && is_path(bytes[end]) {
        end += 1;
    }
    source.get(start..end).unwrap_or_default().trim_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_json_body_takes_values_without_letting_them_end_a_string() {
        let context = json!({"payload": {"note": "1\", \"refund\": true, \"x\": \"", "n": 7, "order": "A-7", "list": [1, "two"]}});
        let renderer = Renderer::for_json(vec![
            r#"{"note": "{{ payload.note }}", "n": {{ payload.n }}}"#.to_owned(),
            r#"{"order": {{ payload.order | tojson }}, "list": {{ payload.list | tojson }}}"#.to_owned(),
            r#"{"bare": {{ payload.note }}}"#.to_owned(),
        ])
        .unwrap();
        let quoted: Value = serde_json::from_str(&renderer.render(0, &context).unwrap()).unwrap();
        assert_eq!(quoted, json!({"note": "1\", \"refund\": true, \"x\": \"", "n": 7}), "one field, its text whole");
        let encoded: Value = serde_json::from_str(&renderer.render(1, &context).unwrap()).unwrap();
        assert_eq!(encoded, json!({"order": "A-7", "list": [1, "two"]}));
        let bare = renderer.render(2, &context).unwrap();
        assert!(serde_json::from_str::<Value>(&bare).is_err(), "a bare string adds no field: {bare}");
    }

    #[test]
    fn a_json_body_escapes_lists_and_maps_and_keeps_what_the_template_builds_safe() {
        let evil = "\", \"refund\": true, \"x\": \"";
        let context = json!({"payload": {"tags": [evil], "who": {"name": evil}, "ids": [1, 2], "name": "O\"Brien"}});
        let renderer = Renderer::for_json(vec![
            r#"{"tags": "{{ payload.tags }}", "who": "{{ payload.who }}"}"#.to_owned(),
            r#"{% set n %}{{ payload.name }}{% endset %}{"n": "{{ n }}"}"#.to_owned(),
            r#"{"ids": [{{ payload.ids | map('tojson') | join(',') }}], "first": {{ payload.ids[0] | tojson ~ '' }}}"#
                .to_owned(),
        ])
        .unwrap();
        let printed: Value = serde_json::from_str(&renderer.render(0, &context).unwrap()).unwrap();
        assert_eq!(printed.as_object().unwrap().len(), 2, "no field added: {printed}");
        let captured: Value = serde_json::from_str(&renderer.render(1, &context).unwrap()).unwrap();
        assert_eq!(captured, json!({"n": "O\"Brien"}), "escaped once, not twice");
        let built: Value = serde_json::from_str(&renderer.render(2, &context).unwrap()).unwrap();
        assert_eq!(built, json!({"ids": [1, 2], "first": 1}));
    }

    #[test]
    fn a_failure_names_its_class_and_line_never_a_value() {
        let context = json!({"payload": {"email": "ada@example.com"}});
        for template in
            ["{{ payload.email + 1 }}", "line one\n{{ payload.email | int + [1] }}", "{{ payload.email.missing() }}"]
        {
            let error = render(template, &context).unwrap_err();
            assert!(!error.to_string().contains("ada@example.com"), "{template}: {error}");
        }
        let error = render("a\n{{ payload.email + 1 }}", &context).unwrap_err();
        assert!(error.to_string().ends_with("on line 2"), "{error}");
    }

    #[test]
    fn stops_a_template_that_runs_too_long() {
        let endless = "{% for a in range(1000) %}{% for b in range(1000) %}{{ b }}{% endfor %}{% endfor %}";
        let error = render(endless, &json!({})).unwrap_err();
        assert!(error.to_string().contains("ran out of fuel"), "{error}");
        let looped = render(
            "{% for item in payload.items %}{{ item }}{% endfor %}",
            &json!({"payload": {"items": vec![1; 2000]}}),
        );
        assert!(looped.is_ok(), "{looped:?}");
    }

    #[test]
    fn substitutes_nested_values() {
        let context = json!({"payload": {"name": "Ada", "order": {"id": 42, "items": ["tea"]}}, "actor": null});
        assert_eq!(
            render("Hi {{payload.name}}, order {{ payload.order.id }}: {{payload.order.items[0]}}", &context),
            Ok("Hi Ada, order 42: tea".to_owned())
        );
        assert_eq!(render("no placeholders", &context), Ok("no placeholders".to_owned()));
        assert_eq!(render("[{{ actor }}]", &context), Ok("[]".to_owned()));
    }

    #[test]
    fn filters_and_conditionals() {
        let context = json!({"payload": {"name": "ada", "count": 3}, "actor": {"name": null}});
        assert_eq!(render("{{ payload.name | upper }}", &context), Ok("ADA".to_owned()));
        assert_eq!(render("{{ payload.missing | default('friend') }}", &context), Ok("friend".to_owned()));
        assert_eq!(
            render("{% if payload.count > 1 %}{{ payload.count }} items{% else %}one item{% endif %}", &context),
            Ok("3 items".to_owned())
        );
        assert_eq!(render("{% for n in [1, 2] %}{{ n }}{% endfor %}", &context), Ok("12".to_owned()));
        assert_eq!(render("<b>{{ payload.name }}</b>", &context), Ok("<b>ada</b>".to_owned()));
    }

    #[test]
    fn names_the_whole_path_of_a_missing_parent() {
        assert_eq!(
            render("Track {{ payload.order.id }}", &json!({"payload": {}})),
            Err(RenderError::MissingVariable { path: "payload.order.id".to_owned() })
        );
    }

    #[test]
    fn names_what_is_wrong() {
        let context = json!({"payload": {"order": {}}});
        assert_eq!(
            render("Hello {{ payload.name }}", &context),
            Err(RenderError::MissingVariable { path: "payload.name".to_owned() })
        );
        assert_eq!(
            render("{{ payload.order.id }}", &context),
            Err(RenderError::MissingVariable { path: "payload.order.id".to_owned() })
        );
        assert!(matches!(render("ab {{ oops", &context), Err(RenderError::Syntax { line: 1, .. })));
        assert!(matches!(check("{% if %}"), Err(RenderError::Syntax { .. })));
        // Filters are resolved when rendering, so an unknown one surfaces then.
        assert!(matches!(render("{{ 1 | no_such_filter }}", &context), Err(RenderError::Syntax { .. })));
        assert_eq!(check("{{ anything.goes }}"), Ok(()));
    }
}
