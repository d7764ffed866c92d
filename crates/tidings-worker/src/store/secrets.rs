//! The deployment's own secrets (`wrangler secret put`, or `.dev.vars` locally).

use tidings_core::sealed;
use tidings_core::wire::ErrorCode;

use super::platform::Platform;
use crate::error::ApiError;

/// Opens the control plane until members exist, and allows the one-time bootstrap.
const ADMIN_TOKEN: &str = "TIDINGS_ADMIN_TOKEN";
/// Seals integration secrets at rest: 64 hex digits.
const ENCRYPTION_KEY: &str = "TIDINGS_ENCRYPTION_KEY";

/// The admin token, or 403 `forbidden` when the deployment has none.
pub fn admin_token(env: &Platform) -> Result<String, ApiError> {
    env.secret(ADMIN_TOKEN).ok_or_else(|| {
        ApiError::new(403, ErrorCode::Forbidden, format!("the control plane is disabled: set the {ADMIN_TOKEN} secret"))
    })
}

/// The key that seals integration secrets.
pub fn encryption_key(env: &Platform) -> Result<[u8; 32], ApiError> {
    let text = env.secret(ENCRYPTION_KEY).ok_or_else(|| {
        ApiError::new(
            503,
            ErrorCode::EncryptionUnavailable,
            format!("set the {ENCRYPTION_KEY} secret to store integration secrets"),
        )
    })?;
    sealed::parse_key(&text).map_err(|error| ApiError::internal(ENCRYPTION_KEY, error))
}
