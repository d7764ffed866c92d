use serde::{Deserialize, Serialize};

/// The body of every error response:
/// `{"error": {"code": "…", "message": "…", "field": "…"}}`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// One error: a stable code to branch on and a sentence for people.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `unknown_key`.
    pub code: ErrorCode,
    /// A human sentence; may change between releases.
    pub message: String,
    /// The request field at fault, as a dotted path, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Structured particulars, when the code has them (e.g. the problems of `preflight_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional, type = "unknown"))]
    pub details: Option<serde_json::Value>,
}

/// Defines [`ErrorCode`] from one list of variants and their wire names.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $wire:literal,)*) => {
        /// Every error code of the API and the SDK: the `code` of an error
        /// body, serialized as its snake_case name. The worker, the SDK and
        /// the console's wasm use this one type; TypeScript sees it as a
        /// union of string literals.
        #[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ErrorCode {
            $($(#[$doc])* #[serde(rename = $wire)] $variant,)*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                }
            }

            /// The code with this wire name.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|code| code.as_str() == text)
            }
        }
    };
}

error_codes! {
    /// The deployment's admin token is turned off.
    AdminTokenDisabled => "admin_token_disabled",
    /// Bootstrap ran already.
    AlreadyBootstrapped => "already_bootstrapped",
    /// The environment has no brand settings.
    BrandNotFound => "brand_not_found",
    /// A chosen change is no longer pending.
    ChangeNotPending => "change_not_pending",
    /// `Authorization` and `X-API-Key` name different credentials.
    ConflictingCredentials => "conflicting_credentials",
    /// No such webhook delivery in this environment.
    DeliveryNotFound => "delivery_not_found",
    /// The key that seals integration secrets is not set.
    EncryptionUnavailable => "encryption_unavailable",
    /// An environment with this name exists.
    EnvironmentExists => "environment_exists",
    /// No file at this path.
    FileNotFound => "file_not_found",
    /// The file is larger than a file may be.
    FileTooLarge => "file_too_large",
    /// The environment's files would exceed its storage quota.
    StorageQuotaExceeded => "storage_quota_exceeded",
    /// A signed file URL whose time has passed.
    SignedUrlExpired => "signed_url_expired",
    /// A signed file URL that is not this environment's for this file.
    SignedUrlInvalid => "signed_url_invalid",
    /// The environment is archived: its keys are refused until it is restored.
    EnvironmentArchived => "environment_archived",
    /// The environment is locked: its content is frozen (the message gives the reason).
    EnvironmentLocked => "environment_locked",
    /// Only an archived environment can be restored or purged.
    EnvironmentNotArchived => "environment_not_archived",
    /// No such environment, or none the caller may see.
    EnvironmentNotFound => "environment_not_found",
    /// The subscriber's feed is being switched to another feed shard: retry shortly.
    FeedMoving => "feed_moving",
    /// The environment's feed is moving to another shard count already.
    ReshardInProgress => "reshard_in_progress",
    /// The environment is not provisioned yet.
    EnvironmentNotReady => "environment_not_ready",
    /// This deployment does not serve the key's environment.
    EnvironmentNotServed => "environment_not_served",
    /// development and production cannot be deleted.
    EnvironmentProtected => "environment_protected",
    /// Production content changes only by promotion.
    EnvironmentReadOnly => "environment_read_only",
    /// The credential does not allow this.
    Forbidden => "forbidden",
    /// The Idempotency-Key was used with another body.
    IdempotencyKeyReused => "idempotency_key_reused",
    /// An integration with this id exists.
    IntegrationExists => "integration_exists",
    /// No such integration.
    IntegrationNotFound => "integration_not_found",
    /// A failure on the server's side.
    InternalError => "internal_error",
    /// The SDK was given options it cannot use.
    InvalidOptions => "invalid_options",
    /// The key is revoked already.
    KeyAlreadyRevoked => "key_already_revoked",
    /// No such key.
    KeyNotFound => "key_not_found",
    /// The key is revoked.
    KeyRevoked => "key_revoked",
    /// The restricted secret key lacks the scope the route declares.
    KeyScopeInsufficient => "key_scope_insufficient",
    /// The deployment would lose its last owner who can sign in.
    LastOwner => "last_owner",
    /// The brand names a logo that is not stored.
    LogoMissing => "logo_missing",
    /// No logo is stored.
    LogoNotFound => "logo_not_found",
    /// The body is not JSON.
    MalformedJson => "malformed_json",
    /// The text is not an API key.
    MalformedKey => "malformed_key",
    /// A member with this email exists.
    MemberExists => "member_exists",
    /// The member changed since the request read them.
    MemberChanged => "member_changed",
    /// The promotion chain changed since the request read it.
    ChainChanged => "chain_changed",
    /// No such member.
    MemberNotFound => "member_not_found",
    /// The member token is unknown, expired or revoked.
    MemberTokenInvalid => "member_token_invalid",
    /// The route does not accept this method.
    MethodNotAllowed => "method_not_allowed",
    /// Nobody approves or rejects their own release request.
    OwnReleaseRequest => "own_release_request",
    /// No credential was sent.
    MissingCredentials => "missing_credentials",
    /// The SDK could not reach the API.
    NetworkError => "network_error",
    /// The SDK session is not connected.
    NotConnected => "not_connected",
    /// No such route or resource.
    NotFound => "not_found",
    /// The page's origin may not use this key.
    OriginNotAllowed => "origin_not_allowed",
    /// Nobody changes their own grants.
    OwnGrantsImmutable => "own_grants_immutable",
    /// The trigger's payload does not match the workflow's schema.
    PayloadInvalid => "payload_invalid",
    /// The body is too large.
    PayloadTooLarge => "payload_too_large",
    /// The target lacks what the changes need.
    PreflightFailed => "preflight_failed",
    /// The target is not the next environment in the chain.
    PromotionNotAdjacent => "promotion_not_adjacent",
    /// The budget is spent; retry after Retry-After.
    RateLimited => "rate_limited",
    /// The release was rolled back already.
    ReleaseAlreadyRolledBack => "release_already_rolled_back",
    /// The target changed while the release was applied.
    ReleaseConflict => "release_conflict",
    /// No such release.
    ReleaseNotFound => "release_not_found",
    /// The release request was already approved, rejected, or has expired.
    ReleaseRequestClosed => "release_request_closed",
    /// No such release request.
    ReleaseRequestNotFound => "release_request_not_found",
    /// The target changed since the release request was made.
    ReleaseRequestStale => "release_request_stale",
    /// A resource changed after the release.
    ReleaseSuperseded => "release_superseded",
    /// The same request is being applied.
    RequestInProgress => "request_in_progress",
    /// Another rotation finished first.
    RotationConflict => "rotation_conflict",
    /// A secret key reached a browser.
    SecretKeyInBrowser => "secret_key_in_browser",
    /// A secret key travelled in a URL.
    SecretKeyInUrl => "secret_key_in_url",
    /// The route needs a secret key.
    SecretKeyRequired => "secret_key_required",
    /// The stream ticket is unknown, used, expired or for another subscriber.
    StreamTicketInvalid => "stream_ticket_invalid",
    /// The subscriber token has expired.
    SubscriberCredentialExpired => "subscriber_credential_expired",
    /// The subscriber credential does not verify.
    SubscriberCredentialInvalid => "subscriber_credential_invalid",
    /// The subscriber's tokens were revoked after this one was issued.
    SubscriberCredentialRevoked => "subscriber_credential_revoked",
    /// The environment requires a subscriber credential.
    SubscriberCredentialRequired => "subscriber_credential_required",
    /// The subscriber token is for another environment.
    SubscriberCredentialWrongEnvironment => "subscriber_credential_wrong_environment",
    /// The subscriber token is for another subscriber.
    SubscriberCredentialWrongSubscriber => "subscriber_credential_wrong_subscriber",
    /// No such subscriber.
    SubscriberNotFound => "subscriber_not_found",
    /// The subscriber token may only read.
    SubscriberTokenReadOnly => "subscriber_token_read_only",
    /// A template could not be rendered.
    TemplateRenderFailed => "template_render_failed",
    /// No such live member token.
    TokenNotFound => "token_not_found",
    /// The environment has the most secret keys allowed.
    TooManySecretKeys => "too_many_secret_keys",
    /// The environment has the most variables allowed.
    TooManyVariables => "too_many_variables",
    /// No such topic.
    TopicNotFound => "topic_not_found",
    /// No trigger with this transaction id.
    TransactionNotFound => "transaction_not_found",
    /// Storage is briefly unavailable; retry.
    Unavailable => "unavailable",
    /// The API answered something the SDK cannot read.
    UnexpectedResponse => "unexpected_response",
    /// The API key does not exist.
    UnknownKey => "unknown_key",
    /// A rendered avatar or action URL is not one a feed may carry.
    UnsafeLink => "unsafe_link",
    /// The content type is not accepted.
    UnsupportedMediaType => "unsupported_media_type",
    /// A field is invalid.
    ValidationFailed => "validation_failed",
    /// No such variable.
    VariableNotFound => "variable_not_found",
    /// The watermark is older than remembered deletions.
    WatermarkExpired => "watermark_expired",
    /// The route needs a WebSocket upgrade.
    WebsocketRequired => "websocket_required",
    /// A workflow with this key exists.
    WorkflowExists => "workflow_exists",
    /// No such workflow.
    WorkflowNotFound => "workflow_not_found",
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_snake_case_unique_and_serde_agrees() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            let wire = code.as_str();
            assert!(wire.chars().all(|character| character.is_ascii_lowercase() || character == '_'), "{wire}");
            assert!(seen.insert(wire), "{wire} twice");
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::Value::from(wire));
            assert_eq!(ErrorCode::parse(wire), Some(*code));
        }
    }
}
