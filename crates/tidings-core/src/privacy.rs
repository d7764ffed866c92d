//! Privacy of an environment: whether people without the right to see
//! personal data get subscribers' personal fields masked and message
//! contents hidden. On by default in production. Subscribers reading their
//! own feed are never affected.

use serde_json::Value;

use crate::environment::EnvironmentType;
use crate::wire::{EnvironmentFile, FeedItem, PendingChange, Subscriber};

/// What stands in for hidden text.
pub const HIDDEN: &str = "•••";

/// An environment's privacy settings, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Privacy {
    /// Mask subscribers' personal fields.
    pub obfuscate_subscriber_data: bool,
    /// Hide message subjects, bodies and payloads.
    pub hide_message_contents: bool,
}

impl Privacy {
    /// The settings, each unset one following the type's default (on in production).
    pub fn resolve(environment_type: EnvironmentType, obfuscate: Option<bool>, hide: Option<bool>) -> Self {
        let default = environment_type == EnvironmentType::Production;
        Self { obfuscate_subscriber_data: obfuscate.unwrap_or(default), hide_message_contents: hide.unwrap_or(default) }
    }
}

/// Masks a text: its first character, then dots (`Ada` → `A••`).
pub fn mask(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '•')).collect(),
        None => String::new(),
    }
}

/// Masks an email's local part and domain name, keeping the top-level domain
/// (`ada@example.com` → `a••@e••••••.com`).
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else { return mask(email) };
    let (name, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
    let tld = if tld.is_empty() { String::new() } else { format!(".{tld}") };
    format!("{}@{}{tld}", mask(local), mask(name))
}

/// Keeps a phone number's first three and last two characters.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 5 {
        return mask(phone);
    }
    chars.iter().enumerate().map(|(index, c)| if index < 3 || index + 2 >= chars.len() { *c } else { '•' }).collect()
}

/// A subscriber with personal fields masked: names, email, phone; the avatar
/// and every custom data value hidden. Ids, locale and time zone stay.
pub fn redact_subscriber(mut subscriber: Subscriber) -> Subscriber {
    subscriber.first_name = subscriber.first_name.as_deref().map(mask);
    subscriber.last_name = subscriber.last_name.as_deref().map(mask);
    subscriber.email = subscriber.email.as_deref().map(mask_email);
    subscriber.phone = subscriber.phone.as_deref().map(mask_phone);
    subscriber.avatar = subscriber.avatar.map(|_| HIDDEN.to_owned());
    if let Value::Object(data) = &mut subscriber.data {
        for value in data.values_mut() {
            *value = Value::String(HIDDEN.to_owned());
        }
    }
    subscriber
}

/// A message with its contents hidden: subject, body, avatar, buttons and
/// payload; its id, workflow, tags and times stay.
pub fn hide_message(mut item: FeedItem) -> FeedItem {
    item.subject = HIDDEN.to_owned();
    item.body = HIDDEN.to_owned();
    item.avatar = item.avatar.map(|_| HIDDEN.to_owned());
    item.actions.clear();
    item.payload = Value::Object(serde_json::Map::new());
    item
}

/// An execution log entry's detail without free text: every `message`
/// (the entry's own, and a fan-out's `error.message`) becomes [`HIDDEN`],
/// codes, ids, counts and statuses stay. Messages are written from a fixed
/// vocabulary, but one that ever quoted a rendered value would quote
/// personal data; readers who may not see it get only the codes.
pub fn hide_log_messages(detail: &mut Value) {
    let Value::Object(map) = detail else { return };
    if let Some(message) = map.get_mut("message") {
        *message = Value::from(HIDDEN);
    }
    if let Some(error) = map.get_mut("error") {
        hide_log_messages(error);
    }
}

/// Replaces the payload fields at `paths` (from
/// [`crate::schema::personal_paths`]) with [`HIDDEN`]: [`crate::schema::ANY`]
/// stands for every element or value there, the empty path for the whole
/// payload; absent fields stay absent.
pub fn redact_paths(payload: &mut Value, paths: &[Vec<String>]) {
    for path in paths {
        redact_at(payload, path);
    }
}

fn redact_at(value: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        *value = Value::String(HIDDEN.to_owned());
        return;
    };
    match value {
        Value::Object(map) if first == crate::schema::ANY => map.values_mut().for_each(|inner| redact_at(inner, rest)),
        Value::Object(map) => {
            if let Some(inner) = map.get_mut(first) {
                redact_at(inner, rest);
            }
        }
        Value::Array(items) if first == crate::schema::ANY => items.iter_mut().for_each(|inner| redact_at(inner, rest)),
        _ => {}
    }
}

/// Cuts integration URLs in changes (a promotion's, a release's, a release
/// request's) to their scheme and host ([`url_origin`]), for members who do
/// not administer the environment: the URL of a webhook can be its
/// credential. Other resources are left as they are.
pub fn hide_integration_urls(changes: &mut [PendingChange]) {
    fn hide(value: &mut Value) {
        if let Some(Value::String(url)) = value.get_mut("url") {
            *url = url_origin(url);
        }
    }
    for change in changes.iter_mut().filter(|change| change.resource == "integration") {
        change.before.iter_mut().chain(change.after.iter_mut()).for_each(hide);
        for field in &mut change.fields {
            for value in field.from.iter_mut().chain(field.to.iter_mut()) {
                match (field.path.as_str(), value) {
                    ("url", Value::String(url)) => *url = url_origin(url),
                    ("$", value) => hide(value),
                    _ => {}
                }
            }
        }
    }
}

/// Cuts the integration URLs of an environment file to their scheme and
/// host, as [`hide_integration_urls`] does for changes. Such a file cannot be
/// imported as it is: a URL cut this way is refused where one is written.
pub fn hide_file_urls(file: &mut EnvironmentFile) {
    for integration in file.integrations.values_mut() {
        if let Some(Value::String(url)) = integration.get_mut("url") {
            *url = url_origin(url);
        }
    }
}

/// The scheme and host of a URL, the rest (path, query, user info: where
/// credentials sit, as in Slack's webhook URLs) cut: `https://host/…`.
pub fn url_origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return HIDDEN.to_owned() };
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return HIDDEN.to_owned();
    }
    // A browser's URL parser ends the authority at a backslash as at a slash.
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    // Only what a host and port are written with is shown; anything else may be a credential
    // (`user:password` before a `?` or `#` that hides the `@` after it, say).
    if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']')) {
        return HIDDEN.to_owned();
    }
    let is_port = |port: &str| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
    let host_and_port = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((_, "")) => true,
            Some((_, rest)) => rest.strip_prefix(':').is_some_and(is_port),
            None => false,
        },
        None => host.split_once(':').is_none_or(|(name, port)| !name.is_empty() && is_port(port)),
    };
    if !host_and_port {
        return HIDDEN.to_owned();
    }
    format!("{scheme}://{host}/…")
}

#[cfg(test)]
mod tests {
    #[test]
    fn integration_urls_in_changes_and_files_keep_only_scheme_and_host() {
        use crate::wire::{EnvironmentFile, FieldDiff, PendingChange};
        let secret = "https://hooks.slack.com/services/T0/B0/secret";
        let shown = "https://hooks.slack.com/…";
        let change = |resource: &str| PendingChange {
            id: "c".into(),
            resource: resource.into(),
            key: "hook".into(),
            change: "modified".into(),
            fields: vec![
                FieldDiff {
                    path: "url".into(),
                    from: Some(json!(secret)),
                    to: Some(json!(secret)),
                    kind: "routing".into(),
                },
                FieldDiff { path: "$".into(), from: None, to: Some(json!({"url": secret})), kind: "routing".into() },
            ],
            before: Some(json!({"name": "Hook", "url": secret})),
            after: Some(json!({"name": "Hook", "url": secret})),
        };
        let mut changes = vec![change("integration"), change("workflow")];
        super::hide_integration_urls(&mut changes);
        let text = serde_json::to_string(&changes[0]).unwrap();
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(changes[0].before.as_ref().unwrap()["url"], shown);
        assert_eq!(changes[0].fields[0].to, Some(json!(shown)));
        assert_eq!(changes[0].fields[1].to, Some(json!({"url": shown})));
        assert_eq!(changes[1], change("workflow"), "only integrations");
        let mut file: EnvironmentFile = serde_json::from_value(json!({
            "format": "tidings.environment/1",
            "integrations": {"hook": {"kind": "webhook", "name": "Hook", "url": secret}}
        }))
        .unwrap();
        super::hide_file_urls(&mut file);
        assert_eq!(file.integrations["hook"]["url"], shown);
    }

    #[test]
    fn url_origins_keep_only_scheme_and_host() {
        use super::{url_origin, HIDDEN};
        assert_eq!(url_origin("https://hooks.slack.com/services/T0/B0/secret"), "https://hooks.slack.com/…");
        assert_eq!(url_origin("https://user:pass@example.com:8443/x?token=1"), "https://example.com:8443/…");
        assert_eq!(url_origin("https://example.com?token=1"), "https://example.com/…");
        assert_eq!(url_origin("not a url"), HIDDEN);
        assert_eq!(url_origin("https://example.com\\hooks\\secret"), "https://example.com/…");
        assert_eq!(url_origin("https://user:pw@example.com\\@x/secret"), "https://example.com/…");
        assert_eq!(url_origin("https://example.com\tsecret/x"), HIDDEN);
        assert_eq!(url_origin("a secret://example.com/x"), HIDDEN);
        assert_eq!(url_origin("https://[::1]:8443/x"), "https://[::1]:8443/…");
        assert_eq!(url_origin("https://exa%6dple.com/x"), HIDDEN);
        assert_eq!(url_origin("https://user:pw?x@host/"), HIDDEN);
        assert_eq!(url_origin("https://user:pw#x@host/"), HIDDEN);
        assert_eq!(url_origin("https://host:8080/x"), "https://host:8080/…");
        assert_eq!(url_origin("https://[::1]/x"), "https://[::1]/…");
        assert_eq!(url_origin("https://[::1]:x/x"), HIDDEN);
        assert_eq!(url_origin("https://a:1:2/x"), HIDDEN);
    }

    use serde_json::json;

    use super::*;

    #[test]
    fn log_details_keep_codes_and_lose_messages() {
        let mut refused = json!({"code": "unsafe_link", "message": "the rendered URL …", "field": "actions.0.url"});
        hide_log_messages(&mut refused);
        assert_eq!(refused, json!({"code": "unsafe_link", "message": HIDDEN, "field": "actions.0.url"}));
        let mut fanout =
            json!({"topics": ["t"], "done": 3, "total": 9, "error": {"code": "template_error", "message": "x"}});
        hide_log_messages(&mut fanout);
        assert_eq!(fanout["error"], json!({"code": "template_error", "message": HIDDEN}));
        let mut delivered = json!({"integration": "hook", "error": null, "status_code": 200});
        hide_log_messages(&mut delivered);
        assert_eq!(delivered, json!({"integration": "hook", "error": null, "status_code": 200}));
    }

    #[test]
    fn redacts_the_fields_a_schema_marks_personal() {
        let schema = json!({"type": "object", "properties": {
            "order": {"type": "object", "properties": {"id": {}, "address": {"x-personal": true}}},
            "email": {"type": "string", "x-personal": true},
            "total": {"type": "number"}
        }});
        let paths = crate::schema::personal_paths(&schema);
        assert_eq!(paths, [vec!["email".to_owned()], vec!["order".to_owned(), "address".to_owned()]]);
        let mut payload = json!({"email": "ada@example.com", "order": {"id": 7, "address": "1 Main St"}, "total": 3});
        redact_paths(&mut payload, &paths);
        assert_eq!(payload, json!({"email": HIDDEN, "order": {"id": 7, "address": HIDDEN}, "total": 3}));
        let mut partial = json!({"total": 1});
        redact_paths(&mut partial, &paths);
        assert_eq!(partial, json!({"total": 1}));
    }

    #[test]
    fn production_hides_by_default() {
        assert!(Privacy::resolve(EnvironmentType::Production, None, None).obfuscate_subscriber_data);
        assert!(!Privacy::resolve(EnvironmentType::Development, None, None).hide_message_contents);
        assert!(!Privacy::resolve(EnvironmentType::Production, Some(false), None).obfuscate_subscriber_data);
    }

    #[test]
    fn masks_names_emails_phones_and_data() {
        assert_eq!(mask("Ada"), "A••");
        assert_eq!(mask_email("ada@example.com"), "a••@e••••••.com");
        assert_eq!(mask_phone("+4915112345678"), "+49•••••••••78");
        let subscriber = Subscriber {
            subscriber_id: "u1".into(),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            email: Some("ada@example.com".into()),
            phone: None,
            avatar: Some("https://x.test/a.png".into()),
            locale: Some("en".into()),
            timezone: None,
            data: json!({"plan": "pro"}),
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        let masked = redact_subscriber(subscriber);
        assert_eq!(masked.last_name.as_deref(), Some("L•••••••"));
        assert_eq!(masked.data, json!({"plan": HIDDEN}));
        assert_eq!(masked.locale.as_deref(), Some("en"));
        assert_eq!(masked.subscriber_id, "u1");
    }

    #[test]
    fn redacts_array_items_other_properties_and_a_personal_root() {
        let schema = json!({"type": "object", "properties": {
            "guests": {"type": "array", "items": {"type": "object", "properties": {"name": {"x-personal": true}, "seat": {}}}},
            "phones": {"type": "array", "items": {"type": "string", "x-personal": true}},
            "notes": {"type": "object", "additionalProperties": {"x-personal": true}}
        }});
        let paths = crate::schema::personal_paths(&schema);
        let mut payload = json!({
            "guests": [{"name": "Ada", "seat": 1}, {"name": "Bob", "seat": 2}],
            "phones": ["+441", "+442"],
            "notes": {"a": "x", "b": "y"},
            "total": 3
        });
        redact_paths(&mut payload, &paths);
        assert_eq!(
            payload,
            json!({
                "guests": [{"name": HIDDEN, "seat": 1}, {"name": HIDDEN, "seat": 2}],
                "phones": [HIDDEN, HIDDEN],
                "notes": {"a": HIDDEN, "b": HIDDEN},
                "total": 3
            })
        );
        let root = crate::schema::personal_paths(&json!({"type": "object", "x-personal": true}));
        assert_eq!(root, vec![Vec::<String>::new()]);
        let mut whole = json!({"anything": 1});
        redact_paths(&mut whole, &root);
        assert_eq!(whole, json!(HIDDEN));
    }
}
