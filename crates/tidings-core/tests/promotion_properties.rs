//! Properties of promotion over random environment snapshots: applying the
//! diff makes the target equal the source, equal snapshots have no diff,
//! undoing a release restores the snapshot before it, and a partial
//! promotion leaves exactly the other changes pending.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};
use tidings_core::promotion::{apply, diff, inverse, superseded, Snapshot};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just("Hi".to_owned()), Just("Hello {{ payload.name }}".to_owned()), "[a-z]{0,6}"]
}

fn step() -> impl Strategy<Value = Value> {
    prop_oneof![
        (text(), text())
            .prop_map(|(subject, body)| json!({"type": "in_app", "subject": subject, "body": body, "actions": []})),
        (prop_oneof![Just("crm"), Just("ops")], text())
            .prop_map(|(integration, body)| json!({"type": "webhook", "integration": integration, "body": body})),
    ]
}

fn workflow() -> impl Strategy<Value = Value> {
    (
        text(),
        prop::collection::vec(step(), 1..4),
        prop::option::of(prop::collection::vec("[a-z]{1,3}", 0..3)),
        any::<bool>(),
    )
        .prop_map(|(name, steps, tags, schema)| {
            let payload_schema = if schema { json!({"type": "object", "required": ["id"]}) } else { Value::Null };
            json!({"name": name, "steps": steps, "tags": tags.unwrap_or_default(), "payload_schema": payload_schema})
        })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let keys = prop_oneof![Just("welcome"), Just("digest"), Just("order"), Just("reset")];
    let integration = (text(), prop_oneof![Just("https://a.test"), Just("https://b.test")])
        .prop_map(|(name, url)| json!({"kind": "webhook", "name": name, "url": url}));
    let defaults = prop::option::of(any::<bool>().prop_map(|on| json!({"global": {"in_app": on}, "workflows": {}})));
    (
        prop::collection::btree_map(keys.prop_map(str::to_owned), workflow(), 0..4),
        prop::collection::btree_map(prop_oneof![Just("crm".to_owned()), Just("ops".to_owned())], integration, 0..3),
        prop::collection::btree_set(prop_oneof![Just("HOST"), Just("BRAND"), Just("LIST_ID")], 0..3),
        defaults,
    )
        .prop_map(|(workflows, integrations, variables, defaults)| Snapshot {
            workflows,
            integrations,
            variables: variables.into_iter().map(|name| (name.to_owned(), json!({}))).collect(),
            preference_defaults: defaults.into_iter().map(|value| ("defaults".to_owned(), value)).collect(),
            brand: Default::default(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn applying_the_diff_makes_the_target_the_source(source in snapshot(), target in snapshot()) {
        prop_assert_eq!(apply(&diff(&source, &target), &target), source);
    }

    #[test]
    fn equal_snapshots_have_no_diff(snapshot in snapshot()) {
        prop_assert!(diff(&snapshot, &snapshot).is_empty());
    }

    #[test]
    fn undoing_a_release_restores_the_snapshot_before_it(source in snapshot(), target in snapshot(), pick in any::<u64>()) {
        let changes = diff(&source, &target);
        let chosen: Vec<_> = changes.iter().enumerate().filter(|(index, _)| pick >> (index % 64) & 1 == 1).map(|(_, c)| c.clone()).collect();
        let released = apply(&chosen, &target);
        // Right after the release nothing it wrote has changed, so it may be rolled back;
        // once the source's state replaces what it wrote, every changed resource blocks it.
        prop_assert!(superseded(&chosen, &released).is_empty());
        let later = apply(&inverse(&chosen), &released);
        prop_assert_eq!(superseded(&chosen, &later).len(), chosen.iter().filter(|c| c.before != c.after).count());
        prop_assert_eq!(apply(&inverse(&chosen), &released), target.clone());
        // What was not chosen is still pending, with the same ids.
        let pending: BTreeMap<String, String> = diff(&source, &released).into_iter().map(|c| (c.key.clone() + c.resource.as_str(), c.id)).collect();
        let left: BTreeMap<String, String> = changes
            .iter()
            .filter(|change| !chosen.iter().any(|c| c.id == change.id))
            .map(|c| (c.key.clone() + c.resource.as_str(), c.id.clone()))
            .collect();
        prop_assert_eq!(pending, left);
    }
}
