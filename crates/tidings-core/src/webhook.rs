//! Webhooks: signatures, integration settings, which statuses are worth
//! another attempt (the schedule is in [`crate::delivery`]).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Tidings-Signature";

/// Why an integration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct IntegrationError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

/// Checks an integration id such as `orders-hook`.
pub fn validate_id(id: &str) -> Result<(), IntegrationError> {
    crate::workflow::validate_key(id)
        .map_err(|_| IntegrationError { field: "id", reason: "must be 1 to 64 characters of a-z, 0-9, - and _" })
}

/// Checks an integration's promotable settings: kind, name and URL.
pub fn validate_config(kind: &str, name: &str, url: &str) -> Result<(), IntegrationError> {
    if kind != "webhook" {
        return Err(IntegrationError { field: "kind", reason: "must be \"webhook\"" });
    }
    if name.is_empty() || name.chars().count() > 100 {
        return Err(IntegrationError { field: "name", reason: "must be 1 to 100 characters" });
    }
    validate_url(url)
}

/// Checks a webhook URL: http or https, no spaces, at most 2048 characters.
pub fn validate_url(url: &str) -> Result<(), IntegrationError> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or("");
    if rest.is_empty() || url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IntegrationError { field: "url", reason: "must be an http(s) URL of at most 2048 characters" });
    }
    // A URL shown with its path cut (`https://host/…`, to a member who does not administer the
    // environment, or in a file they exported) would send deliveries to the host's root.
    if url.ends_with("/…") {
        return Err(IntegrationError {
            field: "url",
            reason: "is a URL shown with its path hidden (…); give the whole URL, or export the file as an admin of its environment",
        });
    }
    Ok(())
}

/// Checks a signing secret: 16 to 256 printable characters.
pub fn validate_secret(secret: &str) -> Result<(), IntegrationError> {
    if !(16..=256).contains(&secret.len()) || !secret.bytes().all(|byte| (0x21..=0x7e).contains(&byte)) {
        return Err(IntegrationError { field: "signing_secret", reason: "must be 16 to 256 printable characters" });
    }
    Ok(())
}

/// The signature header value for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn signature(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", crate::hex::encode(&mac.finalize().into_bytes()))
}

/// Whether an HTTP status is worth another attempt.
pub fn is_retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_stable_and_keyed() {
        let signed = signature("whsec_0123456789abcdef", 1_700_000_000, "{\"a\":1}");
        assert!(signed.starts_with("t=1700000000,v1="));
        assert_eq!(signed.len(), "t=1700000000,v1=".len() + 64);
        assert_eq!(signed, signature("whsec_0123456789abcdef", 1_700_000_000, "{\"a\":1}"));
        assert_ne!(signed, signature("whsec_other_secret_0000", 1_700_000_000, "{\"a\":1}"));
    }

    #[test]
    fn checks() {
        assert!(validate_url("http://127.0.0.1:9999/hook").is_ok());
        assert!(validate_url("ftp://x").is_err());
        // A URL shown with its path cut is never written back.
        assert!(validate_url("https://hooks.slack.com/…").is_err());
        assert!(validate_url("https://hooks.slack.com/a…b").is_ok());
        assert!(validate_secret("short").is_err());
        assert!(validate_secret("whsec_0123456789abcdef").is_ok());
        assert!(validate_id("Bad Id").is_err());
        assert!(is_retryable(503) && is_retryable(429) && !is_retryable(400));
    }
}
