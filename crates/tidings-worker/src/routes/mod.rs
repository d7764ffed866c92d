//! Routing: method and path to a handler.

mod audit;
mod bootstrap;
mod brand;
mod console;
mod console_workflows;
mod environment;
mod environment_files;
mod environments;
mod feed;
mod integrations;
mod keys;
mod logs;
mod members;
mod meta;
mod preferences;
mod promotions;
mod subscribers;
mod trigger;
mod variables;
mod workflows;

use worker::{Context, Env, Method};

use crate::cors;
use crate::error::{ApiError, ApiResult};
use crate::request::IncomingRequest;

/// Answers one request.
pub async fn handle(mut request: IncomingRequest, env: &Env, ctx: &Context) -> ApiResult {
    let method = request.method();
    if method == Method::Options {
        return Ok(cors::preflight());
    }
    let path = request.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::Get, ["health"]) => meta::health(),
        (Method::Get, ["openapi.json"]) => meta::openapi(),
        (Method::Post, ["v1", "bootstrap"]) => bootstrap::bootstrap(&mut request, env).await,
        (Method::Get, ["v1", "me"]) => members::me(&request, env).await,
        (Method::Get, ["v1", "audit-log"]) => audit::deployment_audit_log(&request, env).await,
        (Method::Get, ["v1", "members"]) => members::list(&request, env).await,
        (Method::Post, ["v1", "members"]) => members::create(&mut request, env).await,
        (Method::Patch, ["v1", "members", id]) => members::update(&mut request, env, id).await,
        (Method::Delete, ["v1", "members", id]) => members::remove(&request, env, id).await,
        (Method::Post, ["v1", "members", id, "tokens"]) => members::issue_token(&mut request, env, id).await,
        (Method::Delete, ["v1", "members", id, "tokens", token_id]) => {
            members::revoke_token(&request, env, id, token_id).await
        }
        (Method::Get, ["v1", "environments", "current"]) => environment::current(&request, env).await,
        (Method::Get, ["v1", "environments"]) => environments::list(&request, env).await,
        (Method::Post, ["v1", "environments"]) => environments::create(&mut request, env).await,
        (Method::Delete, ["v1", "environments", name]) => environments::delete(&request, env, name).await,
        (Method::Get, ["v1", "environments", name]) => environments::get(&request, env, name).await,
        (Method::Patch, ["v1", "environments", name]) => environments::update(&mut request, env, name).await,
        (Method::Post, ["v1", "environments", name, "signing-secret", "rotate"]) => {
            environments::rotate_signing_secret(&mut request, env, name).await
        }
        (Method::Get, ["v1", "changes"]) => promotions::changes(&request, env).await,
        (Method::Post, ["v1", "promotions"]) => promotions::promote(&mut request, env).await,
        (Method::Get, ["v1", "environments", name, "subscribers"]) => console::subscribers(&request, env, name).await,
        (Method::Get, ["v1", "environments", name, "subscribers", subscriber, "messages"]) => {
            console::messages(&request, env, name, subscriber).await
        }
        (Method::Get, ["v1", "environments", name, "logs"]) => console::logs(&request, env, name).await,
        (Method::Get, ["v1", "environments", name, "workflows"]) => console_workflows::list(&request, env, name).await,
        (Method::Put, ["v1", "environments", name, "workflows", key]) => {
            console_workflows::put(&mut request, env, name, key).await
        }
        (Method::Delete, ["v1", "environments", name, "workflows", key]) => {
            console_workflows::delete(&request, env, name, key).await
        }
        (Method::Post, ["v1", "environments", name, "workflows", key, "test"]) => {
            console_workflows::test(&mut request, env, ctx, name, key).await
        }
        (Method::Get, ["v1", "environments", name, "export"]) => environment_files::export(&request, env, name).await,
        (Method::Post, ["v1", "environments", name, "import"]) => {
            environment_files::import(&mut request, env, name).await
        }
        (Method::Get, ["v1", "environments", name, "audit-log"]) => audit::audit_log(&request, env, name).await,
        (Method::Get, ["v1", "environments", name, "releases"]) => promotions::releases(&request, env, name).await,
        (Method::Get, ["v1", "environments", name, "releases", id]) => {
            promotions::release(&request, env, name, id).await
        }
        (Method::Post, ["v1", "environments", name, "releases", id, "rollback"]) => {
            promotions::rollback(&request, env, name, id).await
        }
        (Method::Get, ["v1", "environments", name, "keys"]) => keys::list(&request, env, name).await,
        (Method::Post, ["v1", "environments", name, "keys"]) => keys::create(&mut request, env, name).await,
        (Method::Post, ["v1", "environments", name, "keys", id, "regenerate"]) => {
            keys::regenerate(&mut request, env, name, id).await
        }
        (Method::Delete, ["v1", "environments", name, "keys", id]) => keys::revoke(&request, env, name, id).await,
        (Method::Post, ["v1", "events", "trigger"]) => trigger::trigger(&mut request, env, ctx).await,
        (Method::Post, ["v1", "events", "trigger", "bulk"]) => trigger::bulk(&mut request, env, ctx).await,
        (Method::Get, ["v1", "subscribers", subscriber, "feed"]) => feed::list(&request, env, subscriber).await,
        (Method::Get, ["v1", "subscribers", subscriber, "feed", "counts"]) => {
            feed::counts(&request, env, subscriber).await
        }
        (Method::Post, ["v1", "subscribers", subscriber, "feed", "actions"]) => {
            feed::actions(&mut request, env, ctx, subscriber).await
        }
        (Method::Get, ["v1", "subscribers", subscriber, "feed", "changes"]) => {
            feed::changes(&request, env, subscriber).await
        }
        (Method::Get, ["v1", "subscribers", subscriber, "feed", "stream"]) => {
            feed::stream(&request, env, subscriber).await
        }
        (Method::Get, ["v1", "logs"]) => logs::list(&request, env).await,
        (Method::Get, ["v1", "integrations"]) => integrations::list(&request, env).await,
        (Method::Post, ["v1", "integrations"]) => integrations::create(&mut request, env).await,
        (Method::Get, ["v1", "integrations", id]) => integrations::get(&request, env, id).await,
        (Method::Put, ["v1", "integrations", id]) => integrations::put(&mut request, env, id).await,
        (Method::Delete, ["v1", "integrations", id]) => integrations::delete(&request, env, id).await,
        (Method::Get, ["v1", "brand"]) => brand::get(&request, env).await,
        (Method::Put, ["v1", "brand"]) => brand::put(&mut request, env).await,
        (Method::Get, ["v1", "brand", "logo"]) => brand::get_logo(&request, env).await,
        (Method::Put, ["v1", "brand", "logo"]) => brand::put_logo(&mut request, env).await,
        (Method::Get, ["v1", "variables"]) => variables::list(&request, env).await,
        (Method::Get, ["v1", "variables", name]) => variables::get(&request, env, name).await,
        (Method::Put, ["v1", "variables", name]) => variables::put(&mut request, env, name).await,
        (Method::Delete, ["v1", "variables", name]) => variables::delete(&request, env, name).await,
        (Method::Get, ["v1", "workflows"]) => workflows::list(&request, env).await,
        (Method::Post, ["v1", "workflows"]) => workflows::create(&mut request, env).await,
        (Method::Get, ["v1", "workflows", key]) => workflows::get(&request, env, key).await,
        (Method::Put, ["v1", "workflows", key]) => workflows::put(&mut request, env, key).await,
        (Method::Delete, ["v1", "workflows", key]) => workflows::delete(&request, env, key).await,
        (Method::Get, ["v1", "workflows", key, "versions"]) => workflows::versions(&request, env, key).await,
        (Method::Get, ["v1", "subscribers"]) => subscribers::list(&request, env).await,
        (Method::Post, ["v1", "subscribers", "bulk"]) => subscribers::bulk(&mut request, env).await,
        (Method::Get, ["v1", "preferences", "defaults"]) => preferences::defaults(&request, env).await,
        (Method::Put, ["v1", "preferences", "defaults"]) => preferences::replace_defaults(&mut request, env).await,
        (Method::Get, ["v1", "subscribers", subscriber, "preferences"]) => {
            preferences::get(&request, env, subscriber).await
        }
        (Method::Patch, ["v1", "subscribers", subscriber, "preferences"]) => {
            preferences::update(&mut request, env, subscriber).await
        }
        (Method::Post, ["v1", "subscribers", id, "token"]) => subscribers::token(&mut request, env, id).await,
        (Method::Put, ["v1", "subscribers", id]) => subscribers::upsert(&mut request, env, id).await,
        (Method::Get, ["v1", "subscribers", id]) => subscribers::get(&request, env, id).await,
        (Method::Delete, ["v1", "subscribers", id]) => subscribers::delete(&request, env, id).await,
        (_, segments) if is_known_path(segments) => {
            Err(ApiError::new(405, "method_not_allowed", "this route does not accept that method"))
        }
        _ => Err(ApiError::not_found(format!("no route for {path}"))),
    }
}

/// Whether some method is routed for this path.
fn is_known_path(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["health" | "openapi.json"]
            | ["v1", "bootstrap" | "environments" | "me" | "members" | "audit-log"]
            | ["v1", "members", _]
            | ["v1", "members", _, "tokens"]
            | ["v1", "members", _, "tokens", _]
            | ["v1", "environments", _]
            | ["v1", "environments", _, "keys"]
            | ["v1", "environments", _, "signing-secret", "rotate"]
            | ["v1", "changes" | "promotions"]
            | ["v1", "preferences", "defaults"]
            | ["v1", "environments", _, "releases" | "audit-log" | "subscribers" | "logs" | "workflows"]
            | ["v1", "environments", _, "workflows", _]
            | ["v1", "environments", _, "workflows", _, "test"]
            | ["v1", "environments", _, "subscribers", _, "messages"]
            | ["v1", "environments", _, "releases", _]
            | ["v1", "environments", _, "releases", _, "rollback"]
            | ["v1", "environments", _, "keys", _]
            | ["v1", "environments", _, "keys", _, "regenerate"]
            | ["v1", "events", "trigger"]
            | ["v1", "events", "trigger", "bulk"]
            | ["v1", "subscribers", _, "feed"]
            | ["v1", "subscribers", _, "feed", "counts" | "actions" | "changes" | "stream"]
            | ["v1", "subscribers", _, "token" | "preferences"]
            | ["v1", "subscribers"]
            | ["v1", "logs"]
            | ["v1", "integrations"]
            | ["v1", "integrations", _]
            | ["v1", "workflows" | "variables" | "brand"]
            | ["v1", "brand", "logo"]
            | ["v1", "variables", _]
            | ["v1", "workflows", _]
            | ["v1", "workflows", _, "versions"]
            | ["v1", "subscribers", _]
    )
}
