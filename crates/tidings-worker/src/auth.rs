//! Who is calling: the API key, its environment, and for feed routes the
//! subscriber credential.

use core::future::Future;

use futures_util::future::try_join;
use tidings_core::access::{self, Action, Grants, Role};
use tidings_core::environment::{EnvironmentName, EnvironmentType};
use tidings_core::key::{ApiKey, KeyKind};
use tidings_core::key_scope::{KeyScope, KeyScopes};
use tidings_core::policy::ControlAction;
use tidings_core::rate_limit::Tier;
use tidings_core::stream_ticket::StreamTicket;
use tidings_core::subscriber::SubscriberId;
use tidings_core::token::{Claims, TokenError};
use tidings_core::wire::ErrorCode;

use crate::error::{ApiError, ApiResult};
use crate::http::{header, query_pairs};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::store::Platform;
use crate::store::{self, Environment, StreamGrant};
pub use crate::store::{Actor, Authorized};

/// An authenticated caller: the kind of key and its environment's storage.
pub struct Caller {
    /// Publishable or secret.
    pub kind: KeyKind,
    /// What the key may do (a publishable key: the feed routes its kind opens).
    pub scopes: KeyScopes,
    /// The key's id (never the key).
    pub key_id: String,
    /// The one environment the key opens.
    pub scope: Environment,
}

/// Validates the bearer key, opens its environment and applies the
/// environment's browser-origin policy, for a route that any key opens
/// (publishable or secret) and that declares `scope` for restricted keys.
pub async fn authenticate(request: &IncomingRequest, env: &Platform, scope: KeyScope) -> ApiResult<Caller> {
    let caller = identify(request, env).await?;
    caller.require_scope(scope)?;
    Ok(caller)
}

/// [`authenticate`] for the one route every key opens whatever its scopes:
/// `GET /v1/environments/current`, which says whose key it is.
pub async fn identify(request: &IncomingRequest, env: &Platform) -> ApiResult<Caller> {
    authenticate_key(request, env, &bearer(request)?).await
}

/// [`identify`] with the key given apart from the request.
async fn authenticate_key(request: &IncomingRequest, env: &Platform, key: &str) -> ApiResult<Caller> {
    let key = ApiKey::parse(key)?;
    if key.kind() == KeyKind::Secret && from_browser(request) {
        return Err(ApiError::new(
            403,
            ErrorCode::SecretKeyInBrowser,
            "secret keys must never reach a browser; use the publishable key there and rotate this secret key",
        ));
    }
    let (mut scope, scopes) = Environment::open(env, &key, &client_of(request), now_ms()).await?;
    let faults = store::FaultPlan::of(request, env);
    faults.trap_if_asked();
    scope.inject_faults(faults);
    check_origin(request, &scope)?;
    if key.kind() == KeyKind::Secret {
        let tier = if request.path().starts_with("/v1/events/trigger") { Tier::Triggers } else { Tier::Management };
        store::draw_rate_limit(env, tier, scope.name().as_str(), &key.hash()[..16]).await?;
    }
    Ok(Caller { kind: key.kind(), scopes, key_id: key.id(), scope })
}

/// Authenticates a server route: the key must be a secret key holding
/// `scope`, the one the route declares (`x-tidings-scope`).
pub async fn authenticate_secret(request: &IncomingRequest, env: &Platform, scope: KeyScope) -> ApiResult<Caller> {
    let caller = identify(request, env).await?;
    caller.require_secret()?;
    caller.require_scope(scope)?;
    Ok(caller)
}

/// Authenticates a subscriber's route: any key (a secret one holding
/// `scope`), plus the subscriber credential the environment requires (a
/// write token when the scope writes).
pub async fn authenticate_subscriber(
    request: &IncomingRequest,
    env: &Platform,
    subscriber: &SubscriberId,
    scope: KeyScope,
) -> ApiResult<Caller> {
    let caller = authenticate(request, env, scope).await?;
    caller.authorize_subscriber(request, subscriber, scope).await?;
    caller.draw_feed_budget(env, subscriber).await?;
    Ok(caller)
}

/// Authenticates a stream-ticket request for `subscriber`, like
/// [`authenticate_subscriber`] for a read; also answers the claims of the
/// subscriber token presented, if one was.
pub async fn authenticate_ticket_request(
    request: &IncomingRequest,
    env: &Platform,
    subscriber: &SubscriberId,
) -> ApiResult<(Caller, Option<Claims>)> {
    let caller = authenticate(request, env, KeyScope::FeedRead).await?;
    let claims = caller.authorize_subscriber(request, subscriber, KeyScope::FeedRead).await?;
    caller.draw_feed_budget(env, subscriber).await?;
    Ok((caller, claims))
}

/// Authenticates a read of `subscriber`'s feed, like
/// [`authenticate_subscriber`] with `feed:read` but leaving the rate-limit
/// budget to [`Caller::read_within_budget`].
pub async fn authenticate_reader(
    request: &IncomingRequest,
    env: &Platform,
    subscriber: &SubscriberId,
) -> ApiResult<Caller> {
    let caller = authenticate(request, env, KeyScope::FeedRead).await?;
    caller.authorize_subscriber(request, subscriber, KeyScope::FeedRead).await?;
    Ok(caller)
}

/// Authenticates a realtime connection for `subscriber`. Browsers cannot
/// set headers on a WebSocket, so the only credential in its URL is a
/// one-time stream ticket (`?ticket=stk_…`), obtained with the headers'
/// credentials from `POST …/feed/stream-ticket`; the ticket is consumed
/// here. A key in the URL is refused (a secret one with
/// `secret_key_in_url`). Answers the environment and what the socket may
/// hold on to.
pub async fn authenticate_stream(
    request: &IncomingRequest,
    env: &Platform,
    subscriber: &SubscriberId,
) -> ApiResult<(Environment, StreamGrant)> {
    let pairs = query_pairs(request)?;
    let get = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    if get("key").is_some_and(|key| key.starts_with("sk_")) {
        return Err(ApiError::new(
            403,
            ErrorCode::SecretKeyInUrl,
            "secret keys must never travel in a URL; rotate this key, then open realtime connections with a stream ticket",
        ));
    }
    let ticket = get("ticket").ok_or_else(|| {
        ApiError::new(
            401,
            ErrorCode::MissingCredentials,
            "open realtime connections with ?ticket=…, from POST /v1/subscribers/{id}/feed/stream-ticket",
        )
    })?;
    let ticket = StreamTicket::parse(ticket)
        .map_err(|error| ApiError::new(401, ErrorCode::StreamTicketInvalid, error.to_string()))?;
    let (client, now) = (client_of(request), now_ms());
    store::guard_lookup(&client, now)?;
    // A ticket that is unknown, used or expired, or names an environment that does not exist
    // or does not serve, is one answer, counted against the caller's lookups: the ticket's
    // environment name is the caller's to choose, and whether it exists is nobody's business.
    // (A real ticket whose key or credential ended since says so.)
    let environment_level = [
        ErrorCode::StreamTicketInvalid,
        ErrorCode::EnvironmentNotFound,
        ErrorCode::EnvironmentArchived,
        ErrorCode::EnvironmentNotReady,
    ];
    let (scope, grant) = match Environment::open_with_ticket(env, &ticket, subscriber, now).await {
        Ok(opened) => opened,
        Err(error) if environment_level.contains(&error.code()) => {
            store::note_failed_lookup(env, &client, now).await;
            return Err(ApiError::new(
                401,
                ErrorCode::StreamTicketInvalid,
                "this stream ticket is unknown, used or expired; ask for a new one",
            ));
        }
        Err(error) => return Err(error),
    };
    check_origin(request, &scope)?;
    Ok((scope, grant))
}

/// Authenticates a control-plane request: a member token (`mt_…`) or the
/// deployment's admin token.
pub async fn authenticate_actor(request: &IncomingRequest, env: &Platform) -> ApiResult<Actor> {
    let presented = bearer(request)?;
    if access::is_member_token(&presented) {
        let hash = access::member_token_hash(&presented);
        let (client, now) = (client_of(request), now_ms());
        store::guard_lookup(&client, now)?;
        return match store::member_by_token(env, &hash, now).await? {
            Some(store::SignedIn { member, grants, since_ms, issuer }) => {
                Ok(Actor { id: member.id, name: member.name, grants, break_glass: false, since_ms, issuer })
            }
            None => {
                store::note_failed_lookup(env, &client, now).await;
                Err(ApiError::new(
                    401,
                    ErrorCode::MemberTokenInvalid,
                    "this member token is unknown, expired or revoked; ask an admin for a new one",
                ))
            }
        };
    }
    authenticate_admin(request, env).await?;
    Ok(Actor {
        id: "admin".to_owned(),
        name: "Admin token".to_owned(),
        grants: Grants::role(Role::Owner),
        break_glass: true,
        since_ms: 0,
        issuer: "admin".to_owned(),
    })
}

/// Authenticates a control-plane request and asks the one policy whether
/// its actor may do `action`: the only way routes obtain an [`Authorized`].
pub async fn authorize(request: &IncomingRequest, env: &Platform, action: ControlAction<'_>) -> ApiResult<Authorized> {
    let actor = authenticate_actor(request, env).await?;
    store::authorize(env, actor, action).await
}

/// [`authorize`] for an action inside one environment. An environment the
/// caller has no access to does not exist for them (404).
pub async fn authorize_in(
    request: &IncomingRequest,
    env: &Platform,
    name: &EnvironmentName,
    action: Action,
) -> ApiResult<Authorized> {
    authorize(request, env, ControlAction::InEnvironment { environment: name.as_str(), action }).await
}

/// Checks the break-glass credential, the deployment's admin token: it
/// must match, the deployment must not have turned it off, and each use is
/// written to the audit log before the request does anything.
pub async fn authenticate_admin(request: &IncomingRequest, env: &Platform) -> ApiResult<()> {
    let expected = store::admin_token(env)?;
    let presented = bearer(request)?;
    // The token is long and random: a guess costs no storage read and does not succeed,
    // so guesses draw from no budget (API keys sent here by mistake would spend it).
    if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::new(403, ErrorCode::Forbidden, "this credential does not open the control plane"));
    }
    let now = now_ms();
    if !store::deployment_settings(env).await?.admin_token_enabled {
        return Err(ApiError::new(
            403,
            ErrorCode::AdminTokenDisabled,
            "the deployment's admin token is turned off; sign in with a member token",
        ));
    }
    let id = tidings_core::promotion::audit_id(now, crate::platform::random()?);
    let resource = format!("request:{:?} {}", request.method(), request.path());
    let record = store::AuditRecord {
        id: &id,
        actor: "admin",
        action: "admin_token.use",
        environment: None,
        resource: &resource,
        summary: serde_json::json!({}),
    };
    store::record_admin_use(env, &record, now).await
}

/// Refuses a page at an origin the environment does not allow.
fn check_origin(request: &IncomingRequest, scope: &Environment) -> ApiResult<()> {
    if let Some(origin) = header(request, "Origin") {
        if !scope.allows_origin(&origin) {
            return Err(ApiError::new(
                403,
                ErrorCode::OriginNotAllowed,
                format!("the origin {origin} is not allowed to use the {} environment", scope.name()),
            ));
        }
    }
    Ok(())
}

/// Who is asking, for the budgets of failed lookups: the client address
/// Cloudflare gives (`unknown` where there is none).
fn client_of(request: &IncomingRequest) -> String {
    header(request, "CF-Connecting-IP").unwrap_or_else(|| "unknown".to_owned())
}

/// Whether the request comes from a web browser: it names a page origin, or
/// its User-Agent is a browser's (they all begin `Mozilla/`).
fn from_browser(request: &IncomingRequest) -> bool {
    header(request, "Origin").is_some()
        || header(request, "User-Agent").is_some_and(|agent| agent.trim_start().starts_with("Mozilla/"))
}

fn token_error(error: TokenError) -> ApiError {
    let code = match error {
        TokenError::Expired => ErrorCode::SubscriberCredentialExpired,
        TokenError::WrongEnvironment => ErrorCode::SubscriberCredentialWrongEnvironment,
        TokenError::WrongSubscriber => ErrorCode::SubscriberCredentialWrongSubscriber,
        TokenError::Revoked => ErrorCode::SubscriberCredentialRevoked,
        _ => ErrorCode::SubscriberCredentialInvalid,
    };
    ApiError::new(401, code, error.to_string())
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The header that may carry an API key instead of `Authorization: Bearer`.
pub const API_KEY_HEADER: &str = "X-API-Key";

/// The credential a request presents: `Authorization: Bearer <credential>`
/// or `X-API-Key: <credential>`, under the same rules wherever either is
/// read. Both headers with different values answer 400
/// `conflicting_credentials`: which one counts is never guessed.
pub fn bearer(request: &IncomingRequest) -> ApiResult<String> {
    let missing = || {
        ApiError::new(
            401,
            ErrorCode::MissingCredentials,
            "send the API key as Authorization: Bearer <key> or as X-API-Key: <key>",
        )
    };
    let from_api_key_header =
        header(request, API_KEY_HEADER).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
    // An `Authorization` that carries no bearer credential (`Basic …` from a
    // proxy, empty) is not a credential here: with `X-API-Key` it is ignored.
    let from_authorization = match header(request, "Authorization") {
        Some(value) => match value.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                Some(token.trim().to_owned())
            }
            _ if from_api_key_header.is_some() => None,
            _ => return Err(missing()),
        },
        None => None,
    };
    match (from_authorization, from_api_key_header) {
        (Some(bearer), Some(api_key)) if bearer != api_key => Err(ApiError::new(
            400,
            ErrorCode::ConflictingCredentials,
            "Authorization and X-API-Key name different credentials; send one of them",
        )),
        (Some(credential), _) | (None, Some(credential)) => Ok(credential),
        (None, None) => Err(missing()),
    }
}

impl Caller {
    /// Refuses content writes (workflows, integration configuration) in a
    /// production-type environment: content there changes only by promotion.
    pub fn require_content_writable(&self, what: &str) -> ApiResult<()> {
        if self.scope.environment_type() == EnvironmentType::Production {
            return Err(ApiError::new(
                403,
                ErrorCode::EnvironmentReadOnly,
                format!(
                    "{what} in {} change only by promotion; edit them in a non-production environment",
                    self.scope.name()
                ),
            ));
        }
        Ok(())
    }

    /// Refuses publishable keys on server routes.
    pub fn require_secret(&self) -> ApiResult<()> {
        if self.kind == KeyKind::Secret {
            Ok(())
        } else {
            Err(ApiError::new(
                403,
                ErrorCode::SecretKeyRequired,
                "this route needs the environment's secret key (sk_…)",
            ))
        }
    }

    /// Refuses a restricted key on a route whose scope it lacks (403
    /// `key_scope_insufficient`, naming the scope).
    pub fn require_scope(&self, scope: KeyScope) -> ApiResult<()> {
        if self.scopes.permits(scope) {
            return Ok(());
        }
        Err(ApiError::new(
            403,
            ErrorCode::KeyScopeInsufficient,
            format!(
                "this restricted key lacks the {scope} scope this route needs; regenerate it with that scope or use a key that has it"
            ),
        )
        .with_details(serde_json::json!({ "missing_scope": scope.as_str() })))
    }

    /// Checks that the caller may act as `subscriber`. Secret keys may act
    /// as anyone; publishable keys need a subscriber credential where the
    /// environment requires one, and a presented credential must be valid.
    ///
    /// `write` says whether the route changes anything: a read-only token
    /// is refused there.
    /// Answers the claims of the subscriber token presented, if one was.
    pub async fn authorize_subscriber(
        &self,
        request: &IncomingRequest,
        subscriber: &SubscriberId,
        route: KeyScope,
    ) -> ApiResult<Option<Claims>> {
        let token = header(request, "X-Subscriber-Token");
        let hash = header(request, "X-Subscriber-Hash");
        self.authorize_credential(subscriber, token.as_deref(), hash.as_deref(), route).await
    }

    /// Counts a browser's feed request against the subscriber's budget
    /// (secret keys count against their own, in [`authenticate`]).
    /// Runs `read` while drawing `subscriber`'s feed budget: a read changes
    /// nothing, so both wait at once, and it is dropped (429) when the
    /// budget is spent; a budget this isolate already knows is spent
    /// refuses before the read starts.
    pub async fn read_within_budget<T>(
        &self,
        env: &Platform,
        subscriber: &SubscriberId,
        read: impl Future<Output = ApiResult<T>>,
    ) -> ApiResult<T> {
        try_join(self.draw_feed_budget(env, subscriber), read).await.map(|((), answer)| answer)
    }

    async fn draw_feed_budget(&self, env: &Platform, subscriber: &SubscriberId) -> ApiResult<()> {
        if self.kind == KeyKind::Secret {
            return Ok(());
        }
        store::draw_rate_limit(env, Tier::Feed, self.scope.name().as_str(), subscriber.as_str()).await
    }

    /// [`Caller::authorize_subscriber`] with the credential given apart from the request.
    async fn authorize_credential(
        &self,
        subscriber: &SubscriberId,
        token: Option<&str>,
        hash: Option<&str>,
        route: KeyScope,
    ) -> ApiResult<Option<Claims>> {
        if self.kind == KeyKind::Secret {
            return Ok(None);
        }
        if let Some(token) = token {
            let claims = self
                .scope
                .signing()
                .verify_token(token.trim(), self.scope.name(), subscriber, now_ms(), self.scope.token_max_ttl_seconds())
                .map_err(token_error)?;
            claims.check_not_revoked(self.scope.tokens_not_before(subscriber).await?).map_err(token_error)?;
            if !claims.scope.permits(route) {
                return Err(ApiError::new(
                    403,
                    ErrorCode::SubscriberTokenReadOnly,
                    "this subscriber token may only read; ask your server for a write token",
                ));
            }
            return Ok(Some(claims));
        }
        if let Some(hash) = hash {
            self.scope.signing().verify_hash(subscriber, hash.trim(), now_ms())?;
            return Ok(None);
        }
        if self.scope.requires_subscriber_credential() {
            return Err(ApiError::new(
                401,
                ErrorCode::SubscriberCredentialRequired,
                format!(
                    "the {} environment requires X-Subscriber-Token (or X-Subscriber-Hash) on feed requests",
                    self.scope.name()
                ),
            ));
        }
        Ok(None)
    }
}
