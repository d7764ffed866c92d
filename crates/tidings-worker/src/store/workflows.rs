//! Workflows of one environment, with their version history.

use serde::Deserialize;
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::{StepInput, WorkflowInput, WorkflowResponse};
use tidings_core::workflow::{starter_workflows, Workflow};
use worker::{D1Database, D1PreparedStatement};

use super::lock::Unlocked;
use super::{number, statement, storage_error, text, AuditRecord, Environment};
use crate::error::ApiError;

#[derive(Deserialize)]
struct WorkflowRow {
    key: String,
    definition: String,
    version: f64,
    created_at: f64,
    updated_at: f64,
}

/// Writes a new version of `workflow` (version 1 when it is new) and
/// records it in the history, in one transaction.
pub(super) fn save_statements(
    db: &D1Database,
    workflow: &Workflow,
    now_ms: u64,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let definition =
        serde_json::to_string(&workflow.definition).map_err(|error| ApiError::internal("encode workflow", error))?;
    // The first columns predate steps; they keep the in-app text for older readers.
    let (subject, body) = workflow
        .definition
        .steps
        .iter()
        .find_map(|step| match step {
            StepInput::InApp { subject, body, .. } => Some((subject.as_str(), body.as_str())),
            StepInput::Webhook { .. } => None,
        })
        .unwrap_or(("", ""));
    Ok(vec![
        statement(
            db,
            "INSERT INTO workflows (key, name, subject, body, definition, version, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6) \
             ON CONFLICT (key) DO UPDATE SET name = excluded.name, subject = excluded.subject, body = excluded.body, \
             definition = excluded.definition, version = workflows.version + 1, updated_at = excluded.updated_at",
            &[
                text(&workflow.key),
                text(&workflow.definition.name),
                text(subject),
                text(body),
                text(&definition),
                number(now_ms),
            ],
        )?,
        statement(
            db,
            "INSERT INTO workflow_versions (workflow_key, version, definition, created_at) \
             SELECT key, version, definition, updated_at FROM workflows WHERE key = ?1",
            &[text(&workflow.key)],
        )?,
    ])
}

/// Stores the starter workflows in a new environment's database unless it
/// has them; answers D1's own error, so the provisioning check can tell an
/// incomplete schema (migrations still being applied) from a failure.
pub(super) async fn seed_starters(db: &D1Database, now_ms: u64) -> Result<(), worker::Error> {
    for workflow in starter_workflows() {
        let exists: Option<f64> = db
            .prepare("SELECT 1 AS found FROM workflows WHERE key = ?1")
            .bind(&[text(&workflow.key)])?
            .first(Some("found"))
            .await?;
        if exists.is_none() {
            let statements = save_statements(db, &workflow, now_ms)
                .map_err(|error| worker::Error::RustError(error.message().to_owned()))?;
            db.batch(statements).await?;
        }
    }
    Ok(())
}

impl Environment {
    /// The current version with its metadata.
    pub async fn workflow_version(&self, key: &str) -> Result<Option<WorkflowResponse>, ApiError> {
        let row: Option<WorkflowRow> = statement(
            &self.db,
            "SELECT key, definition, version, created_at, updated_at FROM workflows WHERE key = ?1",
            &[text(key)],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("read workflow", error))?;
        row.map(response_from_row).transpose()
    }

    /// Version `version` of the workflow with `key`, if this environment has
    /// it, and (when `created_at` is given) if that workflow was created then:
    /// one deleted and made again under the same key is another workflow.
    pub async fn workflow_at(
        &self,
        key: &str,
        version: u32,
        created_at: Option<u64>,
    ) -> Result<Option<WorkflowResponse>, ApiError> {
        let created_at = created_at.map_or(wasm_bindgen::JsValue::NULL, number);
        let row: Option<WorkflowRow> = statement(
            &self.db,
            "SELECT v.workflow_key AS key, v.definition, v.version, w.created_at, v.created_at AS updated_at \
             FROM workflow_versions v JOIN workflows w ON w.key = v.workflow_key \
             WHERE v.workflow_key = ?1 AND v.version = ?2 AND (?3 IS NULL OR w.created_at = ?3)",
            &[text(key), number(u64::from(version)), created_at],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("read workflow version", error))?;
        row.map(response_from_row).transpose()
    }

    /// Every workflow's current version, by key.
    pub async fn workflows(&self) -> Result<Vec<WorkflowResponse>, ApiError> {
        let rows: Vec<WorkflowRow> = statement(
            &self.db,
            "SELECT key, definition, version, created_at, updated_at FROM workflows ORDER BY key",
            &[],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("list workflows", error))?;
        rows.into_iter().map(response_from_row).collect()
    }

    /// Every version of a workflow, newest first.
    pub async fn workflow_history(&self, key: &str) -> Result<Vec<WorkflowResponse>, ApiError> {
        let rows: Vec<WorkflowRow> = statement(
            &self.db,
            "SELECT v.workflow_key AS key, v.definition, v.version, w.created_at, v.created_at AS updated_at \
             FROM workflow_versions v JOIN workflows w ON w.key = v.workflow_key \
             WHERE v.workflow_key = ?1 ORDER BY v.version DESC",
            &[text(key)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("list workflow versions", error))?;
        rows.into_iter().map(response_from_row).collect()
    }

    /// Saves a new version and returns it.
    /// With `audit`, the entry (its summary's `after.version` set to the
    /// version saved) is written in the same transaction.
    pub async fn save_workflow(
        &self,
        unlocked: &Unlocked,
        workflow: &Workflow,
        now_ms: u64,
        audit: Option<&AuditRecord<'_>>,
    ) -> Result<WorkflowResponse, ApiError> {
        unlocked.check(self.name())?;
        let mut writes = save_statements(&self.db, workflow, now_ms)?;
        if let Some(audit) = audit {
            writes.push(super::environment_audit_statement(
                &self.db,
                audit,
                now_ms,
                "json_set(?5, '$.after.version', (SELECT version FROM workflows WHERE key = ?7))",
                "1",
                &[text(&workflow.key)],
            )?);
        }
        self.db.batch(writes).await.map_err(|error| storage_error("save workflow", error))?;
        self.workflow_version(&workflow.key).await?.ok_or_else(|| ApiError::internal("save workflow", "vanished"))
    }

    /// Deletes a workflow and its history; false when there was none. With
    /// `audit`, the entry is written in the same transaction, if it deleted.
    pub async fn delete_workflow(
        &self,
        unlocked: &Unlocked,
        key: &str,
        now_ms: u64,
        audit: Option<&AuditRecord<'_>>,
    ) -> Result<bool, ApiError> {
        unlocked.check(self.name())?;
        let mut writes = vec![
            statement(&self.db, "DELETE FROM workflow_versions WHERE workflow_key = ?1", &[text(key)])?,
            statement(&self.db, "DELETE FROM workflows WHERE key = ?1", &[text(key)])?,
        ];
        if let Some(audit) = audit {
            writes.push(super::environment_audit_statement(&self.db, audit, now_ms, "?5", "changes() > 0", &[])?);
        }
        let results = self.db.batch(writes).await.map_err(|error| storage_error("delete workflow", error))?;
        let deleted = results.get(1).and_then(|result| result.meta().ok().flatten()).and_then(|meta| meta.changes);
        Ok(deleted.unwrap_or(0) > 0)
    }
}

fn response_from_row(row: WorkflowRow) -> Result<WorkflowResponse, ApiError> {
    let definition: WorkflowInput = serde_json::from_str(&row.definition)
        .map_err(|error| ApiError::internal("decode workflow", format!("{}: {error}", row.key)))?;
    Ok(WorkflowResponse {
        key: row.key,
        version: row.version as u32,
        definition,
        created_at: rfc3339(row.created_at as u64),
        updated_at: rfc3339(row.updated_at as u64),
    })
}
