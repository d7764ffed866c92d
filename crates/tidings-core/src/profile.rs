//! Subscriber profiles: who a subscriber is, as the customer describes them.

use serde_json::{Map, Value};

use crate::subscriber::{SubscriberError, SubscriberId};
use crate::wire::SubscriberInput;

/// The longest name part, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The largest `data` object, serialized.
pub const MAX_DATA_BYTES: usize = 16 * 1024;
/// The most subscribers one bulk upsert may carry.
pub const MAX_BULK: usize = 500;

/// Why a subscriber profile is refused; each names its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The subscriber id is invalid.
    #[error("{0}")]
    Id(SubscriberError),
    /// The body names a different subscriber than the path.
    #[error("subscriber_id in the body does not match the path")]
    IdMismatch,
    /// A field's value is not acceptable.
    #[error("{field}: {reason}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A bulk request is empty or too large.
    #[error("a bulk upsert carries 1 to {MAX_BULK} subscribers")]
    BulkSize,
    /// A bulk request names the same subscriber twice.
    #[error("subscriber {0} appears twice")]
    Duplicate(String),
    /// One entry of a bulk request is invalid.
    #[error("subscribers.{index}: {source}")]
    Entry {
        /// Its position.
        index: usize,
        /// What is wrong with it.
        source: Box<ProfileError>,
    },
}

impl ProfileError {
    /// The request field at fault, as a dotted path.
    pub fn field(&self) -> String {
        match self {
            Self::Id(_) | Self::IdMismatch => "subscriber_id".to_owned(),
            Self::Field { field, .. } => (*field).to_owned(),
            Self::BulkSize | Self::Duplicate(_) => "subscribers".to_owned(),
            Self::Entry { index, source } => format!("subscribers.{index}.{}", source.field()),
        }
    }
}

/// A validated profile, ready to store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number in E.164 form.
    pub phone: Option<String>,
    /// Avatar image URL.
    pub avatar: Option<String>,
    /// BCP 47 language tag, e.g. `en-GB`.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Europe/Paris`.
    pub timezone: Option<String>,
    /// Free-form data for templates.
    pub data: Map<String, Value>,
}

impl Profile {
    /// The profile as JSON, as stored and as templates see it (`subscriber.…`).
    pub fn to_json(&self, id: &SubscriberId) -> Value {
        serde_json::json!({
            "subscriber_id": id.as_str(),
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "avatar": self.avatar,
            "locale": self.locale,
            "timezone": self.timezone,
            "data": self.data,
        })
    }
}

/// Checks the profile for `id`. `path_id` is the id named by the URL, if any.
pub fn validate(
    input: SubscriberInput,
    path_id: Option<&SubscriberId>,
) -> Result<(SubscriberId, Profile), ProfileError> {
    let id = match (input.subscriber_id.as_deref(), path_id) {
        (Some(body), Some(path)) if body != path.as_str() => return Err(ProfileError::IdMismatch),
        (_, Some(path)) => path.clone(),
        (Some(body), None) => SubscriberId::parse(body).map_err(ProfileError::Id)?,
        (None, None) => return Err(ProfileError::Id(SubscriberError::IdLength)),
    };
    let profile = Profile {
        first_name: check(input.first_name, "first_name", is_name)?,
        last_name: check(input.last_name, "last_name", is_name)?,
        email: check(input.email, "email", is_email)?,
        phone: check(input.phone, "phone", is_phone)?,
        avatar: check(input.avatar, "avatar", is_url)?,
        locale: check(input.locale, "locale", is_locale)?,
        timezone: check(input.timezone, "timezone", is_timezone)?,
        data: match input.data {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => {
                if Value::Object(map.clone()).to_string().len() > MAX_DATA_BYTES {
                    return Err(ProfileError::Field { field: "data", reason: "must be at most 16 KiB of JSON" });
                }
                map
            }
            Some(_) => return Err(ProfileError::Field { field: "data", reason: "must be a JSON object" }),
        },
    };
    Ok((id, profile))
}

/// Checks a bulk upsert: 1 to [`MAX_BULK`] entries, each with its own id, none twice.
pub fn validate_bulk(inputs: Vec<SubscriberInput>) -> Result<Vec<(SubscriberId, Profile)>, ProfileError> {
    if inputs.is_empty() || inputs.len() > MAX_BULK {
        return Err(ProfileError::BulkSize);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut valid = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.into_iter().enumerate() {
        let (id, profile) =
            validate(input, None).map_err(|source| ProfileError::Entry { index, source: Box::new(source) })?;
        if !seen.insert(id.clone()) {
            return Err(ProfileError::Duplicate(id.to_string()));
        }
        valid.push((id, profile));
    }
    Ok(valid)
}

/// Page size of subscriber lists when none is asked for.
pub const DEFAULT_LIST_LIMIT: u32 = 20;

/// A validated `GET /v1/subscribers` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Page size, 1–100.
    pub limit: u32,
    /// Continue after this id.
    pub after: Option<SubscriberId>,
}

impl ListQuery {
    /// Reads decoded query parameters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ProfileError> {
        let mut query = Self { limit: DEFAULT_LIST_LIMIT, after: None };
        for (name, value) in pairs {
            match name {
                "limit" => {
                    query.limit = crate::query::page_limit(value).ok_or(ProfileError::Field {
                        field: "limit",
                        reason: "must be a whole number from 1 to 100",
                    })?;
                }
                "after" => {
                    query.after = Some(SubscriberId::parse(value).map_err(|_| ProfileError::Field {
                        field: "after",
                        reason: "must be a subscriber id taken from page_info",
                    })?);
                }
                _ => {
                    return Err(ProfileError::Field {
                        field: "query",
                        reason: "unknown query parameter; use limit and after",
                    })
                }
            }
        }
        Ok(query)
    }
}

type Check = fn(&str) -> Result<(), &'static str>;

fn check(value: Option<String>, field: &'static str, rule: Check) -> Result<Option<String>, ProfileError> {
    match value {
        None => Ok(None),
        Some(text) => rule(&text).map(|()| Some(text)).map_err(|reason| ProfileError::Field { field, reason }),
    }
}

fn is_name(text: &str) -> Result<(), &'static str> {
    let length = text.chars().count();
    if length == 0 || length > MAX_NAME_CHARS || text.chars().any(char::is_control) {
        return Err("must be 1 to 100 characters without control characters");
    }
    Ok(())
}

fn is_email(text: &str) -> Result<(), &'static str> {
    let valid = text.len() <= 254
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(())
    } else {
        Err("must be an email address such as ada@example.com")
    }
}

fn is_phone(text: &str) -> Result<(), &'static str> {
    let digits = text.strip_prefix('+').unwrap_or("");
    if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0') {
        Ok(())
    } else {
        Err("must be in E.164 form, such as +447700900123")
    }
}

fn is_url(text: &str) -> Result<(), &'static str> {
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")).unwrap_or("");
    if !rest.is_empty() && text.len() <= 2048 && !text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Ok(())
    } else {
        Err("must be an http(s) URL of at most 2048 characters")
    }
}

fn is_locale(text: &str) -> Result<(), &'static str> {
    let mut parts = text.split(['-', '_']);
    let language_ok = parts
        .next()
        .is_some_and(|language| (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_alphabetic()));
    if language_ok && parts.all(|part| (2..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        Ok(())
    } else {
        Err("must be a language tag such as en or en-GB")
    }
}

fn is_timezone(text: &str) -> Result<(), &'static str> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text
            .split('/')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b)))
        && text.as_bytes()[0].is_ascii_uppercase();
    if valid {
        Ok(())
    } else {
        Err("must be an IANA time zone such as Europe/Paris or UTC")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(value: Value) -> SubscriberInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn accepts_a_full_profile() {
        let path = SubscriberId::parse("ada").unwrap();
        let (id, profile) = validate(
            input(json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+447700900123",
                "avatar": "https://example.com/ada.png", "locale": "en-GB", "timezone": "Europe/London", "data": {"plan": "pro"}})),
            Some(&path),
        )
        .unwrap();
        assert_eq!(id, path);
        assert_eq!(profile.email.as_deref(), Some("ada@example.com"));
        assert_eq!(profile.data["plan"], "pro");
        assert_eq!(validate(input(json!({})), Some(&path)).unwrap().1, Profile::default());
    }

    #[test]
    fn names_the_field_at_fault() {
        let path = SubscriberId::parse("ada").unwrap();
        let cases = [
            (json!({"email": "not-an-email"}), "email"),
            (json!({"email": "a@b"}), "email"),
            (json!({"phone": "07700 900123"}), "phone"),
            (json!({"avatar": "javascript:alert(1)"}), "avatar"),
            (json!({"locale": "english"}), "locale"),
            (json!({"timezone": "europe paris"}), "timezone"),
            (json!({"first_name": ""}), "first_name"),
            (json!({"data": [1]}), "data"),
            (json!({"data": {"blob": "x".repeat(17_000)}}), "data"),
            (json!({"subscriber_id": "bob"}), "subscriber_id"),
        ];
        for (body, field) in cases {
            assert_eq!(validate(input(body.clone()), Some(&path)).unwrap_err().field(), field, "{body}");
        }
        assert!(serde_json::from_value::<SubscriberInput>(json!({"nickname": "x"})).is_err());
    }

    #[test]
    fn bulk_rules() {
        assert_eq!(validate_bulk(vec![]), Err(ProfileError::BulkSize));
        let many = (0..=MAX_BULK).map(|n| input(json!({"subscriber_id": format!("s{n}")}))).collect();
        assert_eq!(validate_bulk(many), Err(ProfileError::BulkSize));
        let twice = vec![input(json!({"subscriber_id": "a"})), input(json!({"subscriber_id": "a"}))];
        assert_eq!(validate_bulk(twice).unwrap_err().field(), "subscribers");
        let bad = vec![input(json!({"subscriber_id": "a"})), input(json!({"subscriber_id": "b", "email": "x"}))];
        assert_eq!(validate_bulk(bad).unwrap_err().field(), "subscribers.1.email");
        let missing = vec![input(json!({"email": "a@b.co"}))];
        assert_eq!(validate_bulk(missing).unwrap_err().field(), "subscribers.0.subscriber_id");
    }
}
