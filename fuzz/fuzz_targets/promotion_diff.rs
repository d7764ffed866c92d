//! The promotion diff: for any two snapshots, applying the diff makes the
//! target equal the source, a snapshot's diff with itself is empty, and the
//! inverse of a diff restores the target.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tidings_core::promotion::{self, Snapshot};

/// A snapshot from a JSON object of kind → {key → content}.
fn snapshot(value: Option<&Value>) -> Snapshot {
    let kind = |name: &str| -> BTreeMap<String, Value> {
        value
            .and_then(|value| value.get(name))
            .and_then(Value::as_object)
            .map(|map| map.iter().map(|(key, content)| (key.clone(), content.clone())).collect())
            .unwrap_or_default()
    };
    Snapshot {
        workflows: kind("workflows"),
        integrations: kind("integrations"),
        variables: kind("variables"),
        preference_defaults: kind("preference_defaults"),
        brand: kind("brand"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let source = snapshot(value.get("source"));
    let target = snapshot(value.get("target"));
    let changes = promotion::diff(&source, &target);
    let promoted = promotion::apply(&changes, &target);
    assert_eq!(promoted, source);
    assert!(promotion::diff(&source, &source).is_empty());
    assert_eq!(promotion::apply(&promotion::inverse(&changes), &promoted), target);
    for change in &changes {
        assert_eq!(promotion::from_wire(&promotion::to_wire(change)).as_ref(), Some(change));
    }
});
