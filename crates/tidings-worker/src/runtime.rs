//! The runtime's entry point: the fetch event. The runtime hands over its
//! `Env` here, and it is wrapped in [`Platform`] at once; `worker::Env` is
//! a disallowed type everywhere else (`clippy.toml`).

#![allow(clippy::disallowed_types)]

use worker::{event, Context, Env, Response, Result};

use crate::request::IncomingRequest;
use crate::store::Platform;
use crate::{cors, routes};

/// The fetch handler: routes the request and renders any error once.
#[event(fetch)]
pub async fn fetch(request: IncomingRequest, env: Env, ctx: Context) -> Result<Response> {
    let origin = request.headers().get("Origin").ok().flatten();
    let platform = Platform::new(env);
    let outcome = routes::handle(request, &platform, &ctx).await;
    let response = match outcome {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    Ok(cors::decorate(response, origin.as_deref()))
}
