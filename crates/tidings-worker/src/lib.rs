//! The Tidings worker.
//!
//! Runs on Cloudflare Workers (and locally in workerd through `wrangler
//! dev`). Every request is authenticated by an API key; the key names exactly
//! one environment, and [`store`] hands the route only that environment's
//! bindings. Routes translate HTTP to calls into `tidings_core` and back.

mod auth;
mod cors;
mod delivery;
mod error;
mod http;
mod hub;
mod platform;
mod request;
mod routes;
mod store;

use worker::{event, Context, Env, Response, Result};

use crate::request::IncomingRequest;

/// The fetch handler: routes the request and renders any error once.
#[event(fetch)]
pub async fn fetch(request: IncomingRequest, env: Env, ctx: Context) -> Result<Response> {
    let origin = request.headers().get("Origin").ok().flatten();
    let outcome = routes::handle(request, &env, &ctx).await;
    let response = match outcome {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    Ok(cors::decorate(response, origin.as_deref()))
}
