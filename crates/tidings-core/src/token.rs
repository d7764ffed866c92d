//! Subscriber tokens: short-lived proof that the holder may act as one
//! subscriber in one environment, checked at the edge with nothing but the
//! environment's signing secret (and the subscriber's revocation stamp).
//!
//! Format: `st2.<base64url JSON claims>.<base64url HMAC-SHA256>`, where the
//! claims are `{"env", "sub", "iat", "exp" (Unix seconds), "scope" ("read"
//! or "write"), "kid"}`. `kid` names the signing-secret slot, so a rotation
//! can keep the previous secret valid for a while. The signature's key is
//! derived from the signing secret for this purpose only
//! ([`crate::derive::Purpose::SubscriberToken`]): a subscriber hash, which
//! is keyed by the secret itself, is never a token signature. Tokens of the
//! first format (`st1.`, keyed by the secret) are refused.
//!
//! A token is bounded: its lifetime (`exp - iat`) is at most
//! [`MAX_LIFETIME_SECONDS`] and at most what its environment allows, its
//! `iat` is not in the future, and a token issued before the subscriber's
//! revocation stamp ([`Claims::check_not_revoked`]) is refused.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::derive::{derive_key, Purpose};
use crate::environment::EnvironmentName;
use crate::key_scope::KeyScope;
use crate::subscriber::SubscriberId;

/// The longest lifetime any token may have: 30 days. An environment may set a shorter one.
pub const MAX_LIFETIME_SECONDS: u64 = 30 * 24 * 3600;
/// The default lifetime: 1 hour.
pub const DEFAULT_TTL_SECONDS: u64 = 3600;
/// How far in the future a token's `iat` may be (clocks differ): 60 seconds.
pub const CLOCK_SKEW_SECONDS: u64 = 60;
const PREFIX: &str = "st2.";

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read the feed, its counts and preferences; change nothing.
    Read,
    /// Also mark messages and change preferences.
    Write,
}

impl Scope {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }

    /// Whether a token of this scope may be used for a route a key reaches
    /// with `route`: a read token reads the subscriber's feed, counts and
    /// preferences and changes nothing; a write token also marks messages
    /// and changes preferences. No token reaches anything else.
    pub fn permits(self, route: KeyScope) -> bool {
        let reads = matches!(route, KeyScope::FeedRead | KeyScope::SubscribersRead);
        match self {
            Self::Read => reads,
            Self::Write => reads || matches!(route, KeyScope::FeedWrite | KeyScope::SubscribersWrite),
        }
    }
}

/// Why a token is refused; each has its own API code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token, damaged, of the old format, or signed with another secret.
    #[error("the subscriber token is malformed or its signature does not match")]
    Invalid,
    /// Past its expiry.
    #[error("the subscriber token has expired; ask your server for a new one")]
    Expired,
    /// Issued for another environment.
    #[error("the subscriber token was issued for another environment")]
    WrongEnvironment,
    /// Issued for another subscriber.
    #[error("the subscriber token was issued for another subscriber")]
    WrongSubscriber,
    /// Its `iat` is in the future, or its lifetime is longer than the environment allows.
    #[error("the subscriber token's lifetime is outside what this environment allows (at most {max_seconds} s, not issued in the future)")]
    OutOfBounds {
        /// The environment's longest lifetime.
        max_seconds: u64,
    },
    /// Issued before the subscriber's tokens were revoked.
    #[error("the subscriber's tokens were revoked after this one was issued; ask your server for a new one")]
    Revoked,
    /// The lifetime asked to sign is zero or too long.
    #[error("ttl_seconds must be from 1 to {max_seconds}")]
    Lifetime {
        /// The longest lifetime allowed.
        max_seconds: u64,
    },
}

/// Verified claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Issue time, Unix seconds.
    pub issued_at: u64,
    /// Expiry, Unix seconds.
    pub expires_at: u64,
    /// What it allows.
    pub scope: Scope,
}

impl Claims {
    /// Refuses a token issued before `not_before_ms`, the subscriber's
    /// revocation stamp (Unix milliseconds; 0 when never revoked).
    pub fn check_not_revoked(&self, not_before_ms: u64) -> Result<(), TokenError> {
        if self.issued_at * 1000 < not_before_ms {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }
}

/// The shortest limit an environment may set on its tokens' lifetime: 60 s.
pub const MIN_LIFETIME_LIMIT_SECONDS: u64 = 60;

/// Checks an environment's limit on its tokens' lifetime: from
/// [`MIN_LIFETIME_LIMIT_SECONDS`] to [`MAX_LIFETIME_SECONDS`].
pub fn validate_lifetime_limit(seconds: u64) -> Result<(), String> {
    if (MIN_LIFETIME_LIMIT_SECONDS..=MAX_LIFETIME_SECONDS).contains(&seconds) {
        return Ok(());
    }
    Err(format!(
        "subscriber_token_max_ttl_seconds must be from {MIN_LIFETIME_LIMIT_SECONDS} to {MAX_LIFETIME_SECONDS} (30 days)"
    ))
}

/// Checks a lifetime asked of [`sign`] against `max_seconds` (an
/// environment's limit, itself at most [`MAX_LIFETIME_SECONDS`]).
pub fn check_lifetime(ttl_seconds: u64, max_seconds: u64) -> Result<(), TokenError> {
    let max_seconds = max_seconds.min(MAX_LIFETIME_SECONDS);
    if ttl_seconds == 0 || ttl_seconds > max_seconds {
        return Err(TokenError::Lifetime { max_seconds });
    }
    Ok(())
}

/// Signs a token for `subscriber` in `environment`, issued at `now_ms` and
/// valid `ttl_seconds` (at most [`MAX_LIFETIME_SECONDS`]).
pub fn sign(
    secret: &[u8],
    kid: &str,
    environment: &EnvironmentName,
    subscriber: &SubscriberId,
    scope: Scope,
    now_ms: u64,
    ttl_seconds: u64,
) -> Result<String, TokenError> {
    check_lifetime(ttl_seconds, MAX_LIFETIME_SECONDS)?;
    let issued_at = now_ms / 1000;
    let claims = json!({
        "env": environment.as_str(),
        "sub": subscriber.as_str(),
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "scope": scope.as_str(),
        "kid": kid,
    });
    let body = format!("{PREFIX}{}", base64url(claims.to_string().as_bytes()));
    Ok(format!("{body}.{}", base64url(&mac(secret, &body))))
}

/// The key id a token names, to pick the secret that should verify it.
pub fn key_id(token: &str) -> Option<String> {
    let (claims, _) = split(token)?;
    Some(claims.get("kid")?.as_str()?.to_owned())
}

/// Verifies a token for `subscriber` in `environment` at `now_ms`, whose
/// lifetime may be at most `max_lifetime_seconds`.
pub fn verify(
    secret: &[u8],
    token: &str,
    environment: &EnvironmentName,
    subscriber: &SubscriberId,
    now_ms: u64,
    max_lifetime_seconds: u64,
) -> Result<Claims, TokenError> {
    let (claims, signature) = split(token).ok_or(TokenError::Invalid)?;
    let field = |name: &str| claims.get(name).and_then(Value::as_str);
    // Claims are not secret: naming the wrong environment first gives the
    // clearer error (its signature could not match this environment's secret).
    if field("env") != Some(environment.as_str()) {
        return Err(TokenError::WrongEnvironment);
    }
    let body = &token[..token.rfind('.').ok_or(TokenError::Invalid)?];
    let key = derive_key(secret, Purpose::SubscriberToken);
    let mut check = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|_| TokenError::Invalid)?;
    check.update(body.as_bytes());
    check.verify_slice(&signature).map_err(|_| TokenError::Invalid)?;
    if field("sub") != Some(subscriber.as_str()) {
        return Err(TokenError::WrongSubscriber);
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_u64).ok_or(TokenError::Invalid);
    let (issued_at, expires_at) = (number("iat")?, number("exp")?);
    if expires_at.saturating_mul(1000) <= now_ms {
        return Err(TokenError::Expired);
    }
    let max_seconds = max_lifetime_seconds.min(MAX_LIFETIME_SECONDS);
    let issued_in_future = issued_at.saturating_mul(1000) > now_ms + CLOCK_SKEW_SECONDS * 1000;
    if issued_in_future || expires_at <= issued_at || expires_at - issued_at > max_seconds {
        return Err(TokenError::OutOfBounds { max_seconds });
    }
    let scope = field("scope").and_then(Scope::parse).ok_or(TokenError::Invalid)?;
    Ok(Claims { issued_at, expires_at, scope })
}

fn split(token: &str) -> Option<(serde_json::Map<String, Value>, Vec<u8>)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (claims, signature) = rest.split_once('.')?;
    let claims: Value = serde_json::from_slice(&unbase64url(claims)?).ok()?;
    Some((claims.as_object()?.clone(), unbase64url(signature)?))
}

fn mac(secret: &[u8], body: &str) -> Vec<u8> {
    let key = derive_key(secret, Purpose::SubscriberToken);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(body.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let value =
            chunk.iter().enumerate().fold(0u32, |acc, (index, byte)| acc | (u32::from(*byte) << (16 - 8 * index)));
        for index in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((value >> (18 - 6 * index)) & 63) as usize]));
        }
    }
    out
}

fn unbase64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut value = 0u32;
        for (index, symbol) in chunk.iter().enumerate() {
            let digit = ALPHABET.iter().position(|candidate| candidate == symbol)? as u32;
            value |= digit << (18 - 6 * index);
        }
        for index in 0..chunk.len() - 1 {
            out.push((value >> (16 - 8 * index)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod scope_tests {
    use super::{KeyScope, Scope};

    #[test]
    fn a_read_token_only_reads() {
        for route in KeyScope::ALL.iter().copied() {
            if Scope::Read.permits(route) {
                assert!(!route.is_write(), "{route:?}");
                assert!(Scope::Write.permits(route), "a write token does all a read token does");
            }
        }
        assert!(Scope::Read.permits(KeyScope::FeedRead) && Scope::Read.permits(KeyScope::SubscribersRead));
        assert!(!Scope::Read.permits(KeyScope::FeedWrite) && !Scope::Read.permits(KeyScope::SubscribersWrite));
        assert!(Scope::Write.permits(KeyScope::SubscribersWrite));
        assert!(!Scope::Write.permits(KeyScope::Trigger), "no token is a server key");
        assert!(!Scope::Write.permits(KeyScope::ContentWrite));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> (EnvironmentName, SubscriberId, SubscriberId) {
        (
            EnvironmentName::parse("staging").unwrap(),
            SubscriberId::parse("ada").unwrap(),
            SubscriberId::parse("bob").unwrap(),
        )
    }

    #[test]
    fn base64url_round_trips() {
        for length in 0..40 {
            let bytes: Vec<u8> = (0..length).map(|n| (n * 37 + 11) as u8).collect();
            assert_eq!(unbase64url(&base64url(&bytes)), Some(bytes));
        }
        assert_eq!(base64url(b"hi?"), "aGk_");
    }

    const MAX: u64 = MAX_LIFETIME_SECONDS;

    #[test]
    fn a_token_opens_exactly_its_subscriber_environment_and_time() {
        let (staging, ada, bob) = names();
        let secret = b"0123456789abcdef0123456789abcdef";
        let token = sign(secret, "k1", &staging, &ada, Scope::Read, 1_000_000, 60).unwrap();
        assert!(token.starts_with("st2."));
        assert_eq!(key_id(&token).as_deref(), Some("k1"));
        assert_eq!(
            verify(secret, &token, &staging, &ada, 1_000_000, MAX),
            Ok(Claims { issued_at: 1_000, expires_at: 1_060, scope: Scope::Read })
        );
        assert_eq!(verify(secret, &token, &staging, &bob, 1_000_000, MAX), Err(TokenError::WrongSubscriber));
        let production = EnvironmentName::parse("production").unwrap();
        assert_eq!(verify(secret, &token, &production, &ada, 1_000_000, MAX), Err(TokenError::WrongEnvironment));
        assert_eq!(verify(secret, &token, &staging, &ada, 1_060_000, MAX), Err(TokenError::Expired));
        let other = b"another secret entirely.........";
        assert_eq!(verify(other, &token, &staging, &ada, 1_000_000, MAX), Err(TokenError::Invalid));
        for broken in ["", "st2.", "st2.x.y", "jwt.abc.def", &token[..token.len() - 2]] {
            assert_eq!(verify(secret, broken, &staging, &ada, 0, MAX), Err(TokenError::Invalid), "{broken:?}");
        }
        assert_eq!(
            sign(secret, "k1", &staging, &ada, Scope::Read, 0, 0),
            Err(TokenError::Lifetime { max_seconds: MAX })
        );
        assert!(sign(secret, "k1", &staging, &ada, Scope::Read, 0, MAX + 1).is_err());
    }

    #[test]
    fn a_token_is_bounded_by_its_environment_and_its_issue_time() {
        let (staging, ada, _) = names();
        let secret = b"0123456789abcdef0123456789abcdef";
        let day = 24 * 3600;
        let long = sign(secret, "k1", &staging, &ada, Scope::Read, 0, 7 * day).unwrap();
        assert!(verify(secret, &long, &staging, &ada, 1_000, 7 * day).is_ok());
        // The environment lowered its limit: a token asking for longer is refused, however fresh.
        assert_eq!(
            verify(secret, &long, &staging, &ada, 1_000, day),
            Err(TokenError::OutOfBounds { max_seconds: day })
        );
        // Issued in the future (beyond the allowed skew): refused.
        let future = sign(secret, "k1", &staging, &ada, Scope::Read, 10_000_000, 60).unwrap();
        assert!(verify(secret, &future, &staging, &ada, 10_000_000 - CLOCK_SKEW_SECONDS * 1000, MAX).is_ok());
        assert!(matches!(
            verify(secret, &future, &staging, &ada, 10_000_000 - CLOCK_SKEW_SECONDS * 1000 - 1_000, MAX),
            Err(TokenError::OutOfBounds { .. })
        ));
        // Revocation: a token issued before the stamp is refused, one issued at or after it works.
        let claims = verify(secret, &long, &staging, &ada, 1_000, MAX).unwrap();
        assert_eq!(claims.check_not_revoked(1), Err(TokenError::Revoked));
        assert_eq!(claims.check_not_revoked(0), Ok(()));
        assert_eq!(check_lifetime(3 * day, day), Err(TokenError::Lifetime { max_seconds: day }));
        assert_eq!(check_lifetime(day, 365 * day), Ok(()));
        assert_eq!(check_lifetime(MAX + 1, 365 * day), Err(TokenError::Lifetime { max_seconds: MAX }));
    }

    #[test]
    fn a_first_format_token_is_refused() {
        // `st1.` tokens were signed with the secret itself, as subscriber hashes are.
        let (staging, ada, _) = names();
        let secret = b"0123456789abcdef0123456789abcdef";
        let claims = json!({"env": "staging", "sub": "ada", "exp": 4_102_444_800u64, "scope": "write", "kid": "s1"});
        let body = format!("st1.{}", base64url(claims.to_string().as_bytes()));
        let mut old = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
        old.update(body.as_bytes());
        let token = format!("{body}.{}", base64url(&old.finalize().into_bytes()));
        assert_eq!(verify(secret, &token, &staging, &ada, 0, MAX), Err(TokenError::Invalid));
    }

    #[test]
    fn no_subscriber_hash_verifies_as_a_token() {
        // An id shaped like a token, hashed by an app that trusts it, is not a token: the
        // hash is keyed by the secret, the signature by the derived key.
        let (staging, ada, _) = names();
        let secret = b"0123456789abcdef0123456789abcdef";
        let claims = json!({"env": "staging", "sub": "ada", "iat": 0, "exp": 3600, "scope": "write", "kid": "s1"});
        let body = format!("st2.{}", base64url(claims.to_string().as_bytes()));
        let id = SubscriberId::parse(&body).unwrap();
        let hash = crate::subscriber::subscriber_hash(secret, &id);
        let bytes = crate::hex::decode(&hash).unwrap();
        let forged = format!("{body}.{}", base64url(&bytes));
        assert_eq!(verify(secret, &forged, &staging, &ada, 1_000, MAX), Err(TokenError::Invalid));
    }

    #[test]
    fn no_token_for_one_subscriber_opens_another() {
        // A property over many id pairs: the signature binds the subscriber.
        let (staging, _, _) = names();
        let secret = b"property secret property secret!";
        let ids: Vec<SubscriberId> = (0..40).map(|n| SubscriberId::parse(&format!("user-{n}")).unwrap()).collect();
        for owner in &ids {
            let token = sign(secret, "k", &staging, owner, Scope::Write, 0, 600).unwrap();
            for other in ids.iter().filter(|other| *other != owner) {
                assert_eq!(verify(secret, &token, &staging, other, 0, MAX), Err(TokenError::WrongSubscriber));
            }
        }
    }
}
