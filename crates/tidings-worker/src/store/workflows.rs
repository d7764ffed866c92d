//! Workflows of one environment.

use serde::Deserialize;
use tidings_core::workflow::{starter_workflows, Workflow};
use worker::D1Database;

use super::{number, statement, storage_error, text, EnvironmentScope};
use crate::error::ApiError;

#[derive(Deserialize)]
struct WorkflowRow {
    key: String,
    name: String,
    subject: String,
    body: String,
}

/// Stores the starter workflows unless they exist.
pub(super) async fn seed_starters(db: &D1Database, now_ms: u64) -> Result<(), ApiError> {
    let mut writes = Vec::new();
    for workflow in starter_workflows() {
        writes.push(statement(
            db,
            "INSERT INTO workflows (key, name, subject, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (key) DO NOTHING",
            &[
                text(&workflow.key),
                text(&workflow.name),
                text(&workflow.subject),
                text(&workflow.body),
                number(now_ms),
            ],
        )?);
    }
    db.batch(writes)
        .await
        .map_err(|error| storage_error("seed workflows", error))?;
    Ok(())
}

impl EnvironmentScope {
    /// The workflow with `key`, if this environment has it.
    pub async fn workflow(&self, key: &str) -> Result<Option<Workflow>, ApiError> {
        let row: Option<WorkflowRow> = statement(
            &self.db,
            "SELECT key, name, subject, body FROM workflows WHERE key = ?1",
            &[text(key)],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("read workflow", error))?;
        Ok(row.map(|row| Workflow {
            key: row.key,
            name: row.name,
            subject: row.subject,
            body: row.body,
        }))
    }
}
