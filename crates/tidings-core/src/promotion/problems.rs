//! Preflight: what would be wrong in the target after a promotion or an
//! import (missing integrations, secrets, variables and values, stricter
//! schemas, integration URLs only development may call).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{apply, Change, ResourceKind, Snapshot};
use crate::environment::EnvironmentType;
use crate::variables;

/// Why a change would break the target, or what the target lacks for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// A workflow step uses an integration the target would not have.
    MissingIntegration {
        /// The workflow.
        workflow: String,
        /// The integration it needs.
        integration: String,
    },
    /// The payload schema now refuses payloads it accepted: triggers that
    /// worked may fail.
    StricterSchema {
        /// The workflow.
        workflow: String,
        /// What became stricter (`required: order_id`, `type of amount`).
        detail: String,
    },
    /// An integration the promoted workflows use has no signing secret in
    /// the target (secrets never move; set it there).
    MissingSecret {
        /// The integration.
        integration: String,
    },
    /// A workflow's templates read a variable the target would not have.
    MissingVariable {
        /// The workflow.
        workflow: String,
        /// The variable.
        variable: String,
    },
    /// A variable the promoted workflows read has no value in the target
    /// (values never move; set it there).
    MissingVariableValue {
        /// The variable.
        variable: String,
    },
    /// An integration's URL points at a loopback, private, link-local or
    /// metadata address, which only a development environment may call.
    PrivateIntegrationUrl {
        /// The integration.
        integration: String,
    },
    /// An integration's URL changes where the target has a signing secret
    /// for it: that secret was given for the old receiver, so it is dropped
    /// (it would sign what the new one gets); set a new one there after.
    SecretDropped {
        /// The integration.
        integration: String,
    },
}

/// What the target has that snapshots do not show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFacts {
    /// Integrations with a signing secret.
    pub with_secret: BTreeSet<String>,
    /// Variables with a value.
    pub with_value: BTreeSet<String>,
    /// Whether the target may call private addresses (development only).
    pub allows_private_targets: bool,
}

impl Problem {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingIntegration { .. } => "missing_integration",
            Self::StricterSchema { .. } => "stricter_schema",
            Self::MissingSecret { .. } => "missing_integration_secret",
            Self::MissingVariable { .. } => "missing_variable",
            Self::MissingVariableValue { .. } => "missing_variable_value",
            Self::PrivateIntegrationUrl { .. } => "private_integration_url",
            Self::SecretDropped { .. } => "integration_secret_dropped",
        }
    }

    /// The resource it is about (`workflow:<key>` or `integration:<id>`).
    pub fn resource(&self) -> String {
        match self {
            Self::MissingIntegration { workflow, .. }
            | Self::StricterSchema { workflow, .. }
            | Self::MissingVariable { workflow, .. } => format!("workflow:{workflow}"),
            Self::MissingSecret { integration }
            | Self::PrivateIntegrationUrl { integration }
            | Self::SecretDropped { integration } => format!("integration:{integration}"),
            Self::MissingVariableValue { variable } => format!("variable:{variable}"),
        }
    }

    /// A sentence for people.
    pub fn message(&self) -> String {
        match self {
            Self::MissingIntegration { workflow, integration } => {
                format!("workflow {workflow} uses integration {integration}, which the target would not have")
            }
            Self::StricterSchema { workflow, detail } => {
                format!("workflow {workflow}'s payload schema becomes stricter ({detail}); triggers that worked may be refused")
            }
            Self::MissingSecret { integration } => format!(
                "integration {integration} has no signing secret in the target; set it there (secrets never move)"
            ),
            Self::MissingVariable { workflow, variable } => {
                format!("workflow {workflow} reads variable {variable}, which the target would not have")
            }
            Self::MissingVariableValue { variable } => {
                format!("variable {variable} has no value in the target; set it there (values never move)")
            }
            Self::PrivateIntegrationUrl { integration } => format!(
                "integration {integration}'s URL points at a private or loopback address, which only development may call"
            ),
            Self::SecretDropped { integration } => format!(
                "integration {integration}'s URL changes: its signing secret in the target was given for the old URL \
                 and is dropped; set a new one there for the new receiver"
            ),
        }
    }

    /// Whether it blocks a promotion into a production environment. A
    /// dropped secret does not: production's configuration changes only by
    /// promotion, so the new URL's secret can only be set after it.
    pub fn blocks_production(&self) -> bool {
        !matches!(self, Self::StricterSchema { .. } | Self::SecretDropped { .. })
    }
}

/// What would be wrong after applying `chosen` to `target`: workflows
/// needing integrations or variables the target would lack, or that have no
/// secret or value there, and stricter schemas. A workflow the change does
/// not touch counts too where the change removes what it uses (an
/// integration or variable it deletes); what was already missing before the
/// change does not block it.
pub fn problems(chosen: &[Change], target: &Snapshot, facts: &TargetFacts) -> Vec<Problem> {
    let after = apply(chosen, target);
    let touched: BTreeSet<&str> =
        chosen.iter().filter(|change| change.resource == ResourceKind::Workflow).map(|c| c.key.as_str()).collect();
    let mut found = BTreeSet::new();
    for (integration, workflows) in after.used_integrations() {
        // Removed by this change: every workflow still using it breaks.
        let removed = !after.integrations.contains_key(&integration) && target.integrations.contains_key(&integration);
        for workflow in workflows.iter().filter(|workflow| removed || touched.contains(workflow.as_str())) {
            if !after.integrations.contains_key(&integration) {
                found.insert(Problem::MissingIntegration {
                    workflow: workflow.clone(),
                    integration: integration.clone(),
                });
            } else if !facts.with_secret.contains(&integration) {
                found.insert(Problem::MissingSecret { integration: integration.clone() });
            }
        }
    }
    for (workflow, definition) in &after.workflows {
        let touched = touched.contains(workflow.as_str());
        for variable in variables::referenced(definition) {
            let missing = !after.variables.contains_key(&variable);
            if missing && (touched || target.variables.contains_key(&variable)) {
                found.insert(Problem::MissingVariable { workflow: workflow.clone(), variable });
            } else if !missing && touched && !facts.with_value.contains(&variable) {
                found.insert(Problem::MissingVariableValue { variable });
            }
        }
    }
    for change in chosen.iter().filter(|change| change.resource == ResourceKind::Integration) {
        let url = change.after.as_ref().and_then(|config| config.get("url")).and_then(Value::as_str);
        let target_type =
            if facts.allows_private_targets { EnvironmentType::Development } else { EnvironmentType::Production };
        if url.is_some_and(|url| crate::link::check_webhook_target(url, target_type).is_err()) {
            found.insert(Problem::PrivateIntegrationUrl { integration: change.key.clone() });
        }
        let before = change.before.as_ref().and_then(|config| config.get("url")).and_then(Value::as_str);
        if url.is_some() && before.is_some() && url != before && facts.with_secret.contains(&change.key) {
            found.insert(Problem::SecretDropped { integration: change.key.clone() });
        }
    }
    for change in chosen.iter().filter(|change| change.resource == ResourceKind::Workflow) {
        let schema =
            |side: &Option<Value>| side.as_ref().and_then(|definition| definition.get("payload_schema")).cloned();
        // A new workflow breaks no trigger that worked before.
        if change.before.is_some() && change.after.is_some() {
            if let Some(detail) = stricter(schema(&change.before).as_ref(), schema(&change.after).as_ref()) {
                found.insert(Problem::StricterSchema { workflow: change.key.clone(), detail });
            }
        }
    }
    found.into_iter().collect()
}

/// How `after` refuses payloads `before` accepted, if it does.
fn stricter(before: Option<&Value>, after: Option<&Value>) -> Option<String> {
    let after = after.filter(|schema| !schema.is_null())?;
    let Some(before) = before.filter(|schema| !schema.is_null()) else {
        return Some("a schema now applies".to_owned());
    };
    let required = |schema: &Value| -> BTreeSet<String> {
        schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    if let Some(field) = required(after).difference(&required(before)).next() {
        return Some(format!("required: {field}"));
    }
    if before.get("type") != after.get("type") && after.get("type").is_some() {
        return Some("type".to_owned());
    }
    let closed = |schema: &Value| schema.get("additionalProperties") == Some(&Value::Bool(false));
    if closed(after) && !closed(before) {
        return Some("additionalProperties: false".to_owned());
    }
    if let Some(allowed) = after.get("enum").and_then(Value::as_array) {
        let narrowed = match before.get("enum").and_then(Value::as_array) {
            Some(earlier) => earlier.iter().any(|value| !allowed.contains(value)),
            None => true,
        };
        if narrowed {
            return Some("enum".to_owned());
        }
    }
    // Properties both sides describe; a new property only matters once required (above).
    let properties = |schema: &Value| schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    let (old, new) = (properties(before), properties(after));
    new.iter().find_map(|(name, rule)| {
        let detail = stricter(old.get(name), Some(rule)).filter(|_| old.contains_key(name))?;
        Some(format!("{name}.{detail}"))
    })
}
