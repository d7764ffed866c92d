//! Promotion: what differs between two adjacent environments, field by
//! field, and applying a chosen part of it.
//!
//! A [`Snapshot`] holds an environment's promotable content as JSON: the
//! current definition of each workflow, and each integration's
//! configuration without its secret. [`diff`] lists what the target must
//! change to match the source, one [`Change`] per resource with a typed
//! field-level diff; [`apply`] makes those changes. Secrets, subscribers,
//! messages and logs are never part of a snapshot, so they never move.

mod identity;
mod problems;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::hex;
use crate::message::{MessageId, ID_RANDOM_BYTES};
use crate::wire::{ChangeSelection, FieldDiff, PendingChange, PromotionProblem};

pub use identity::{import_identity, replay, request_identity, EarlierRelease, Replay, RequestIdentity};
pub use problems::{problems, Problem, TargetFacts};

/// The kinds of promotable resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    /// A workflow's current definition.
    Workflow,
    /// An integration's configuration (kind, name, url), never its secret.
    Integration,
    /// A variable's name (its value stays in each environment).
    Variable,
    /// The environment's default preferences (one resource, key `defaults`).
    PreferenceDefaults,
    /// The brand settings and logo (one resource, key `brand`).
    Brand,
}

/// Every kind, in the order changes are listed and applied: what workflows
/// use comes before the workflows.
pub const RESOURCE_KINDS: [ResourceKind; 5] = [
    ResourceKind::Brand,
    ResourceKind::Integration,
    ResourceKind::Variable,
    ResourceKind::PreferenceDefaults,
    ResourceKind::Workflow,
];

impl ResourceKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workflow => "workflow",
            Self::Integration => "integration",
            Self::Variable => "variable",
            Self::PreferenceDefaults => "preference_defaults",
            Self::Brand => "brand",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        RESOURCE_KINDS.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// An environment's promotable content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Workflow definitions by key.
    pub workflows: BTreeMap<String, Value>,
    /// Integration configurations by id (`{kind, name, url}`).
    pub integrations: BTreeMap<String, Value>,
    /// Variable names (each `{}`: values never move).
    pub variables: BTreeMap<String, Value>,
    /// The default preferences under `defaults`, when any are set.
    pub preference_defaults: BTreeMap<String, Value>,
    /// The brand settings under `brand`, when set (the logo by id and type).
    pub brand: BTreeMap<String, Value>,
}

impl Snapshot {
    /// The resources of one kind.
    pub fn resources(&self, kind: ResourceKind) -> &BTreeMap<String, Value> {
        match kind {
            ResourceKind::Workflow => &self.workflows,
            ResourceKind::Integration => &self.integrations,
            ResourceKind::Variable => &self.variables,
            ResourceKind::PreferenceDefaults => &self.preference_defaults,
            ResourceKind::Brand => &self.brand,
        }
    }

    fn resources_mut(&mut self, kind: ResourceKind) -> &mut BTreeMap<String, Value> {
        match kind {
            ResourceKind::Workflow => &mut self.workflows,
            ResourceKind::Integration => &mut self.integrations,
            ResourceKind::Variable => &mut self.variables,
            ResourceKind::PreferenceDefaults => &mut self.preference_defaults,
            ResourceKind::Brand => &mut self.brand,
        }
    }

    /// The integrations the workflows' webhook steps use.
    fn used_integrations(&self) -> BTreeMap<String, Vec<String>> {
        let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, definition) in &self.workflows {
            for integration in step_integrations(definition) {
                used.entry(integration).or_default().push(key.clone());
            }
        }
        used
    }
}

/// What happens to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The target lacks it.
    Added,
    /// Both have it, differently.
    Modified,
    /// The source no longer has it.
    Deleted,
}

impl ChangeKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Modified => "modified",
            Self::Deleted => "deleted",
        }
    }
}

/// What a changed field affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FieldKind {
    /// What people read: names, subjects, bodies, buttons, tags.
    Content,
    /// Where notifications go: steps, channels, integrations, URLs.
    Routing,
    /// What triggers must send: the payload schema.
    Schema,
}

impl FieldKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Content => "content",
            Self::Routing => "routing",
            Self::Schema => "schema",
        }
    }
}

/// One changed field: its path (`steps.0.subject`), both values (absent
/// when the field is new or gone) and what it affects.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// Dot-separated path; array indexes are numbers.
    pub path: String,
    /// The target's value now.
    pub from: Option<Value>,
    /// The value after promotion.
    pub to: Option<Value>,
    /// What it affects.
    pub kind: FieldKind,
}

/// One resource's pending change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Names this change and both sides' content, so a change listed earlier
    /// no longer matches once either side has moved on.
    pub id: String,
    /// Which kind of resource.
    pub resource: ResourceKind,
    /// Its key (workflow) or id (integration).
    pub key: String,
    /// Added, modified or deleted.
    pub kind: ChangeKind,
    /// The target's content now (absent when added).
    pub before: Option<Value>,
    /// The content after promotion (absent when deleted).
    pub after: Option<Value>,
    /// Field by field.
    pub fields: Vec<FieldChange>,
}

/// Lists what `target` must change to match `source`, resources in the
/// order of [`RESOURCE_KINDS`] (what a workflow uses arrives before it).
pub fn diff(source: &Snapshot, target: &Snapshot) -> Vec<Change> {
    let mut changes = Vec::new();
    for resource in RESOURCE_KINDS {
        let (from, to) = (target.resources(resource), source.resources(resource));
        let keys: BTreeSet<&String> = from.keys().chain(to.keys()).collect();
        for key in keys {
            let (before, after) = (from.get(key), to.get(key));
            let kind = match (before, after) {
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Deleted,
                (Some(before), Some(after)) if before != after => ChangeKind::Modified,
                _ => continue,
            };
            let mut fields = Vec::new();
            field_changes(resource, "", before, after, &mut fields);
            changes.push(Change {
                id: change_id(resource, key, before, after),
                resource,
                key: key.clone(),
                kind,
                before: before.cloned(),
                after: after.cloned(),
                fields,
            });
        }
    }
    changes
}

/// Applies changes to a snapshot: each resource takes its `after` content.
pub fn apply(changes: &[Change], target: &Snapshot) -> Snapshot {
    let mut result = target.clone();
    for change in changes {
        let resources = result.resources_mut(change.resource);
        match &change.after {
            Some(after) => resources.insert(change.key.clone(), after.clone()),
            None => resources.remove(&change.key),
        };
    }
    result
}

/// The resources a release changed that no longer hold what it wrote
/// (`kind:key`, e.g. `workflow:welcome`): a rollback would overwrite a
/// later change, so it is refused while any remain.
pub fn superseded(applied: &[Change], current: &Snapshot) -> Vec<String> {
    applied
        .iter()
        .filter(|change| current.resources(change.resource).get(&change.key) != change.after.as_ref())
        .map(|change| format!("{}:{}", change.resource.as_str(), change.key))
        .collect()
}

/// The changes that undo `changes` on the snapshot they were applied to.
pub fn inverse(changes: &[Change]) -> Vec<Change> {
    changes
        .iter()
        .rev()
        .map(|change| {
            let kind = match change.kind {
                ChangeKind::Added => ChangeKind::Deleted,
                ChangeKind::Deleted => ChangeKind::Added,
                ChangeKind::Modified => ChangeKind::Modified,
            };
            let mut fields = Vec::new();
            field_changes(change.resource, "", change.after.as_ref(), change.before.as_ref(), &mut fields);
            Change {
                id: change_id(change.resource, &change.key, change.after.as_ref(), change.before.as_ref()),
                resource: change.resource,
                key: change.key.clone(),
                kind,
                before: change.after.clone(),
                after: change.before.clone(),
                fields,
            }
        })
        .collect()
}

/// The integrations a workflow definition's webhook steps name.
fn step_integrations(definition: &Value) -> Vec<String> {
    definition
        .get("steps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|step| step.get("integration").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

fn change_id(resource: ResourceKind, key: &str, before: Option<&Value>, after: Option<&Value>) -> String {
    let text = |side: Option<&Value>| side.map_or_else(|| "-".to_owned(), Value::to_string);
    let digest = Sha256::digest(format!("{}\n{key}\n{}\n{}", resource.as_str(), text(before), text(after)).as_bytes());
    format!("chg_{}", &hex::encode(&digest)[..20])
}

/// Appends the field changes between two values under `path`.
fn field_changes(
    resource: ResourceKind,
    path: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match (before, after) {
        (Some(Value::Object(old)), Some(Value::Object(new))) if !is_schema(path) => {
            let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                field_changes(resource, &join(key), old.get(key), new.get(key), out);
            }
        }
        (Some(Value::Array(old)), Some(Value::Array(new))) if !is_schema(path) && path != "tags" => {
            for index in 0..old.len().max(new.len()) {
                field_changes(resource, &join(&index.to_string()), old.get(index), new.get(index), out);
            }
        }
        (old, new) if old != new => out.push(FieldChange {
            path: if path.is_empty() { "$".to_owned() } else { path.to_owned() },
            from: old.cloned(),
            to: new.cloned(),
            kind: classify(resource, path),
        }),
        _ => {}
    }
}

/// The payload schema is compared as a whole: its parts mean little alone.
fn is_schema(path: &str) -> bool {
    path == "payload_schema"
}

fn classify(resource: ResourceKind, path: &str) -> FieldKind {
    let segments: Vec<&str> = path.split('.').collect();
    match (resource, segments.as_slice()) {
        (ResourceKind::Workflow, ["payload_schema", ..]) => FieldKind::Schema,
        (ResourceKind::Workflow, ["steps", _, "type" | "integration"] | ["steps", _] | ["category"] | [""]) => {
            FieldKind::Routing
        }
        (ResourceKind::Integration, ["url" | "kind"] | [""]) => FieldKind::Routing,
        (ResourceKind::PreferenceDefaults, _) => FieldKind::Routing,
        _ => FieldKind::Content,
    }
}

/// A release id: `rel_` and a time-ordered id, so releases sort by time.
pub fn release_id(now_ms: u64, random: [u8; ID_RANDOM_BYTES]) -> String {
    format!("rel_{}", MessageId::generate(now_ms, random))
}

/// An audit entry id: `aud_` and a time-ordered id.
pub fn audit_id(now_ms: u64, random: [u8; ID_RANDOM_BYTES]) -> String {
    format!("aud_{}", MessageId::generate(now_ms, random))
}

/// Why a promotion request is refused before anything is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PromotionError {
    /// An environment is not in the chain.
    #[error("there is no environment {0}")]
    UnknownEnvironment(String),
    /// `to` is not the environment right after `from`.
    #[error("promote one step at a time: {from} promotes into {next}, not {to}")]
    NotAdjacent {
        /// The source.
        from: String,
        /// The refused target.
        to: String,
        /// The environment after `from`, or `nothing` at the end of the chain.
        next: String,
    },
    /// `changes` names ids that are not pending (stale, or already promoted).
    #[error("these changes are not pending (already promoted, or either side changed since they were listed): {}", .0.join(", "))]
    NotPending(Vec<String>),
    /// `changes` is neither `"all"` nor a list of ids.
    #[error("changes must be \"all\" or a non-empty list of change ids")]
    Selection,
}

/// Checks that `to` comes right after `from` in `chain` (names in promotion order).
pub fn check_adjacent(chain: &[&str], from: &str, to: &str) -> Result<(), PromotionError> {
    let position = |name: &str| {
        chain.iter().position(|entry| *entry == name).ok_or_else(|| PromotionError::UnknownEnvironment(name.to_owned()))
    };
    let source = position(from)?;
    position(to)?;
    match chain.get(source + 1) {
        Some(next) if *next == to => Ok(()),
        next => Err(PromotionError::NotAdjacent {
            from: from.to_owned(),
            to: to.to_owned(),
            next: next.map_or_else(|| "nothing".to_owned(), |next| (*next).to_owned()),
        }),
    }
}

/// The pending changes a request chose: all of them, or those with the given ids.
pub fn select(pending: &[Change], selection: &ChangeSelection) -> Result<Vec<Change>, PromotionError> {
    match selection {
        ChangeSelection::All(word) if word == "all" => Ok(pending.to_vec()),
        ChangeSelection::Ids(ids) if !ids.is_empty() => {
            let missing: Vec<String> =
                ids.iter().filter(|id| !pending.iter().any(|change| &change.id == *id)).cloned().collect();
            if !missing.is_empty() {
                return Err(PromotionError::NotPending(missing));
            }
            Ok(pending.iter().filter(|change| ids.contains(&change.id)).cloned().collect())
        }
        _ => Err(PromotionError::Selection),
    }
}

/// The wire form of a change.
pub fn to_wire(change: &Change) -> PendingChange {
    PendingChange {
        id: change.id.clone(),
        resource: change.resource.as_str().to_owned(),
        key: change.key.clone(),
        change: change.kind.as_str().to_owned(),
        fields: change
            .fields
            .iter()
            .map(|field| FieldDiff {
                path: field.path.clone(),
                from: field.from.clone(),
                to: field.to.clone(),
                kind: field.kind.as_str().to_owned(),
            })
            .collect(),
        before: change.before.clone(),
        after: change.after.clone(),
    }
}

/// A change read back from its wire form (a stored release); `None` when it is not one.
pub fn from_wire(change: &PendingChange) -> Option<Change> {
    let resource = ResourceKind::parse(&change.resource)?;
    let kind = match change.change.as_str() {
        "added" => ChangeKind::Added,
        "modified" => ChangeKind::Modified,
        "deleted" => ChangeKind::Deleted,
        _ => return None,
    };
    let mut fields = Vec::new();
    field_changes(resource, "", change.before.as_ref(), change.after.as_ref(), &mut fields);
    Some(Change {
        id: change.id.clone(),
        resource,
        key: change.key.clone(),
        kind,
        before: change.before.clone(),
        after: change.after.clone(),
        fields,
    })
}

/// The wire form of a problem; `production` says whether the target is production-type.
pub fn problem_to_wire(problem: &Problem, production: bool) -> PromotionProblem {
    PromotionProblem {
        code: problem.code().to_owned(),
        resource: problem.resource(),
        message: problem.message(),
        blocking: production && problem.blocks_production(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn workflow(subject: &str, integration: Option<&str>) -> Value {
        let mut steps = vec![json!({"type": "in_app", "subject": subject, "body": "b", "avatar": null, "actions": []})];
        if let Some(id) = integration {
            steps.push(json!({"type": "webhook", "integration": id, "body": "{}"}));
        }
        json!({"name": "W", "description": null, "tags": [], "category": null, "payload_schema": null, "steps": steps})
    }

    fn snapshot(workflows: &[(&str, Value)], integrations: &[&str]) -> Snapshot {
        Snapshot {
            workflows: workflows.iter().map(|(key, value)| ((*key).to_owned(), value.clone())).collect(),
            integrations: integrations
                .iter()
                .map(|id| ((*id).to_owned(), json!({"kind": "webhook", "name": id, "url": "https://x.test/hook"})))
                .collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn lists_typed_field_changes() {
        let source = snapshot(
            &[("welcome", workflow("Hi {{ payload.name }}", Some("crm"))), ("new", workflow("N", None))],
            &["crm"],
        );
        let target = snapshot(&[("welcome", workflow("Hello", None)), ("gone", workflow("G", None))], &[]);
        let changes = diff(&source, &target);
        let summary: Vec<(&str, &str, ChangeKind)> =
            changes.iter().map(|change| (change.resource.as_str(), change.key.as_str(), change.kind)).collect();
        assert_eq!(
            summary,
            [
                ("integration", "crm", ChangeKind::Added),
                ("workflow", "gone", ChangeKind::Deleted),
                ("workflow", "new", ChangeKind::Added),
                ("workflow", "welcome", ChangeKind::Modified),
            ]
        );
        let welcome = &changes[3];
        let fields: Vec<(&str, FieldKind)> =
            welcome.fields.iter().map(|field| (field.path.as_str(), field.kind)).collect();
        assert_eq!(fields, [("steps.0.subject", FieldKind::Content), ("steps.1", FieldKind::Routing)]);
        assert_eq!(welcome.fields[0].from, Some(json!("Hello")));
        assert_eq!(welcome.fields[0].to, Some(json!("Hi {{ payload.name }}")));
        assert!(changes.iter().all(|change| change.id.starts_with("chg_")));
    }

    #[test]
    fn flags_missing_integrations_secrets_and_stricter_schemas() {
        let mut strict = workflow("Hi", Some("crm"));
        strict["payload_schema"] = json!({"type": "object", "required": ["order_id"]});
        let mut loose = workflow("Hi", None);
        loose["payload_schema"] = json!({"type": "object"});
        let source = snapshot(&[("order", strict)], &["crm"]);
        let target = snapshot(&[("order", loose)], &[]);
        let changes = diff(&source, &target);
        let workflow_only: Vec<Change> =
            changes.iter().filter(|c| c.resource == ResourceKind::Workflow).cloned().collect();
        let codes = |problems: Vec<Problem>| problems.iter().map(Problem::code).collect::<Vec<_>>();
        assert_eq!(
            codes(problems(&workflow_only, &target, &TargetFacts::default())),
            ["missing_integration", "stricter_schema"]
        );
        assert_eq!(
            codes(problems(&changes, &target, &TargetFacts::default())),
            ["stricter_schema", "missing_integration_secret"]
        );
        let facts = TargetFacts { with_secret: ["crm".to_owned()].into(), ..TargetFacts::default() };
        assert_eq!(codes(problems(&changes, &target, &facts)), ["stricter_schema"]);
    }

    #[test]
    fn says_a_new_url_drops_the_secret_the_target_had_for_the_old_one() {
        let mut source = snapshot(&[], &["crm"]);
        source
            .integrations
            .insert("crm".to_owned(), json!({"kind": "webhook", "name": "crm", "url": "https://y.test/in"}));
        let target = snapshot(&[], &["crm"]);
        let changes = diff(&source, &target);
        let with_secret = TargetFacts { with_secret: ["crm".to_owned()].into(), ..TargetFacts::default() };
        let found = problems(&changes, &target, &with_secret);
        assert_eq!(found, [Problem::SecretDropped { integration: "crm".to_owned() }]);
        assert!(!found[0].blocks_production(), "production's new secret can only be set after the promotion");
        assert_eq!(problems(&changes, &target, &TargetFacts::default()), [], "nothing to drop");
        // A rename keeps the URL, and the secret.
        let mut renamed = snapshot(&[], &["crm"]);
        renamed
            .integrations
            .insert("crm".to_owned(), json!({"kind": "webhook", "name": "CRM", "url": "https://x.test/hook"}));
        assert_eq!(problems(&diff(&renamed, &target), &target, &with_secret), []);
    }

    #[test]
    fn flags_variables_the_target_lacks_or_has_no_value_for() {
        let mut source = snapshot(&[("w", workflow("{{ vars.HOST }}/{{ vars.PATH }}", None))], &[]);
        source.variables = [("HOST".to_owned(), json!({})), ("PATH".to_owned(), json!({}))].into();
        let target = Snapshot::default();
        let all = diff(&source, &target);
        let only_workflow: Vec<Change> = all.iter().filter(|c| c.resource == ResourceKind::Workflow).cloned().collect();
        let codes = |problems: Vec<Problem>| problems.iter().map(Problem::code).collect::<Vec<_>>();
        assert_eq!(
            codes(problems(&only_workflow, &target, &TargetFacts::default())),
            ["missing_variable", "missing_variable"]
        );
        let facts = TargetFacts { with_value: ["HOST".to_owned()].into(), ..TargetFacts::default() };
        let found = problems(&all, &target, &facts);
        assert_eq!(found, [Problem::MissingVariableValue { variable: "PATH".to_owned() }]);
        assert!(found[0].blocks_production());
        assert_eq!(all.iter().map(|c| c.resource.as_str()).collect::<Vec<_>>(), ["variable", "variable", "workflow"]);
    }

    #[test]
    fn flags_what_a_removal_breaks_in_workflows_it_does_not_touch() {
        // Staging dropped integration crm and variable HOST (and its own workflow's use of them);
        // production's untouched workflow `w` still uses both.
        let mut target = snapshot(&[("w", workflow("{{ vars.HOST }}", Some("crm")))], &["crm"]);
        target.variables = [("HOST".to_owned(), json!({}))].into();
        let source = snapshot(&[("w", workflow("{{ vars.HOST }}", Some("crm")))], &[]);
        let removals: Vec<Change> =
            diff(&source, &target).into_iter().filter(|c| c.resource != ResourceKind::Workflow).collect();
        assert_eq!(removals.iter().map(|c| c.kind).collect::<Vec<_>>(), [ChangeKind::Deleted, ChangeKind::Deleted]);
        let facts = TargetFacts {
            with_secret: ["crm".to_owned()].into(),
            with_value: ["HOST".to_owned()].into(),
            ..TargetFacts::default()
        };
        let found = problems(&removals, &target, &facts);
        assert_eq!(
            found,
            [
                Problem::MissingIntegration { workflow: "w".to_owned(), integration: "crm".to_owned() },
                Problem::MissingVariable { workflow: "w".to_owned(), variable: "HOST".to_owned() },
            ]
        );
        // What was missing before the change is not this change's problem.
        let broken = snapshot(&[("w", workflow("{{ vars.GONE }}", Some("gone")))], &[]);
        let unrelated = diff(
            &snapshot(&[("w", workflow("{{ vars.GONE }}", Some("gone"))), ("x", workflow("X", None))], &[]),
            &broken,
        );
        assert_eq!(problems(&unrelated, &broken, &TargetFacts::default()), []);
    }

    #[test]
    fn promotes_one_step_at_a_time_and_only_pending_changes() {
        let chain = ["development", "staging", "qa", "production"];
        assert_eq!(check_adjacent(&chain, "development", "staging"), Ok(()));
        assert_eq!(check_adjacent(&chain, "staging", "qa"), Ok(()));
        assert!(
            matches!(check_adjacent(&chain, "development", "production"), Err(PromotionError::NotAdjacent { next, .. }) if next == "staging")
        );
        assert!(
            matches!(check_adjacent(&chain, "production", "development"), Err(PromotionError::NotAdjacent { next, .. }) if next == "nothing")
        );
        assert_eq!(check_adjacent(&chain, "dev", "staging"), Err(PromotionError::UnknownEnvironment("dev".to_owned())));
        let changes = diff(&snapshot(&[("w", workflow("A", None))], &[]), &Snapshot::default());
        assert_eq!(select(&changes, &ChangeSelection::All("all".to_owned())), Ok(changes.clone()));
        assert_eq!(select(&changes, &ChangeSelection::Ids(vec![changes[0].id.clone()])), Ok(changes.clone()));
        assert_eq!(
            select(&changes, &ChangeSelection::Ids(vec!["chg_gone".to_owned()])),
            Err(PromotionError::NotPending(vec!["chg_gone".to_owned()]))
        );
        assert_eq!(select(&changes, &ChangeSelection::All("everything".to_owned())), Err(PromotionError::Selection));
        assert_eq!(select(&changes, &ChangeSelection::Ids(vec![])), Err(PromotionError::Selection));
        assert_eq!(from_wire(&to_wire(&changes[0])), Some(changes[0].clone()));
    }

    #[test]
    fn change_ids_follow_both_sides() {
        let source = snapshot(&[("w", workflow("A", None))], &[]);
        let target = snapshot(&[("w", workflow("B", None))], &[]);
        let moved_on = snapshot(&[("w", workflow("C", None))], &[]);
        assert_ne!(diff(&source, &target)[0].id, diff(&moved_on, &target)[0].id);
        assert_ne!(diff(&source, &target)[0].id, diff(&source, &moved_on)[0].id);
        assert_eq!(diff(&source, &target)[0].id, diff(&source.clone(), &target.clone())[0].id);
    }
}
