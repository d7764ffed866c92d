//! Requests sent with an `Idempotency-Key`: the header read the same way on
//! every route, and a keyed request run at most once, its first answer
//! replayed to every retry with the same body.

use tidings_core::idempotency::{self, IdempotencyError, Outcome};
use tidings_core::wire::ErrorCode;

use crate::error::{ApiError, ApiResult};
use crate::http::header;
use crate::platform::random;
use crate::request::IncomingRequest;
use crate::store::{Claim, Environment, KeyHome};

/// The request's `Idempotency-Key` (trimmed), if it has one; a malformed
/// key is refused naming the header.
pub fn key_header(request: &IncomingRequest) -> ApiResult<Option<String>> {
    let Some(key) = header(request, "Idempotency-Key").map(|key| key.trim().to_owned()) else {
        return Ok(None);
    };
    idempotency::validate_key(&key).map_err(|error| idempotency_error(error).with_field("Idempotency-Key"))?;
    Ok(Some(key))
}

/// Marks an answer as the replay of a finished request (`Idempotency-Replay: true`).
pub fn replayed(mut response: worker::Response) -> worker::Response {
    let _ = response.headers_mut().set("Idempotency-Replay", "true");
    response
}

/// What claiming a key found.
pub enum Claimed<'a> {
    /// The request is this one's to run: it stores its answer under the key
    /// with its writes, or gives the claim up when it fails.
    Mine(Ticket<'a>),
    /// It ran before: the first answer's status and body.
    Replay(u16, String),
}

/// A request's claim on its key.
pub struct Ticket<'a> {
    home: KeyHome<'a>,
    stored_key: String,
    claim_id: String,
    transaction_id: Option<String>,
}

impl Ticket<'_> {
    /// The key the request's work stores its answer under, and this
    /// request's claim on it: the work writes only while the claim holds.
    pub fn claim(&self) -> (&str, &str) {
        (&self.stored_key, &self.claim_id)
    }

    /// The transaction a keyed trigger runs as: the one its first attempt
    /// ran as when that failed, so its retry writes the same messages.
    pub fn transaction_id(&self) -> Option<&str> {
        self.transaction_id.as_deref()
    }

    /// Passes the work's result through; when it failed, gives the claim up
    /// so a retry can run. A failure of storage (5xx) may have written part
    /// of a trigger (some feed shards): its retry runs as the same
    /// transaction. A refusal wrote nothing but its log entry: its retry is a
    /// new transaction.
    pub async fn settle<T>(self, scope: &Environment, result: ApiResult<T>) -> ApiResult<T> {
        if let Err(error) = &result {
            let keep_transaction = error.status() >= 500;
            scope.release_idempotency_key(self.home, &self.stored_key, &self.claim_id, keep_transaction).await;
        }
        result
    }
}

/// Claims `stored_key` (kept in `home`'s database) for a body with
/// fingerprint `hash`; a trigger names the transaction it would run as. A
/// retry after the first request finished gets [`Claimed::Replay`]; one with
/// another body is refused (`idempotency_key_reused`), one while it runs is
/// asked to retry (`request_in_progress`).
pub async fn claim<'a>(
    scope: &Environment,
    home: KeyHome<'a>,
    stored_key: String,
    hash: &str,
    transaction: Option<&str>,
    now: u64,
) -> ApiResult<Claimed<'a>> {
    let claim_id = idempotency::claim_id(random()?);
    match scope.claim_idempotency_key(home, &stored_key, hash, &claim_id, transaction, now).await? {
        Claim::Claimed(transaction_id) => Ok(Claimed::Mine(Ticket { home, stored_key, claim_id, transaction_id })),
        Claim::Taken(stored) => match idempotency::decide(&stored, hash).map_err(idempotency_error)? {
            Outcome::Replay(status, body) => Ok(Claimed::Replay(status, body)),
        },
    }
}

/// The API error of an idempotency failure.
pub fn idempotency_error(error: IdempotencyError) -> ApiError {
    match error {
        IdempotencyError::MalformedKey => ApiError::validation("Idempotency-Key", error.to_string()),
        IdempotencyError::Reused => ApiError::new(422, ErrorCode::IdempotencyKeyReused, error.to_string()),
        IdempotencyError::InProgress => {
            ApiError::new(409, ErrorCode::RequestInProgress, error.to_string()).retry_after(1)
        }
        _ => ApiError::internal("idempotency", error),
    }
}
