//! Environment variables (secret key): `GET /v1/variables`,
//! `GET|PUT|DELETE /v1/variables/{name}`. Names are content: in production they
//! arrive only by promotion, and only their values may be set there.

use serde::Serialize;
use tidings_core::key_scope::KeyScope;
use tidings_core::query::decode_segment;
use tidings_core::variables::{self, MAX_VARIABLES};
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{VariableInput, VariableList};

use crate::auth::authenticate_secret;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_json};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::store::Platform;

/// Every variable with this environment's value.
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentRead).await?;
    json(&VariableList { items: caller.scope.variables().await? }, 200)
}

/// One variable.
pub async fn get(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentRead).await?;
    let name = parse_name(raw_name)?;
    json(&caller.scope.variable(&name).await?.ok_or_else(|| not_found(&name))?, 200)
}

/// Creates a variable or sets its value (201 when new).
pub async fn put(request: &mut IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentWrite).await?;
    let name = parse_name(raw_name)?;
    let body: VariableInput = read_json(request).await?;
    if let Some(value) = &body.value {
        variables::validate_value(value).map_err(|error| ApiError::validation("value", error.to_string()))?;
    }
    let exists = caller.scope.variable(&name).await?.is_some();
    // A new name is content (production takes names only by promotion); a value is the
    // environment's own. Both rules and the limit are checked in the write itself.
    if !exists {
        caller.require_content_writable("variable names")?;
    }
    let may_add = caller.require_content_writable("variable names").is_ok();
    let unlocked = caller.scope.unlocked(env).await?;
    if !caller.scope.save_variable(&unlocked, (&name, body.value.as_deref()), may_add, now_ms()).await? {
        // The name was new when written: removed since it was read, or added by another request.
        caller.require_content_writable("variable names")?;
        return Err(too_many());
    }
    let saved = caller.scope.variable(&name).await?.ok_or_else(|| ApiError::internal("save variable", "vanished"))?;
    json(&saved, if exists { 200 } else { 201 })
}

/// Deletes a variable.
pub async fn delete(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    #[derive(Serialize)]
    struct Deleted {
        name: String,
        deleted: bool,
    }
    let caller = authenticate_secret(request, env, KeyScope::ContentWrite).await?;
    caller.require_content_writable("variable names")?;
    let name = parse_name(raw_name)?;
    if !caller.scope.delete_variable(&caller.scope.unlocked(env).await?, &name).await? {
        return Err(ApiError::new(
            404,
            ErrorCode::VariableNotFound,
            format!("there is no variable {name} in this environment"),
        ));
    }
    json(&Deleted { name, deleted: true }, 200)
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(404, ErrorCode::VariableNotFound, format!("there is no variable {name} in this environment"))
}

fn parse_name(raw: &str) -> ApiResult<String> {
    let name = decode_segment(raw)?;
    variables::validate_name(&name).map_err(|error| ApiError::validation("name", error.to_string()))?;
    Ok(name)
}

/// The answer for a new name past [`MAX_VARIABLES`].
fn too_many() -> ApiError {
    ApiError::new(409, ErrorCode::TooManyVariables, format!("an environment has at most {MAX_VARIABLES} variables"))
}
