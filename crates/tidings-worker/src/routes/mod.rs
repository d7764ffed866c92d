//! Routing: method and path to a handler.

mod attachments;
mod audit;
mod bookmark;
mod bootstrap;
mod brand;
mod console;
mod console_deliveries;
mod console_workflows;
mod deliveries;
mod deployment;
mod environment;
mod environment_files;
mod environments;
mod feed;
mod files;
mod integrations;
mod keys;
mod logs;
mod members;
mod meta;
mod preferences;
mod promotions;
mod release_requests;
mod subscribers;
mod topics;
mod trigger;
mod variables;
mod workflows;

use tidings_core::wire::ErrorCode;
use worker::{Context, Method};

use crate::cors;
use crate::error::{ApiError, ApiResult};
use crate::request::IncomingRequest;
use crate::store::Platform;

/// Answers one request.
pub async fn handle(request: IncomingRequest, env: &Platform, ctx: &Context) -> ApiResult {
    let method = request.method();
    if method == Method::Options {
        return Ok(cors::preflight());
    }
    let path = request.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut request = request;
    if crate::request::body_arrives_first(&method, &segments) {
        request.arrive(crate::http::MAX_BODY_BYTES).await;
    }
    if let Some(answer) = dispatch(method.clone(), &segments, request, env, ctx).await {
        return answer;
    }
    if METHODS.into_iter().any(|other| is_routed(other, &segments)) {
        return Err(ApiError::new(405, ErrorCode::MethodNotAllowed, "this route does not accept that method"));
    }
    Err(ApiError::not_found(format!("no route for {path}")))
}

/// The methods routes use.
const METHODS: [Method; 5] = [Method::Get, Method::Post, Method::Put, Method::Patch, Method::Delete];

/// The one route table: expands to [`dispatch`], which runs the route a
/// request matches, and [`is_routed`], which says whether a method and path
/// have a route, so 405 is derived from the same table that routes.
macro_rules! route_table {
    ($request:ident, $env:ident, $ctx:ident; $(($method:ident, $pattern:pat) => $handler:expr,)*) => {
        /// Runs the route for `method` and `segments`; `None` when there is none.
        #[allow(unused_mut)]
        async fn dispatch(
            method: Method,
            segments: &[&str],
            mut $request: IncomingRequest,
            $env: &Platform,
            $ctx: &Context,
        ) -> Option<ApiResult> {
            Some(match (method, segments) {
                $((Method::$method, $pattern) => $handler,)*
                _ => return None,
            })
        }

        /// Whether a route answers `method` at `segments`.
        #[allow(unused_variables)]
        fn is_routed(method: Method, segments: &[&str]) -> bool {
            match (method, segments) {
                $((Method::$method, $pattern) => true,)*
                _ => false,
            }
        }
    };
}

route_table! { request, env, ctx;
        (Get, ["health"]) => meta::health(),
        (Get, ["openapi.json"]) => meta::openapi(),
        (Post, ["v1", "bootstrap"]) => bootstrap::bootstrap(&mut request, env).await,
        (Get, ["v1", "me"]) => members::me(&request, env).await,
        (Get, ["v1", "deployment"]) => deployment::get(&request, env).await,
        (Patch, ["v1", "deployment"]) => deployment::patch(&mut request, env).await,
        (Get, ["v1", "audit-log"]) => audit::deployment_audit_log(&request, env).await,
        (Get, ["v1", "members"]) => members::list(&request, env).await,
        (Post, ["v1", "members"]) => members::create(&mut request, env).await,
        (Patch, ["v1", "members", id]) => members::update(&mut request, env, id).await,
        (Delete, ["v1", "members", id]) => members::remove(&request, env, id).await,
        (Post, ["v1", "members", id, "tokens"]) => members::issue_token(&mut request, env, id).await,
        (Delete, ["v1", "members", id, "tokens", token_id]) => {
            members::revoke_token(&request, env, id, token_id).await
        },
        (Get, ["v1", "environments", "current"]) => environment::current(&request, env).await,
        (Get, ["v1", "environments"]) => environments::list(&request, env).await,
        (Post, ["v1", "environments"]) => environments::create(&mut request, env).await,
        (Delete, ["v1", "environments", name]) => environments::delete(&request, env, name).await,
        (Get, ["v1", "environments", name]) => environments::get(&request, env, name).await,
        (Patch, ["v1", "environments", name]) => environments::update(&mut request, env, name).await,
        (Post, ["v1", "environments", name, "lock"]) => environments::lock(&mut request, env, name).await,
        (Post, ["v1", "environments", name, "unlock"]) => environments::unlock(&request, env, name).await,
        (Post, ["v1", "environments", name, "archive"]) => environments::archive(&mut request, env, name).await,
        (Post, ["v1", "environments", name, "restore"]) => environments::restore(&request, env, name).await,
        (Post, ["v1", "environments", name, "purge"]) => environments::purge(&request, env, name).await,
        (Post, ["v1", "environments", name, "reshard"]) => environments::reshard(&mut request, env, name).await,
        (Post, ["v1", "environments", name, "signing-secret", "rotate"]) => {
            environments::rotate_signing_secret(&mut request, env, name).await
        },
        (Get, ["v1", "changes"]) => promotions::changes(&request, env).await,
        (Post, ["v1", "promotions"]) => promotions::promote(&mut request, env).await,
        (Get, ["v1", "environments", name, "subscribers"]) => console::subscribers(&request, env, name).await,
        (Get, ["v1", "environments", name, "subscribers", subscriber, "messages"]) => {
            console::messages(&request, env, name, subscriber).await
        },
        (Get, ["v1", "environments", name, "logs"]) => console::logs(&request, env, name).await,
        (Get, ["v1", "environments", name, "deliveries"]) => console_deliveries::list(&request, env, name).await,
        (Post, ["v1", "environments", name, "deliveries", id, "replay"]) => {
            console_deliveries::replay(&request, env, ctx, name, id).await
        },
        (Get, ["v1", "environments", name, "integrations"]) => {
            console_deliveries::integrations(&request, env, name).await
        },
        (Get, ["v1", "environments", name, "workflows"]) => console_workflows::list(&request, env, name).await,
        (Put, ["v1", "environments", name, "workflows", key]) => {
            console_workflows::put(&mut request, env, name, key).await
        },
        (Delete, ["v1", "environments", name, "workflows", key]) => {
            console_workflows::delete(&request, env, name, key).await
        },
        (Post, ["v1", "environments", name, "workflows", key, "test"]) => {
            console_workflows::test(&mut request, env, ctx, name, key).await
        },
        (Get, ["v1", "environments", name, "export"]) => environment_files::export(&request, env, name).await,
        (Post, ["v1", "environments", name, "import"]) => {
            environment_files::import(&mut request, env, name).await
        },
        (Get, ["v1", "environments", name, "audit-log"]) => audit::audit_log(&request, env, name).await,
        (Get, ["v1", "environments", name, "releases"]) => promotions::releases(&request, env, name).await,
        (Get, ["v1", "environments", name, "releases", id]) => {
            promotions::release(&request, env, name, id).await
        },
        (Post, ["v1", "environments", name, "releases", id, "rollback"]) => {
            promotions::rollback(&request, env, name, id).await
        },
        (Get, ["v1", "environments", name, "release-requests"]) => release_requests::list(&request, env, name).await,
        (Get, ["v1", "environments", name, "release-requests", id]) => {
            release_requests::get(&request, env, name, id).await
        },
        (Post, ["v1", "environments", name, "release-requests", id, "approve"]) => {
            release_requests::approve(&mut request, env, name, id).await
        },
        (Post, ["v1", "environments", name, "release-requests", id, "reject"]) => {
            release_requests::reject(&mut request, env, name, id).await
        },
        (Get, ["v1", "environments", name, "keys"]) => keys::list(&request, env, name).await,
        (Post, ["v1", "environments", name, "keys"]) => keys::create(&mut request, env, name).await,
        (Post, ["v1", "environments", name, "keys", id, "regenerate"]) => {
            keys::regenerate(&mut request, env, name, id).await
        },
        (Delete, ["v1", "environments", name, "keys", id]) => keys::revoke(&request, env, name, id).await,
        (Post, ["v1", "events", "trigger"]) => trigger::trigger(&mut request, env, ctx).await,
        (Post, ["v1", "events", "trigger", "bulk"]) => trigger::bulk(&mut request, env, ctx).await,
        (Get, ["v1", "subscribers", subscriber, "feed"]) => feed::list(&request, env, subscriber).await,
        (Get, ["v1", "subscribers", subscriber, "feed", "counts"]) => {
            feed::counts(&request, env, subscriber).await
        },
        (Post, ["v1", "subscribers", subscriber, "feed", "actions"]) => {
            feed::actions(&mut request, env, ctx, subscriber).await
        },
        (Get, ["v1", "subscribers", subscriber, "feed", "changes"]) => {
            feed::changes(&request, env, subscriber).await
        },
        (Post, ["v1", "subscribers", subscriber, "feed", "stream-ticket"]) => {
            feed::stream_ticket(&request, env, subscriber).await
        },
        (Get, ["v1", "subscribers", subscriber, "feed", "stream"]) => {
            feed::stream(&request, env, subscriber).await
        },
        (Get, ["v1", "logs"]) => logs::list(&request, env).await,
        (Get, ["v1", "deliveries"]) => deliveries::list(&request, env).await,
        (Post, ["v1", "deliveries", "replay"]) => deliveries::replay_many(&mut request, env, ctx).await,
        (Get, ["v1", "deliveries", id]) => deliveries::get(&request, env, id).await,
        (Post, ["v1", "deliveries", id, "replay"]) => deliveries::replay(&request, env, ctx, id).await,
        (Get, ["v1", "integrations"]) => integrations::list(&request, env).await,
        (Post, ["v1", "integrations"]) => integrations::create(&mut request, env).await,
        (Get, ["v1", "integrations", id]) => integrations::get(&request, env, id).await,
        (Put, ["v1", "integrations", id]) => integrations::put(&mut request, env, id).await,
        (Delete, ["v1", "integrations", id]) => integrations::delete(&request, env, id).await,
        (Get, ["v1", "files"]) => files::list(&request, env).await,
        (Post, ["v1", "files", "urls"]) => files::sign(&mut request, env).await,
        (Put, ["v1", "files", path @ ..]) => files::put(&mut request, env, path).await,
        (Get, ["v1", "files", path @ ..]) => files::get(&request, env, path).await,
        (Delete, ["v1", "files", path @ ..]) => files::delete(&request, env, path).await,
        (Get, ["v1", "signed-files", environment, path @ ..]) => {
            files::signed(&request, env, environment, path).await
        },
        (Get, ["v1", "brand"]) => brand::get(&request, env).await,
        (Put, ["v1", "brand"]) => brand::put(&mut request, env).await,
        (Get, ["v1", "brand", "logo"]) => brand::get_logo(&request, env).await,
        (Put, ["v1", "brand", "logo"]) => brand::put_logo(&mut request, env).await,
        (Get, ["v1", "variables"]) => variables::list(&request, env).await,
        (Get, ["v1", "variables", name]) => variables::get(&request, env, name).await,
        (Put, ["v1", "variables", name]) => variables::put(&mut request, env, name).await,
        (Delete, ["v1", "variables", name]) => variables::delete(&request, env, name).await,
        (Get, ["v1", "workflows"]) => workflows::list(&request, env).await,
        (Post, ["v1", "workflows"]) => workflows::create(&mut request, env).await,
        (Get, ["v1", "workflows", key]) => workflows::get(&request, env, key).await,
        (Put, ["v1", "workflows", key]) => workflows::put(&mut request, env, key).await,
        (Delete, ["v1", "workflows", key]) => workflows::delete(&request, env, key).await,
        (Get, ["v1", "workflows", key, "versions"]) => workflows::versions(&request, env, key).await,
        (Get, ["v1", "topics"]) => topics::list(&request, env).await,
        (Get, ["v1", "topics", key]) => topics::get(&request, env, key).await,
        (Put, ["v1", "topics", key]) => topics::put(&mut request, env, key).await,
        (Delete, ["v1", "topics", key]) => topics::delete(&request, env, key).await,
        (Get, ["v1", "topics", key, "subscribers"]) => topics::members(&request, env, key).await,
        (Post, ["v1", "topics", key, "subscribers"]) => topics::add_members(&mut request, env, key).await,
        (Delete, ["v1", "topics", key, "subscribers"]) => topics::remove_members(&mut request, env, key).await,
        (Get, ["v1", "transactions", id]) => topics::transaction(&request, env, id).await,
        (Get, ["v1", "subscribers"]) => subscribers::list(&request, env).await,
        (Post, ["v1", "subscribers", "bulk"]) => subscribers::bulk(&mut request, env).await,
        (Get, ["v1", "preferences", "defaults"]) => preferences::defaults(&request, env).await,
        (Put, ["v1", "preferences", "defaults"]) => preferences::replace_defaults(&mut request, env).await,
        (Get, ["v1", "subscribers", subscriber, "preferences"]) => {
            preferences::get(&request, env, subscriber).await
        },
        (Patch, ["v1", "subscribers", subscriber, "preferences"]) => {
            preferences::update(&mut request, env, subscriber).await
        },
        (Post, ["v1", "subscribers", id, "token"]) => subscribers::token(&mut request, env, id).await,
        (Delete, ["v1", "subscribers", id, "token"]) => subscribers::revoke_tokens(&request, env, id).await,
        (Put, ["v1", "subscribers", id]) => subscribers::upsert(&mut request, env, id).await,
        (Get, ["v1", "subscribers", id]) => subscribers::get(&request, env, id).await,
        (Delete, ["v1", "subscribers", id]) => subscribers::delete(&request, env, id).await,
}
