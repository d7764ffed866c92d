//! Retrying writes that fail transiently, as Cloudflare recommends for D1:
//! a few attempts with exponential backoff and full jitter. Only writes
//! that are safe to apply twice go through here: a commit whose answer was
//! lost is indistinguishable from a failure, so the retry may run again
//! what already committed.

use std::future::Future;
use std::time::Duration;

use super::faults::{Fault, FaultPlan, INJECTED};
use super::storage_error;
use crate::error::ApiError;

/// Attempts per write, the first included.
const ATTEMPTS: u32 = 4;
/// The backoff before the first retry; it doubles for each further one.
const FIRST_BACKOFF_MS: f64 = 25.0;

/// The messages of D1 errors that D1's documentation marks as retryable.
pub(super) const TRANSIENT: [&str; 6] = [
    "Network connection lost",
    "storage caused object to be reset",
    "reset because its code was updated",
    "Cannot resolve D1 DB due to transient issue",
    "overloaded",
    "timed out",
];

/// Whether D1 documents `message` as a transient failure worth a retry.
pub(super) fn is_transient(message: &str) -> bool {
    TRANSIENT.iter().any(|needle| message.contains(needle))
}

/// Runs the write `attempt` (named `operation` for logs and fault
/// injection) until it succeeds, fails for good, or runs out of attempts.
/// A write that still fails transiently answers 503 with `Retry-After`.
pub(super) async fn write<T, F, Fut>(faults: &FaultPlan, operation: &'static str, mut attempt: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = worker::Result<T>>,
{
    let mut tried = 0;
    loop {
        tried += 1;
        let outcome = match faults.next(operation) {
            Fault::Fail => Err(worker::Error::RustError(INJECTED.to_owned())),
            Fault::Lost => attempt().await.and_then(|_| Err(worker::Error::RustError(INJECTED.to_owned()))),
            Fault::None => attempt().await,
            Fault::Pause => {
                worker::Delay::from(super::faults::PAUSE).await;
                attempt().await
            }
            Fault::Stall => {
                worker::Delay::from(super::faults::STALL).await;
                attempt().await
            }
        };
        match outcome {
            Ok(value) => return Ok(value),
            Err(error) if tried < ATTEMPTS && is_transient(&error.to_string()) => {
                worker::console_warn!("retrying {operation} after attempt {tried}: {error}");
                let ceiling = FIRST_BACKOFF_MS * f64::from(1u32 << (tried - 1));
                let wait = (js_sys::Math::random() * ceiling).round() as u64;
                worker::Delay::from(Duration::from_millis(wait)).await;
            }
            Err(error) => return Err(storage_error(operation, error)),
        }
    }
}
