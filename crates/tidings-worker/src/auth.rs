//! Who is calling: the API key, its environment, and for feed routes the
//! subscriber credential.

use tidings_core::key::{ApiKey, KeyKind};
use tidings_core::subscriber::{verify_subscriber_hash, SubscriberId};
use worker::{Env, Request};

use crate::error::{ApiError, ApiResult};
use crate::http::header;
use crate::store::EnvironmentScope;

/// An authenticated caller: the kind of key and its environment's storage.
pub struct Caller {
    /// Publishable or secret.
    pub kind: KeyKind,
    /// The one environment the key opens.
    pub scope: EnvironmentScope,
}

/// Validates the bearer key, opens its environment and applies the
/// environment's browser-origin policy.
pub async fn authenticate(request: &Request, env: &Env) -> ApiResult<Caller> {
    let key = ApiKey::parse(&bearer(request)?)?;
    let scope = EnvironmentScope::open(env, &key).await?;
    if let Some(origin) = header(request, "Origin") {
        if key.kind() == KeyKind::Secret {
            return Err(ApiError::new(
                403,
                "secret_key_in_browser",
                "secret keys must never reach a browser; use the publishable key there and rotate this secret key",
            ));
        }
        if !scope.allows_origin(&origin) {
            return Err(ApiError::new(
                403,
                "origin_not_allowed",
                format!(
                    "the origin {origin} is not allowed to use the {} environment",
                    scope.name()
                ),
            ));
        }
    }
    Ok(Caller {
        kind: key.kind(),
        scope,
    })
}

/// The bearer token of the `Authorization` header.
pub fn bearer(request: &Request) -> ApiResult<String> {
    let missing = || {
        ApiError::new(
            401,
            "missing_credentials",
            "send the API key as Authorization: Bearer <key>",
        )
    };
    let value = header(request, "Authorization").ok_or_else(missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim().to_owned())
}

impl Caller {
    /// Refuses publishable keys on server routes.
    pub fn require_secret(&self) -> ApiResult<()> {
        if self.kind == KeyKind::Secret {
            Ok(())
        } else {
            Err(ApiError::new(
                403,
                "secret_key_required",
                "this route needs the environment's secret key (sk_…)",
            ))
        }
    }

    /// Checks that the caller may act as `subscriber`. Secret keys may act
    /// as anyone; publishable keys need a subscriber credential where the
    /// environment requires one, and a presented credential must be valid.
    pub fn authorize_subscriber(
        &self,
        request: &Request,
        subscriber: &SubscriberId,
    ) -> ApiResult<()> {
        if self.kind == KeyKind::Secret {
            return Ok(());
        }
        if let Some(hash) = header(request, "X-Subscriber-Hash") {
            return Ok(verify_subscriber_hash(
                self.scope.signing_secret(),
                subscriber,
                hash.trim(),
            )?);
        }
        if header(request, "X-Subscriber-Token").is_some() {
            return Err(ApiError::new(
                401,
                "subscriber_credential_invalid",
                "subscriber tokens are not accepted yet; send X-Subscriber-Hash instead",
            ));
        }
        if self.scope.requires_subscriber_credential() {
            return Err(ApiError::new(
                401,
                "subscriber_credential_required",
                format!(
                    "the {} environment requires X-Subscriber-Hash on feed requests",
                    self.scope.name()
                ),
            ));
        }
        Ok(())
    }
}
