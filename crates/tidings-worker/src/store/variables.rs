//! Environment variables of one environment.

use serde::Deserialize;
use serde_json::{Map, Value};
use tidings_core::timestamp::rfc3339;
use tidings_core::variables::MAX_VARIABLES;
use tidings_core::wire::Variable;
use wasm_bindgen::JsValue;

use super::lock::Unlocked;
use super::{number, statement, storage_error, text, Environment};
use crate::error::ApiError;

#[derive(Deserialize)]
struct VariableRow {
    name: String,
    value: Option<String>,
    updated_at: f64,
}

impl Environment {
    /// Every variable, by name.
    pub async fn variables(&self) -> Result<Vec<Variable>, ApiError> {
        let rows: Vec<VariableRow> =
            statement(&self.db, "SELECT name, value, updated_at FROM variables ORDER BY name", &[])?
                .all()
                .await
                .and_then(|result| result.results())
                .map_err(|error| storage_error("list variables", error))?;
        Ok(rows
            .into_iter()
            .map(|row| Variable { name: row.name, value: row.value, updated_at: rfc3339(row.updated_at as u64) })
            .collect())
    }

    /// The variables with a value, as templates see them (`vars.NAME`).
    pub async fn variable_values(&self) -> Result<Value, ApiError> {
        let values: Map<String, Value> = self
            .variables()
            .await?
            .into_iter()
            .filter_map(|variable| variable.value.map(|value| (variable.name, Value::String(value))))
            .collect();
        Ok(Value::Object(values))
    }

    /// One variable.
    pub async fn variable(&self, name: &str) -> Result<Option<Variable>, ApiError> {
        Ok(self.variables().await?.into_iter().find(|variable| variable.name == name))
    }

    /// Creates a variable or sets its value. Answers false, writing nothing,
    /// when the name is new and either `may_add` is false (names are content,
    /// which production takes only by promotion) or the environment already
    /// has [`MAX_VARIABLES`].
    pub async fn save_variable(
        &self,
        unlocked: &Unlocked,
        variable: (&str, Option<&str>),
        may_add: bool,
        now_ms: u64,
    ) -> Result<bool, ApiError> {
        unlocked.check(self.name())?;
        let (name, value) = variable;
        // Whether the name exists and the count are read in the insert itself, so requests
        // adding names at once never pass the limit together, and a name removed meanwhile
        // is not added back by a caller who may only set values.
        let result = statement(
            &self.db,
            "INSERT INTO variables (name, value, updated_at) SELECT ?1, ?2, ?3 \
             WHERE EXISTS (SELECT 1 FROM variables WHERE name = ?1) \
             OR (?5 AND (SELECT COUNT(*) FROM variables) < ?4) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &[
                text(name),
                value.map_or(JsValue::NULL, text),
                number(now_ms),
                number(MAX_VARIABLES as u64),
                JsValue::from(u8::from(may_add)),
            ],
        )?
        .run()
        .await
        .map_err(|error| storage_error("save variable", error))?;
        Ok(result.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) > 0)
    }

    /// Deletes a variable; false when there was none.
    pub async fn delete_variable(&self, unlocked: &Unlocked, name: &str) -> Result<bool, ApiError> {
        unlocked.check(self.name())?;
        let result = statement(&self.db, "DELETE FROM variables WHERE name = ?1", &[text(name)])?
            .run()
            .await
            .map_err(|error| storage_error("delete variable", error))?;
        Ok(result.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) > 0)
    }
}
