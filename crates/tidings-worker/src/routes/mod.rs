//! Routing: method and path to a handler.

mod bootstrap;
mod environment;
mod feed;
mod meta;
mod trigger;

use worker::{Env, Method, Request};

use crate::cors;
use crate::error::{ApiError, ApiResult};

/// Answers one request.
pub async fn handle(mut request: Request, env: &Env) -> ApiResult {
    let method = request.method();
    if method == Method::Options {
        return Ok(cors::preflight());
    }
    let path = request.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::Get, ["health"]) => meta::health(),
        (Method::Get, ["openapi.json"]) => meta::openapi(),
        (Method::Post, ["v1", "bootstrap"]) => bootstrap::bootstrap(&mut request, env).await,
        (Method::Get, ["v1", "environments", "current"]) => {
            environment::current(&request, env).await
        }
        (Method::Post, ["v1", "events", "trigger"]) => trigger::trigger(&mut request, env).await,
        (Method::Get, ["v1", "subscribers", subscriber, "feed"]) => {
            feed::list(&request, env, subscriber).await
        }
        (
            _,
            ["health" | "openapi.json"] | ["v1", "bootstrap"] | ["v1", "environments", "current"],
        )
        | (_, ["v1", "events", "trigger"] | ["v1", "subscribers", _, "feed"]) => {
            Err(ApiError::new(
                405,
                "method_not_allowed",
                "this route does not accept that method",
            ))
        }
        _ => Err(ApiError::not_found(format!("no route for {path}"))),
    }
}
