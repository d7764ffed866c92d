//! Which messages of a feed a request is about: read/seen state, archive
//! state, tags, workflow and payload fields.

use serde_json::Value;

use crate::wire::FeedFilterInput;
use crate::workflow;

/// The most tags, or payload conditions, one filter may name.
pub const MAX_CONDITIONS: usize = 10;

/// How archived messages are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Archived {
    /// Leave them out (the default).
    #[default]
    Exclude,
    /// Include them.
    Include,
    /// Only them.
    Only,
}

/// A value a payload field must equal.
#[derive(Debug, Clone, PartialEq)]
pub enum DataValue {
    /// A string.
    Text(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

/// A validated feed filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedFilter {
    /// Only read (`true`) or unread (`false`) messages.
    pub read: Option<bool>,
    /// Only seen (`true`) or unseen (`false`) messages.
    pub seen: Option<bool>,
    /// Archive treatment.
    pub archived: Archived,
    /// Messages carrying every one of these tags.
    pub tags_all: Vec<String>,
    /// Messages carrying at least one of these tags.
    pub tags_any: Vec<String>,
    /// Only messages of this workflow.
    pub workflow: Option<String>,
    /// Payload fields that must equal values: (JSON path such as `$.order.id`, value).
    pub data: Vec<(String, DataValue)>,
}

/// Why a filter is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FilterError {
    /// The field at fault.
    pub field: String,
    /// What is wrong.
    pub reason: &'static str,
}

fn fail(field: &str, reason: &'static str) -> FilterError {
    FilterError { field: field.to_owned(), reason }
}

impl FeedFilter {
    /// Applies one query parameter; `Ok(false)` when the name is not a filter.
    pub fn apply_param(&mut self, name: &str, value: &str) -> Result<bool, FilterError> {
        let flag = |field: &str| match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(fail(field, "must be true or false")),
        };
        match name {
            "read" => self.read = Some(flag("read")?),
            "seen" => self.seen = Some(flag("seen")?),
            "archived" => self.archived = parse_archived(value)?,
            "tags" => self.tags_all = tags("tags", value.split(',').map(str::to_owned).collect())?,
            "tags_any" => self.tags_any = tags("tags_any", value.split(',').map(str::to_owned).collect())?,
            "workflow" => {
                workflow::validate_key(value).map_err(|_| fail("workflow", "must be a workflow key"))?;
                self.workflow = Some(value.to_owned());
            }
            _ => match name.strip_prefix("data.") {
                Some(path) => {
                    let typed = match value {
                        "true" => DataValue::Bool(true),
                        "false" => DataValue::Bool(false),
                        _ => value.parse::<f64>().map_or_else(|_| DataValue::Text(value.to_owned()), DataValue::Number),
                    };
                    self.push_data(name, path, typed)?;
                }
                None => return Ok(false),
            },
        }
        Ok(true)
    }

    /// Reads the JSON form used by feed actions and multi-filter counts.
    pub fn from_input(input: FeedFilterInput) -> Result<Self, FilterError> {
        let mut filter = Self { read: input.read, seen: input.seen, ..Self::default() };
        if let Some(archived) = input.archived {
            filter.archived = parse_archived(&archived)?;
        }
        filter.tags_all = tags("tags", input.tags.unwrap_or_default())?;
        filter.tags_any = tags("tags_any", input.tags_any.unwrap_or_default())?;
        if let Some(key) = input.workflow {
            workflow::validate_key(&key).map_err(|_| fail("workflow", "must be a workflow key"))?;
            filter.workflow = Some(key);
        }
        for (path, value) in input.data.unwrap_or_default() {
            let field = format!("data.{path}");
            let typed = match value {
                Value::String(text) => DataValue::Text(text),
                Value::Bool(flag) => DataValue::Bool(flag),
                Value::Number(number) => DataValue::Number(number.as_f64().unwrap_or(0.0)),
                _ => return Err(fail(&field, "must be a string, number or boolean")),
            };
            filter.push_data(&field, &path, typed)?;
        }
        Ok(filter)
    }

    fn push_data(&mut self, field: &str, path: &str, value: DataValue) -> Result<(), FilterError> {
        let segments: Vec<&str> = path.split('.').collect();
        let valid = segments.len() <= 5
            && segments.iter().all(|segment| {
                !segment.is_empty()
                    && segment.len() <= 64
                    && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        if !valid {
            return Err(fail(field, "the path must be up to 5 dot-separated names of letters, digits and _"));
        }
        if self.data.len() >= MAX_CONDITIONS {
            return Err(fail(field, "at most 10 data conditions"));
        }
        self.data.push((format!("$.{path}"), value));
        Ok(())
    }
}

fn parse_archived(value: &str) -> Result<Archived, FilterError> {
    match value {
        "exclude" => Ok(Archived::Exclude),
        "include" => Ok(Archived::Include),
        "only" => Ok(Archived::Only),
        _ => Err(fail("archived", "must be exclude, include or only")),
    }
}

fn tags(field: &str, list: Vec<String>) -> Result<Vec<String>, FilterError> {
    if list.len() > MAX_CONDITIONS {
        return Err(fail(field, "at most 10 tags"));
    }
    if list.iter().any(|tag| tag.is_empty() || tag.chars().count() > 50) {
        return Err(fail(field, "tags are 1 to 50 characters"));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn query_parameters() {
        let mut filter = FeedFilter::default();
        for (name, value) in
            [("read", "false"), ("archived", "include"), ("tags", "a,b"), ("data.order.id", "42"), ("data.vip", "true")]
        {
            assert_eq!(filter.apply_param(name, value), Ok(true), "{name}");
        }
        assert_eq!(filter.read, Some(false));
        assert_eq!(filter.archived, Archived::Include);
        assert_eq!(filter.tags_all, ["a", "b"]);
        assert_eq!(filter.data[0], ("$.order.id".to_owned(), DataValue::Number(42.0)));
        assert_eq!(filter.data[1].1, DataValue::Bool(true));
        assert_eq!(filter.apply_param("limit", "3"), Ok(false));
        for (name, value, field) in [
            ("read", "yes", "read"),
            ("archived", "all", "archived"),
            ("data.a..b", "1", "data.a..b"),
            ("workflow", "Bad", "workflow"),
        ] {
            assert_eq!(filter.apply_param(name, value).unwrap_err().field, field);
        }
    }

    #[test]
    fn json_form() {
        let input: FeedFilterInput = serde_json::from_value(
            json!({"seen": false, "archived": "only", "tags_any": ["x"], "data": {"plan": "pro"}}),
        )
        .unwrap();
        let filter = FeedFilter::from_input(input).unwrap();
        assert_eq!((filter.seen, filter.archived, filter.tags_any.len()), (Some(false), Archived::Only, 1));
        assert_eq!(filter.data[0], ("$.plan".to_owned(), DataValue::Text("pro".to_owned())));
        let bad: FeedFilterInput = serde_json::from_value(json!({"data": {"a": [1]}})).unwrap();
        assert_eq!(FeedFilter::from_input(bad).unwrap_err().field, "data.a");
    }
}
