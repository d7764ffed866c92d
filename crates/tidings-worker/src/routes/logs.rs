//! `GET /v1/logs` (secret key): execution logs, newest first.

use tidings_core::key_scope::KeyScope;
use tidings_core::logs::LogQuery;

use crate::auth::authenticate_secret;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, query_pairs};
use crate::request::IncomingRequest;
use crate::store::Platform;

/// A page of log entries, filtered by workflow, subscriber, status and time.
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::LogsRead).await?;
    let pairs = query_pairs(request)?;
    let query = LogQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .map_err(|error| ApiError::validation(error.field, error.to_string()))?;
    json(&caller.scope.logs(&query).await?, 200)
}
