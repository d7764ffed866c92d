//! One-time tickets for realtime sockets.
//!
//! Browsers cannot set headers on a WebSocket, so a socket's URL would have
//! to carry the key and the subscriber credential. Instead the browser
//! exchanges its credentials (in headers) for a ticket,
//! `stk_<environment>_<random>`, valid [`TTL_MS`] and for one connection,
//! and only the ticket travels in the URL. The worker stores the ticket's
//! hash and consumes it when the socket opens.

use sha2::{Digest, Sha256};

use crate::base32;
use crate::environment::EnvironmentName;

/// How long a ticket may wait to be used: 60 seconds.
pub const TTL_MS: u64 = 60_000;
/// Random bytes in a ticket.
pub const RANDOM_BYTES: usize = 20;
const PREFIX: &str = "stk_";
/// Base32 symbols of [`RANDOM_BYTES`].
const RANDOM_SYMBOLS: usize = RANDOM_BYTES * 8 / 5;

/// Why a presented ticket is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stream ticket is malformed; ask for a new one with POST …/feed/stream-ticket")]
pub struct TicketError;

/// A stream ticket: its environment and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTicket {
    environment: EnvironmentName,
    text: String,
}

impl StreamTicket {
    /// A new ticket for `environment`.
    pub fn generate(environment: &EnvironmentName, random: [u8; RANDOM_BYTES]) -> Self {
        let text = format!("{PREFIX}{environment}_{}", base32::encode(&random));
        Self { environment: environment.clone(), text }
    }

    /// Checks the shape of `text`.
    pub fn parse(text: &str) -> Result<Self, TicketError> {
        let rest = text.strip_prefix(PREFIX).ok_or(TicketError)?;
        let (environment, random) = rest.rsplit_once('_').ok_or(TicketError)?;
        if random.len() != RANDOM_SYMBOLS || !base32::is_valid(random) {
            return Err(TicketError);
        }
        let environment = EnvironmentName::parse(environment).map_err(|_| TicketError)?;
        Ok(Self { environment, text: text.to_owned() })
    }

    /// The environment the ticket was issued in.
    pub fn environment(&self) -> &EnvironmentName {
        &self.environment
    }

    /// What the worker stores: the SHA-256 of the ticket, in hex.
    pub fn hash(&self) -> String {
        crate::hex::encode(&Sha256::digest(self.text.as_bytes()))
    }

    /// The ticket itself, to hand to the browser once.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_round_trip_and_name_their_environment() {
        let staging = EnvironmentName::parse("qa-2").unwrap();
        let ticket = StreamTicket::generate(&staging, [7; RANDOM_BYTES]);
        assert!(ticket.expose().starts_with("stk_qa-2_"));
        let parsed = StreamTicket::parse(ticket.expose()).unwrap();
        assert_eq!(parsed.environment().as_str(), "qa-2");
        assert_eq!(parsed.hash(), ticket.hash());
        assert_ne!(StreamTicket::generate(&staging, [8; RANDOM_BYTES]).hash(), ticket.hash());
    }

    #[test]
    fn malformed_tickets_are_refused() {
        let good = StreamTicket::generate(&EnvironmentName::parse("staging").unwrap(), [1; RANDOM_BYTES]);
        let text = good.expose();
        for bad in [
            "",
            "stk_",
            "stk_staging_",
            "pk_staging_abc",
            &text[..text.len() - 1],
            &format!("{text}a"),
            "stk_Bad_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert_eq!(StreamTicket::parse(bad), Err(TicketError), "{bad:?}");
        }
    }
}
