//! Stream tickets: issued against the headers' credentials, stored as
//! hashes in the environment's database, consumed once by
//! [`super::Environment::open_with_ticket`].

use tidings_core::stream_ticket::{StreamTicket, TTL_MS};
use tidings_core::subscriber::SubscriberId;
use wasm_bindgen::JsValue;

use super::{number, statement, text, Environment};
use crate::error::ApiError;

/// The credential a ticket was issued against: when it was issued (the
/// token's `iat`, or for a hash the later of now and the subscriber's
/// revocation stamp; checked again against the stamp when the ticket is
/// used) and when it expires (a token's `exp`: the socket's deadline), Unix ms.
pub struct TicketCredential {
    /// When the credential was issued, in ms.
    pub issued_at: u64,
    /// When it expires, in ms, if it does.
    pub expires_at: Option<u64>,
}

impl Environment {
    /// Stores `ticket` for `subscriber`, issued with the key `key_id` and
    /// `credential`; expired tickets are cleared on the way. Answers when the
    /// ticket expires.
    pub async fn issue_stream_ticket(
        &self,
        ticket: &StreamTicket,
        subscriber: &SubscriberId,
        key_id: &str,
        credential: TicketCredential,
        now_ms: u64,
    ) -> Result<u64, ApiError> {
        let expires_at = now_ms + TTL_MS;
        let writes = vec![
            statement(
                &self.db,
                "DELETE FROM stream_tickets WHERE hash IN \
                 (SELECT hash FROM stream_tickets WHERE expires_at <= ?1 ORDER BY expires_at LIMIT 50)",
                &[number(now_ms)],
            )?,
            statement(
                &self.db,
                "INSERT OR IGNORE INTO stream_tickets \
                 (hash, subscriber_id, key_id, credential_issued_at, credential_expires_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    text(&ticket.hash()),
                    text(subscriber.as_str()),
                    text(key_id),
                    number(credential.issued_at),
                    credential.expires_at.map_or(JsValue::NULL, number),
                    number(expires_at),
                ],
            )?,
        ];
        self.write_batch("issue stream ticket", writes).await?;
        Ok(expires_at)
    }
}
