//! The environments this deployment serves (`TIDINGS_ENVIRONMENTS`),
//! whether it reads feeds through D1 sessions (`TIDINGS_D1_READ_REPLICATION`),
//! and how many bytes of files an environment keeps (`TIDINGS_FILE_QUOTA_BYTES`).

use tidings_core::deployment::{ReadReplication, ServedEnvironments};
use tidings_core::environment::EnvironmentName;
use tidings_core::wire::ErrorCode;

use super::platform::Platform;
use crate::error::ApiError;

/// The variable naming the environments this deployment answers keys for.
const SERVED: &str = "TIDINGS_ENVIRONMENTS";

/// The variable saying whether this deployment's databases replicate.
const READ_REPLICATION: &str = "TIDINGS_D1_READ_REPLICATION";

/// The variable setting each environment's file quota.
const FILE_QUOTA: &str = "TIDINGS_FILE_QUOTA_BYTES";

/// How many bytes of files each environment may keep; a setting it cannot
/// read fails the request (500) rather than guess.
pub(super) fn file_quota(env: &Platform) -> Result<u64, ApiError> {
    tidings_core::files::quota_bytes(env.var(FILE_QUOTA).as_deref())
        .map_err(|error| ApiError::internal("deployment configuration", error))
}

/// Whether this deployment reads feeds through D1 sessions; a setting it
/// cannot read fails the request (500) rather than guess.
pub(super) fn read_replication(env: &Platform) -> Result<ReadReplication, ApiError> {
    ReadReplication::parse(env.var(READ_REPLICATION).as_deref())
        .map_err(|error| ApiError::internal("deployment configuration", error))
}

/// Refuses a key of an environment this deployment does not serve, before
/// any storage is read: 421 `environment_not_served`.
pub(super) fn ensure_served(env: &Platform, environment: &EnvironmentName) -> Result<(), ApiError> {
    let setting = env.var(SERVED);
    let served = ServedEnvironments::parse(setting.as_deref())
        .map_err(|error| ApiError::internal("deployment configuration", error))?;
    if served.serves(environment) {
        return Ok(());
    }
    Err(ApiError::new(
        421,
        ErrorCode::EnvironmentNotServed,
        format!(
            "this deployment serves {}; send requests with {environment} keys to the {environment} deployment's URL",
            served.describe()
        ),
    ))
}
