//! The one error type of the API, rendered once as
//! `{"error": {"code", "message", "field"}}` with its HTTP status.

use tidings_core::feed::FeedError;
use tidings_core::key::KeyError;
use tidings_core::key_lifecycle::KeyLifecycleError;
use tidings_core::key_scope::KeyScopeError;
use tidings_core::lifecycle::LifecycleError;
use tidings_core::profile::ProfileError;
use tidings_core::query::QueryError;
use tidings_core::settings::SettingsError;
use tidings_core::subscriber::SubscriberError;
use tidings_core::trigger::TriggerError;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{ErrorBody, ErrorDetail};
use tidings_core::workflow::WorkflowError;
use worker::Response;

/// An answer other than success, with a stable snake_case code.
#[derive(Debug)]
pub struct ApiError {
    status: u16,
    code: ErrorCode,
    message: String,
    field: Option<String>,
    details: Option<serde_json::Value>,
    retry_after: Option<u32>,
    headers: Vec<(&'static str, String)>,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            details: None,
            retry_after: None,
            headers: Vec::new(),
        }
    }

    /// Names the request field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Adds structured particulars (`error.details`).
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 400 `validation_failed` for `field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, ErrorCode::ValidationFailed, message).with_field(field)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, ErrorCode::NotFound, message)
    }

    /// A failure of the platform: logged in full, answered with nothing
    /// that could leak internals.
    pub fn internal(context: &str, error: impl core::fmt::Display) -> Self {
        worker::console_error!("internal error: {context}: {error}");
        Self::new(500, ErrorCode::InternalError, "something went wrong on our side; it has been logged")
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The error as the API renders it.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                field: self.field.clone(),
                details: self.details.clone(),
            },
        }
    }

    /// Puts `prefix.` before the field, e.g. `events.3.` for one event of a bulk request.
    pub fn prefix_field(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(field) => format!("{prefix}.{field}"),
            None => prefix.to_owned(),
        });
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Asks the client to retry after `seconds`.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 429 `rate_limited`, refused at `now_ms`: `tier`'s budget is spent
    /// until its window ends, which `Retry-After` and `RateLimit` give.
    pub fn rate_limited(tier: tidings_core::rate_limit::Tier, now_ms: u64) -> Self {
        let mut error = Self::new(
            429,
            ErrorCode::RateLimited,
            format!(
                "too many requests: the {} limit is {} per {} seconds; retry after the Retry-After delay",
                tier.name(),
                tier.limit(),
                tier.period_seconds()
            ),
        )
        .retry_after(tier.seconds_left(now_ms));
        error.headers.push(("RateLimit-Policy", tier.policy_header()));
        error.headers.push(("RateLimit", tier.exhausted_header(now_ms)));
        error
    }

    /// Storage is briefly unavailable; the client should retry.
    pub fn unavailable(context: &str, error: impl core::fmt::Display) -> Self {
        worker::console_error!("storage unavailable: {context}: {error}");
        let mut error = Self::new(503, ErrorCode::Unavailable, "storage is briefly unavailable; retry shortly");
        error.retry_after = Some(1);
        error
    }

    /// Renders the error as a JSON response.
    pub fn into_response(self) -> worker::Response {
        let text = serde_json::to_string(&self.body()).unwrap_or_else(|_| String::from("{}"));
        let mut response = crate::http::json_text(text, self.status);
        if let Some(seconds) = self.retry_after {
            let _ = response.headers_mut().set("Retry-After", &seconds.to_string());
        }
        for (name, value) in &self.headers {
            let _ = response.headers_mut().set(name, value);
        }
        response
    }
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> Self {
        Self::new(401, ErrorCode::MalformedKey, format!("the API key is malformed: {error}"))
    }
}

impl From<SubscriberError> for ApiError {
    fn from(error: SubscriberError) -> Self {
        match error {
            SubscriberError::HashMismatch => Self::new(401, ErrorCode::SubscriberCredentialInvalid, error.to_string()),
            _ => Self::validation("subscriber_id", error.to_string()),
        }
    }
}

impl From<FeedError> for ApiError {
    fn from(error: FeedError) -> Self {
        Self::validation(error.field(), error.to_string())
    }
}

impl From<TriggerError> for ApiError {
    fn from(error: TriggerError) -> Self {
        let (status, code) = error.status_and_code();
        Self::new(status, code, error.to_string()).with_field(error.field())
    }
}

impl From<KeyScopeError> for ApiError {
    fn from(error: KeyScopeError) -> Self {
        Self::validation("scopes", error.to_string())
    }
}

impl From<KeyLifecycleError> for ApiError {
    fn from(error: KeyLifecycleError) -> Self {
        match error {
            KeyLifecycleError::TooManySecretKeys | KeyLifecycleError::TooManyRestrictedKeys => {
                Self::new(409, ErrorCode::TooManySecretKeys, error.to_string())
            }
            KeyLifecycleError::GracePeriod => Self::validation("grace_period_seconds", error.to_string()),
            _ => Self::new(409, ErrorCode::KeyAlreadyRevoked, error.to_string()),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        let message = error.to_string();
        match error {
            LifecycleError::Exists(_) => Self::new(409, ErrorCode::EnvironmentExists, message).with_field("name"),
            LifecycleError::Protected(_) => Self::new(409, ErrorCode::EnvironmentProtected, message),
            LifecycleError::ProtectedFromArchive(_) => Self::new(409, ErrorCode::EnvironmentProtected, message),
            LifecycleError::UnknownAfter(_) | LifecycleError::AfterProduction | LifecycleError::AfterPreview(_) => {
                Self::validation("after", message)
            }
            LifecycleError::LockReason => Self::validation("reason", message),
            LifecycleError::Retention => Self::validation("retention_days", message),
            LifecycleError::PreviewTtl => Self::validation("ttl_seconds", message),
            LifecycleError::PreviewSource(_) => Self::validation("from", message),
            _ => Self::validation("name", message),
        }
    }
}

impl From<tidings_core::topic::QueryError> for ApiError {
    fn from(error: tidings_core::topic::QueryError) -> Self {
        Self::validation(error.field, error.to_string())
    }
}

impl From<ProfileError> for ApiError {
    fn from(error: ProfileError) -> Self {
        Self::validation(error.field(), error.to_string())
    }
}

impl From<SettingsError> for ApiError {
    fn from(error: SettingsError) -> Self {
        Self::validation(error.field(), error.to_string())
    }
}

impl From<WorkflowError> for ApiError {
    fn from(error: WorkflowError) -> Self {
        Self::validation(error.field(), error.to_string())
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        Self::validation("query", format!("the URL could not be decoded: {error}"))
    }
}

/// What every route returns.
pub type ApiResult<T = Response> = Result<T, ApiError>;
