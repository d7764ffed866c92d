//! Subscriber tokens: short-lived proof that the holder may act as one
//! subscriber in one environment, checked at the edge with nothing but the
//! environment's signing secret.
//!
//! Format: `st1.<base64url JSON claims>.<base64url HMAC-SHA256>`, where the
//! claims are `{"env", "sub", "exp" (Unix seconds), "scope" ("read" or
//! "write"), "kid"}`. `kid` names the signing-secret slot, so a rotation can
//! keep the previous secret valid for a while.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::environment::EnvironmentName;
use crate::subscriber::SubscriberId;

/// The longest lifetime a token may ask for: 24 hours.
pub const MAX_TTL_SECONDS: u64 = 24 * 3600;
/// The default lifetime: 1 hour.
pub const DEFAULT_TTL_SECONDS: u64 = 3600;
const PREFIX: &str = "st1.";

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read the feed and counts only.
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
}

/// Why a token is refused; each has its own API code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token, damaged, or signed with another secret.
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
    /// Asked lifetime is zero or too long.
    #[error("ttl_seconds must be from 1 to {MAX_TTL_SECONDS}")]
    Lifetime,
}

/// Verified claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Expiry, Unix seconds.
    pub expires_at: u64,
    /// What it allows.
    pub scope: Scope,
}

/// Signs a token for `subscriber` in `environment`, valid `ttl_seconds` from `now_ms`.
pub fn sign(
    secret: &[u8],
    kid: &str,
    environment: &EnvironmentName,
    subscriber: &SubscriberId,
    scope: Scope,
    now_ms: u64,
    ttl_seconds: u64,
) -> Result<String, TokenError> {
    if ttl_seconds == 0 || ttl_seconds > MAX_TTL_SECONDS {
        return Err(TokenError::Lifetime);
    }
    let claims = json!({
        "env": environment.as_str(),
        "sub": subscriber.as_str(),
        "exp": now_ms / 1000 + ttl_seconds,
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

/// Verifies a token for `subscriber` in `environment` at `now_ms`.
pub fn verify(
    secret: &[u8],
    token: &str,
    environment: &EnvironmentName,
    subscriber: &SubscriberId,
    now_ms: u64,
) -> Result<Claims, TokenError> {
    let (claims, signature) = split(token).ok_or(TokenError::Invalid)?;
    let field = |name: &str| claims.get(name).and_then(Value::as_str);
    // Claims are not secret: naming the wrong environment first gives the
    // clearer error (its signature could not match this environment's secret).
    if field("env") != Some(environment.as_str()) {
        return Err(TokenError::WrongEnvironment);
    }
    let body = &token[..token.rfind('.').ok_or(TokenError::Invalid)?];
    let mut check = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| TokenError::Invalid)?;
    check.update(body.as_bytes());
    check.verify_slice(&signature).map_err(|_| TokenError::Invalid)?;
    if field("sub") != Some(subscriber.as_str()) {
        return Err(TokenError::WrongSubscriber);
    }
    let expires_at = claims.get("exp").and_then(Value::as_u64).ok_or(TokenError::Invalid)?;
    if expires_at * 1000 <= now_ms {
        return Err(TokenError::Expired);
    }
    let scope = field("scope").and_then(Scope::parse).ok_or(TokenError::Invalid)?;
    Ok(Claims { expires_at, scope })
}

fn split(token: &str) -> Option<(serde_json::Map<String, Value>, Vec<u8>)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (claims, signature) = rest.split_once('.')?;
    let claims: Value = serde_json::from_slice(&unbase64url(claims)?).ok()?;
    Some((claims.as_object()?.clone(), unbase64url(signature)?))
}

fn mac(secret: &[u8], body: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("any key length"));
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

    #[test]
    fn a_token_opens_exactly_its_subscriber_environment_and_time() {
        let (staging, ada, bob) = names();
        let secret = b"0123456789abcdef0123456789abcdef";
        let token = sign(secret, "k1", &staging, &ada, Scope::Read, 1_000_000, 60).unwrap();
        assert_eq!(key_id(&token).as_deref(), Some("k1"));
        assert_eq!(
            verify(secret, &token, &staging, &ada, 1_000_000),
            Ok(Claims { expires_at: 1_060, scope: Scope::Read })
        );
        assert_eq!(verify(secret, &token, &staging, &bob, 1_000_000), Err(TokenError::WrongSubscriber));
        let production = EnvironmentName::parse("production").unwrap();
        assert_eq!(verify(secret, &token, &production, &ada, 1_000_000), Err(TokenError::WrongEnvironment));
        assert_eq!(verify(secret, &token, &staging, &ada, 1_060_000), Err(TokenError::Expired));
        assert_eq!(verify(b"another secret entirely.........", &token, &staging, &ada, 0), Err(TokenError::Invalid));
        for broken in ["", "st1.", "st1.x.y", "jwt.abc.def", &token[..token.len() - 2]] {
            assert_eq!(verify(secret, broken, &staging, &ada, 0), Err(TokenError::Invalid), "{broken:?}");
        }
        assert_eq!(sign(secret, "k1", &staging, &ada, Scope::Read, 0, 0), Err(TokenError::Lifetime));
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
                assert_eq!(verify(secret, &token, &staging, other, 0), Err(TokenError::WrongSubscriber));
            }
        }
    }
}
