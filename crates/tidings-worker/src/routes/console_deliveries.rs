//! Webhook deliveries and integrations in the console:
//! `GET /v1/environments/{name}/deliveries` and `…/integrations` (members
//! who may see the environment, through `MemberView`: subscriber ids as
//! handles where masked, integration URLs cut to their host for members who
//! do not administer it), and `POST …/deliveries/{id}/replay` (members who
//! may configure the environment: owners and admins; audited in the same
//! transaction as the replay).

use tidings_core::access::Action;
use worker::Context;

use super::environments::parse_name;
use super::{audit, console};
use crate::auth::authorize_in;
use crate::error::ApiResult;
use crate::http::{json, query_pairs};
use crate::request::IncomingRequest;
use crate::services::{self, replay::Selection};
use crate::store::{Environment, Platform};

/// Deliveries, newest first.
pub async fn list(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let view = console::open(request, env, raw_name).await?;
    json(&view.deliveries(&query_pairs(request)?).await?, 200)
}

/// Integrations and how their deliveries go.
pub async fn integrations(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let view = console::open(request, env, raw_name).await?;
    json(&view.integrations().await?, 200)
}

/// Replays one dead delivery; a pending or delivered one is left as it is.
pub async fn replay(request: &IncomingRequest, env: &Platform, ctx: &Context, raw_name: &str, id: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::Configure).await?;
    let scope = Environment::open_authorized(env, &authorized).await?;
    let summary = serde_json::json!({ "delivery": id });
    let draft =
        audit::draft(authorized.actor(), "delivery.replay", Some(name.as_str()), format!("delivery:{id}"), summary)?;
    let record = draft.record();
    json(&services::replay::replay(env, ctx, &scope, Selection::One(id), Some(&record)).await?, 200)
}
