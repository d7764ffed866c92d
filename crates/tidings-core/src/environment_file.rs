//! Environments as code: an environment's promotable content as a file
//! ([`EnvironmentFile`]), and the content a file asks for once applied to
//! an environment. Applying goes through the promotion diff, so an import
//! is reviewed and recorded like a promotion.

use serde_json::Value;

use crate::preferences::Preferences;
use crate::promotion::Snapshot;
use std::collections::BTreeSet;

use crate::files::{self, FilePath, BRAND_PREFIX};
use crate::wire::{Brand, BrandInput, EnvironmentFile, LogoInfo, PreferencesInput, WorkflowInput};
use crate::workflow::Workflow;
use crate::{variables, webhook};

/// The format this version writes and reads.
pub const FORMAT: &str = "tidings.environment/1";
/// The key of the default preferences in a [`Snapshot`].
const DEFAULTS_KEY: &str = "defaults";
/// The key of the brand settings in a [`Snapshot`].
const BRAND_KEY: &str = "brand";

/// Why a file cannot be applied: the field at fault (`workflows.welcome.steps.0.subject`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FileError {
    /// The path of the field in the file.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn fail(field: impl Into<String>, reason: impl ToString) -> FileError {
    FileError { field: field.into(), reason: reason.to_string() }
}

/// The file of an environment's content, brand settings included; the
/// bytes of its brand assets ([`referenced_assets`]) are added by the caller,
/// which reads them from the environment's store.
pub fn export(snapshot: &Snapshot, environment: &str) -> EnvironmentFile {
    EnvironmentFile {
        format: FORMAT.to_owned(),
        exported_from: Some(environment.to_owned()),
        workflows: snapshot.workflows.clone(),
        integrations: snapshot.integrations.clone(),
        variables: snapshot.variables.keys().cloned().collect(),
        preference_defaults: snapshot.preference_defaults.get(DEFAULTS_KEY).cloned(),
        brand: snapshot.brand.get(BRAND_KEY).cloned(),
        assets: std::collections::BTreeMap::new(),
    }
}

/// The brand assets `snapshot` names: its logo (`brand/<id>`) and the
/// `brand/` attachments of its workflows' in-app steps.
pub fn referenced_assets(snapshot: &Snapshot) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    let logo = snapshot.brand.get(BRAND_KEY).and_then(|brand| brand.pointer("/logo/id")).and_then(Value::as_str);
    paths.extend(logo.map(|id| format!("{BRAND_PREFIX}{id}")));
    for definition in snapshot.workflows.values() {
        let steps = definition.get("steps").and_then(Value::as_array).into_iter().flatten();
        let attached = steps.filter_map(|step| step.get("attachments").and_then(Value::as_array)).flatten();
        paths.extend(
            attached.filter_map(Value::as_str).filter(|path| path.starts_with(BRAND_PREFIX)).map(str::to_owned),
        );
    }
    paths
}

/// The brand assets a file carries, decoded and checked as an upload is
/// (type, bytes, and a path that is the SHA-256 of the bytes).
pub fn assets(file: &EnvironmentFile) -> Result<Vec<(FilePath, String, Vec<u8>)>, FileError> {
    // The logo's bytes must be the image its settings say they are.
    let logo = file.brand.as_ref().and_then(|brand| {
        let id = brand.pointer("/logo/id").and_then(Value::as_str)?;
        let content_type = brand.pointer("/logo/content_type").and_then(Value::as_str)?;
        Some((format!("{BRAND_PREFIX}{id}"), content_type.to_owned()))
    });
    file.assets
        .iter()
        .map(|(path, asset)| {
            let at = format!("assets.{path}");
            let parsed = FilePath::parse(path).map_err(|error| fail(&at, error))?;
            if !parsed.is_brand_asset() {
                return Err(fail(&at, "a file carries brand assets only (brand/<sha-256>)"));
            }
            let bytes =
                crate::base64::decode(&asset.base64).ok_or_else(|| fail(format!("{at}.base64"), "not base64"))?;
            let content_type = files::essence(&asset.content_type);
            if logo.as_ref().is_some_and(|(logo, declared)| logo == path && *declared != content_type) {
                return Err(fail(format!("{at}.content_type"), "the logo's bytes must have the type brand.logo names"));
            }
            files::check(&parsed, &content_type, &bytes).map_err(|error| fail(&at, error))?;
            Ok((parsed, content_type, bytes))
        })
        .collect()
}

/// The content `target` has once `file` is applied: every resource of the
/// file checked as its own route checks it and written in the form the
/// environment stores. Without `prune`, what the file does not name stays;
/// with it, it goes. Brand settings change only when the file carries them
/// (pruning never removes them).
pub fn desired(file: &EnvironmentFile, target: &Snapshot, prune: bool) -> Result<Snapshot, FileError> {
    if file.format != FORMAT {
        return Err(fail("format", format!("must be {FORMAT:?}; this file says {:?}", file.format)));
    }
    let mut content =
        if prune { Snapshot { brand: target.brand.clone(), ..Snapshot::default() } } else { target.clone() };
    for (key, definition) in &file.workflows {
        let at = format!("workflows.{key}");
        let input: WorkflowInput = serde_json::from_value(definition.clone()).map_err(|error| fail(&at, error))?;
        let workflow = Workflow::from_input(input, Some(key)).map_err(|error| match error {
            crate::workflow::WorkflowError::Field { field, reason } => fail(format!("{at}.{field}"), reason),
            other => fail(&at, other),
        })?;
        let value = serde_json::to_value(&workflow.definition).map_err(|error| fail(&at, error))?;
        content.workflows.insert(key.clone(), value);
    }
    for (id, config) in &file.integrations {
        let at = format!("integrations.{id}");
        webhook::validate_id(id).map_err(|error| fail(&at, error.reason))?;
        let field = |name: &str| config.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(extra) = config
            .as_object()
            .and_then(|object| object.keys().find(|name| !matches!(name.as_str(), "kind" | "name" | "url")).cloned())
        {
            return Err(fail(
                format!("{at}.{extra}"),
                "an integration in a file has kind, name and url only; secrets never travel in files",
            ));
        }
        let (kind, name, url) = (field("kind"), field("name"), field("url"));
        webhook::validate_config(&kind, &name, &url)
            .map_err(|error| fail(format!("{at}.{}", error.field), error.reason))?;
        content.integrations.insert(id.clone(), serde_json::json!({"kind": kind, "name": name, "url": url}));
    }
    for (index, name) in file.variables.iter().enumerate() {
        variables::validate_name(name).map_err(|error| fail(format!("variables.{index}"), error))?;
        content.variables.insert(name.clone(), serde_json::json!({}));
    }
    if let Some(brand) = &file.brand {
        let parsed: Brand = serde_json::from_value(brand.clone()).map_err(|error| fail("brand", error))?;
        let input = BrandInput {
            name: parsed.name.clone(),
            primary_colour: parsed.primary_colour.clone(),
            accent_colour: parsed.accent_colour.clone(),
        };
        crate::brand::validate(&input).map_err(|error| fail(format!("brand.{}", error.field()), error))?;
        if let Some(logo) = &parsed.logo {
            let valid = logo.id.len() == 64
                && logo.id.bytes().all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase());
            if !valid || !crate::brand::LOGO_TYPES.contains(&logo.content_type.as_str()) {
                return Err(fail("brand.logo", "a logo is {id: <sha-256, hex>, content_type: an image type}"));
            }
        }
        let logo = parsed.logo.map(|logo| LogoInfo { url: None, ..logo });
        let value = serde_json::to_value(Brand { logo, ..parsed }).map_err(|error| fail("brand", error))?;
        content.brand.insert(BRAND_KEY.to_owned(), value);
    }
    if let Some(defaults) = &file.preference_defaults {
        let input: PreferencesInput =
            serde_json::from_value(defaults.clone()).map_err(|error| fail("preference_defaults", error))?;
        let preferences = Preferences::from_input(input)
            .map_err(|error| fail(format!("preference_defaults.{}", error.field), error.reason))?;
        content.preference_defaults.clear();
        if !preferences.is_empty() {
            let value = serde_json::to_value(preferences.to_explicit_wire())
                .map_err(|error| fail("preference_defaults", error))?;
            content.preference_defaults.insert(DEFAULTS_KEY.to_owned(), value);
        }
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::promotion;

    fn file(value: Value) -> EnvironmentFile {
        serde_json::from_value(value).expect("a file")
    }

    fn staging() -> Snapshot {
        let mut snapshot = Snapshot::default();
        let welcome = json!({"name": "Welcome", "steps": [{"type": "in_app", "subject": "Hi", "body": "Hello"}]});
        let workflow = Workflow::from_input(serde_json::from_value(welcome).unwrap(), Some("welcome")).unwrap();
        snapshot.workflows.insert("welcome".into(), serde_json::to_value(&workflow.definition).unwrap());
        snapshot
            .integrations
            .insert("hook".into(), json!({"kind": "webhook", "name": "Hook", "url": "https://x.io/h"}));
        snapshot.variables.insert("API_HOST".into(), json!({}));
        snapshot.brand.insert(
            "brand".into(),
            json!({"name": "Acme", "primary_colour": "#123456", "accent_colour": null, "logo": null}),
        );
        snapshot
    }

    #[test]
    fn an_export_applied_to_an_empty_environment_recreates_everything() {
        let source = staging();
        let exported = export(&source, "staging");
        let text = serde_json::to_string(&exported).unwrap();
        let read: EnvironmentFile = serde_json::from_str(&text).unwrap();
        let content = desired(&read, &Snapshot::default(), false).unwrap();
        assert_eq!(content, source);
        assert!(promotion::diff(&content, &source).is_empty());
    }

    #[test]
    fn brand_assets_travel_checked_and_named_by_their_hash() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg"/>"#;
        let id = crate::hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(svg.as_bytes()));
        let mut source = staging();
        source.brand.insert(
            "brand".into(),
            json!({"name": "Acme", "primary_colour": "#123456", "accent_colour": null,
                   "logo": {"id": id, "content_type": "image/svg+xml"}}),
        );
        assert_eq!(referenced_assets(&source), BTreeSet::from([format!("brand/{id}")]));
        let mut file = export(&source, "staging");
        let asset = crate::wire::FileAsset {
            content_type: "image/svg+xml".into(),
            base64: crate::base64::encode(svg.as_bytes()),
        };
        file.assets.insert(format!("brand/{id}"), asset.clone());
        let decoded = assets(&file).unwrap();
        assert_eq!((decoded[0].0.as_str(), decoded[0].2.as_slice()), (format!("brand/{id}").as_str(), svg.as_bytes()));
        let mut wrong = file.clone();
        wrong.assets = [(format!("brand/{}", "0".repeat(64)), asset.clone())].into();
        assert!(assets(&wrong).is_err(), "bytes that are not the path's hash");
        wrong.assets = [("avatars/x.svg".to_owned(), asset)].into();
        assert!(assets(&wrong).is_err(), "only brand assets travel");
        let mut scripted = file.clone();
        scripted.brand = Some(json!({"name": "", "primary_colour": "#123456", "accent_colour": null, "logo": null}));
        assert_eq!(desired(&scripted, &Snapshot::default(), false).unwrap_err().field, "brand.name");
    }

    #[test]
    fn keeps_what_the_file_does_not_name_unless_pruning() {
        let target = staging();
        let only_variables = file(json!({"format": FORMAT, "variables": ["REGION"]}));
        let kept = desired(&only_variables, &target, false).unwrap();
        assert!(kept.workflows.contains_key("welcome") && kept.variables.contains_key("REGION"));
        let pruned = desired(&only_variables, &target, true).unwrap();
        assert!(pruned.workflows.is_empty() && pruned.integrations.is_empty());
        assert_eq!(pruned.variables.keys().collect::<Vec<_>>(), ["REGION"]);
        assert_eq!(pruned.brand, target.brand, "a file without brand settings leaves them");
    }

    #[test]
    fn names_the_field_at_fault() {
        let check = |value: Value| desired(&file(value), &Snapshot::default(), false).unwrap_err().field;
        assert_eq!(check(json!({"format": "other/9"})), "format");
        let bad_subject = json!({"name": "W", "steps": [{"type": "in_app", "subject": "{{ oops", "body": "b"}]});
        assert_eq!(check(json!({"format": FORMAT, "workflows": {"w": bad_subject}})), "workflows.w.steps.0.subject");
        let secret =
            json!({"kind": "webhook", "name": "H", "url": "https://x.io", "signing_secret": "s3cret-s3cret-s3cret"});
        assert_eq!(check(json!({"format": FORMAT, "integrations": {"h": secret}})), "integrations.h.signing_secret");
        assert_eq!(
            check(
                json!({"format": FORMAT, "integrations": {"h": {"kind": "sms", "name": "H", "url": "https://x.io"}}})
            ),
            "integrations.h.kind"
        );
        assert_eq!(check(json!({"format": FORMAT, "variables": ["OK", "NOT OK"]})), "variables.1");
    }
}
