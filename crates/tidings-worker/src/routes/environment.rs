//! `GET /v1/environments/current`.

use crate::auth::identify;
use crate::error::ApiResult;
use crate::http::json;
use crate::request::IncomingRequest;
use crate::store::Platform;

/// The environment of the caller's key.
pub async fn current(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = identify(request, env).await?;
    json(&caller.scope.info(), 200)
}
