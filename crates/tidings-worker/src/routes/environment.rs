//! `GET /v1/environments/current`.

use worker::Env;

use crate::auth::authenticate;
use crate::error::ApiResult;
use crate::http::json;
use crate::request::IncomingRequest;

/// The environment of the caller's key.
pub async fn current(request: &IncomingRequest, env: &Env) -> ApiResult {
    let caller = authenticate(request, env).await?;
    json(&caller.scope.info(), 200)
}
