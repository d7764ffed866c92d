//! The deployment's own secrets (`wrangler secret put`, or `.dev.vars` locally),
//! and the sealing of the secrets the registry keeps with them.

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

/// Seals an environment's subscriber signing secret for the registry (and
/// so for the KV cache, which copies registry rows): at rest it is never
/// plaintext.
pub(super) fn seal_signing_secret(env: &Platform, secret: &str) -> Result<String, ApiError> {
    let key = encryption_key(env)?;
    sealed::seal(&key, crate::platform::random()?, secret)
        .map_err(|error| ApiError::internal("seal signing secret", error))
}

/// Opens a signing secret as the registry keeps it; one stored before
/// secrets were sealed (64 hex digits) is read as it is.
pub(super) fn open_signing_secret(env: &Platform, stored: &str) -> Result<String, ApiError> {
    if !stored.starts_with("v1.") {
        return Ok(stored.to_owned());
    }
    env.opened(stored, || {
        let key = encryption_key(env)?;
        sealed::open(&key, stored).map_err(|error| ApiError::internal("open signing secret", error))
    })
}
