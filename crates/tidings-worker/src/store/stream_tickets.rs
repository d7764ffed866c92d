//! Stream tickets: issued against the headers' credentials, stored as
//! hashes in the environment's database, consumed once by
//! [`super::Environment::open_with_ticket`].

use tidings_core::stream_ticket::{StreamTicket, TTL_MS};
use tidings_core::subscriber::SubscriberId;
use wasm_bindgen::JsValue;

use super::{number, statement, text, Environment};
use crate::error::ApiError;

/// The subscriber token a ticket was issued against: when it was issued
/// (checked again against the subscriber's revocation stamp when the
/// ticket is used) and when it expires (the socket's deadline), Unix ms.
pub struct TicketCredential {
    /// `iat`, in ms.
    pub issued_at: u64,
    /// `exp`, in ms.
    pub expires_at: u64,
}

impl Environment {
    /// Stores `ticket` for `subscriber`, issued with the key `key_id` and the
    /// subscriber token `credential`, if one; expired tickets are cleared on
    /// the way. Answers when the ticket expires.
    pub async fn issue_stream_ticket(
        &self,
        ticket: &StreamTicket,
        subscriber: &SubscriberId,
        key_id: &str,
        credential: Option<TicketCredential>,
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
                    credential.as_ref().map_or(JsValue::NULL, |credential| number(credential.issued_at)),
                    credential.as_ref().map_or(JsValue::NULL, |credential| number(credential.expires_at)),
                    number(expires_at),
                ],
            )?,
        ];
        self.write_batch("issue stream ticket", writes).await?;
        Ok(expires_at)
    }
}
