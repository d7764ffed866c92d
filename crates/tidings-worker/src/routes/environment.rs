//! `GET /v1/environments/current`.

use worker::{Env, Request};

use crate::auth::authenticate;
use crate::error::ApiResult;
use crate::http::json;

/// The environment of the caller's key.
pub async fn current(request: &Request, env: &Env) -> ApiResult {
    let caller = authenticate(request, env).await?;
    json(&caller.scope.info(), 200)
}
