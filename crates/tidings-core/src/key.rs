//! Self-describing API keys.
//!
//! A key reads `pk_development_<secret><checksum>`:
//!
//! - `pk` (publishable, safe in a browser) or `sk` (secret, servers only);
//! - the name of the one environment the key opens;
//! - 32 base32 symbols of secret (160 random bits);
//! - 6 base32 symbols of checksum over everything before it.
//!
//! The checksum lets the worker refuse a mistyped or made-up key before it
//! reads any storage. Storage keeps only [`hash`] of a key, never the key.

use core::fmt;

use sha2::{Digest, Sha256};

use crate::base32;
use crate::environment::{EnvironmentError, EnvironmentName};

/// Random bytes needed by [`ApiKey::generate`].
pub const SECRET_BYTES: usize = 20;
const SECRET_SYMBOLS: usize = 32;
const CHECKSUM_SYMBOLS: usize = 6;
/// The longest string that can be a key; longer input is refused unread.
pub const MAX_KEY_LEN: usize = 3 + EnvironmentName::MAX_LEN + 1 + SECRET_SYMBOLS + CHECKSUM_SYMBOLS;

/// Why a string is not a well-formed key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key does not start with `pk_` or `sk_`.
    #[error("a key starts with pk_ or sk_")]
    UnknownPrefix,
    /// The key's parts are missing or have the wrong length or alphabet.
    #[error("the key is not of the form <pk|sk>_<environment>_<secret>")]
    Shape,
    /// The environment part is not a valid environment name.
    #[error("the key's environment part is invalid: {0}")]
    Environment(#[from] EnvironmentError),
    /// The checksum does not match: the key was mistyped, truncated or forged.
    #[error("the key's checksum does not match; it was mistyped, truncated or made up")]
    Checksum,
}

/// Which of an environment's two kinds of key this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// `pk_…`: identifies an environment from a browser; opens only feed routes.
    Publishable,
    /// `sk_…`: full access to one environment from a server.
    Secret,
}

impl KeyKind {
    /// The key prefix without its underscore.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Publishable => "pk",
            Self::Secret => "sk",
        }
    }

    /// The kind's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publishable => "publishable",
            Self::Secret => "secret",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "publishable" => Some(Self::Publishable),
            "secret" => Some(Self::Secret),
            _ => None,
        }
    }
}

/// A key whose shape and checksum are valid. Whether it exists and is
/// active is for storage to say.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    kind: KeyKind,
    environment: EnvironmentName,
    text: String,
}

impl ApiKey {
    /// Makes a new key for `environment` from fresh random bytes.
    pub fn generate(kind: KeyKind, environment: &EnvironmentName, random: [u8; SECRET_BYTES]) -> Self {
        let body = format!("{}_{}_{}", kind.prefix(), environment, base32::encode(&random));
        let text = format!("{body}{}", checksum(&body));
        Self { kind, environment: environment.clone(), text }
    }

    /// Checks the shape and checksum of `text`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let key = Self::parse_shape(text)?;
        let (body, sum) = text.split_at(text.len() - CHECKSUM_SYMBOLS);
        if checksum(body) != sum {
            return Err(KeyError::Checksum);
        }
        Ok(key)
    }

    /// Checks the shape of `text` (prefix, environment name, length and
    /// alphabet) but not its checksum: for a client that leaves the checksum
    /// to the server, such as the browser SDK, which so keeps SHA-256 out of
    /// what a browser downloads. Never trust a key parsed this way.
    pub fn parse_shape(text: &str) -> Result<Self, KeyError> {
        if text.len() > MAX_KEY_LEN {
            return Err(KeyError::Shape);
        }
        let (kind, rest) = if let Some(rest) = text.strip_prefix("pk_") {
            (KeyKind::Publishable, rest)
        } else if let Some(rest) = text.strip_prefix("sk_") {
            (KeyKind::Secret, rest)
        } else {
            return Err(KeyError::UnknownPrefix);
        };
        let (environment, tail) = rest.rsplit_once('_').ok_or(KeyError::Shape)?;
        if tail.len() != SECRET_SYMBOLS + CHECKSUM_SYMBOLS || !base32::is_valid(tail) {
            return Err(KeyError::Shape);
        }
        let environment = EnvironmentName::parse(environment)?;
        Ok(Self { kind, environment, text: text.to_owned() })
    }

    /// Publishable or secret.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The one environment this key opens.
    pub fn environment(&self) -> &EnvironmentName {
        &self.environment
    }

    /// The full key. Show it once, at creation; never log it.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// What storage keeps in place of the key.
    pub fn hash(&self) -> String {
        hash(&self.text)
    }

    /// The id the key is listed and managed by: `key_` and the first 16
    /// symbols of its hash (never enough to find the key).
    pub fn id(&self) -> String {
        format!("key_{}", &self.hash()[..16])
    }

    /// A form safe to show in lists and logs: prefix, environment and the
    /// six checksum symbols, which reveal nothing of the secret, e.g.
    /// `sk_staging_…x7k2pq`.
    pub fn masked(&self) -> String {
        let checksum = &self.text[self.text.len() - CHECKSUM_SYMBOLS..];
        format!("{}_{}_…{checksum}", self.kind.prefix(), self.environment)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ApiKey").field(&self.masked()).finish()
    }
}

/// The lowercase hex SHA-256 of a key: what storage keeps and looks up.
/// Keys carry 160 random bits, so a plain hash is as strong as a slow one.
pub fn hash(key: &str) -> String {
    crate::hex::encode(&Sha256::digest(key.as_bytes()))
}

fn checksum(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let value = u128::from(u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]));
    base32::encode_u128(value >> 2, CHECKSUM_SYMBOLS as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn development() -> EnvironmentName {
        EnvironmentName::parse("development").unwrap()
    }

    #[test]
    fn generated_keys_parse_back() {
        for (kind, seed) in [(KeyKind::Publishable, 1u8), (KeyKind::Secret, 200)] {
            let key = ApiKey::generate(kind, &development(), [seed; SECRET_BYTES]);
            let parsed = ApiKey::parse(key.expose()).unwrap();
            assert_eq!(parsed, key);
            assert_eq!(parsed.kind(), kind);
            assert_eq!(parsed.environment().as_str(), "development");
            assert!(key.expose().starts_with(&format!("{}_development_", kind.prefix())));
            assert!(key.expose().len() <= MAX_KEY_LEN);
        }
    }

    #[test]
    fn every_single_symbol_typo_is_caught() {
        let key = ApiKey::generate(KeyKind::Secret, &development(), [7; SECRET_BYTES]);
        let text = key.expose();
        let start = "sk_development_".len();
        for index in start..text.len() {
            for &replacement in base32::ALPHABET {
                if text.as_bytes()[index] == replacement {
                    continue;
                }
                let mut typo = text.as_bytes().to_vec();
                typo[index] = replacement;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(ApiKey::parse(&typo), Err(KeyError::Checksum), "{typo}");
            }
        }
    }

    #[test]
    fn moving_a_key_to_another_environment_breaks_it() {
        let key = ApiKey::generate(KeyKind::Publishable, &development(), [3; SECRET_BYTES]);
        let moved = key.expose().replacen("development", "production", 1);
        assert_eq!(ApiKey::parse(&moved), Err(KeyError::Checksum));
    }

    #[test]
    fn shape_only_parsing_accepts_a_typo_and_refuses_what_parse_refuses_for_its_shape() {
        let key = ApiKey::generate(KeyKind::Publishable, &development(), [5; SECRET_BYTES]);
        let mut typo = key.expose().to_owned();
        let last = if typo.ends_with('a') { "b" } else { "a" };
        typo.replace_range(typo.len() - 1.., last);
        assert_eq!(ApiKey::parse(&typo), Err(KeyError::Checksum));
        assert_eq!(ApiKey::parse_shape(&typo).map(|parsed| parsed.kind()), Ok(KeyKind::Publishable));
        assert_eq!(ApiKey::parse_shape(key.expose()), Ok(key));
        for text in ["", "rk_development_x", "pk_development", "pk_development_short"] {
            assert_eq!(ApiKey::parse_shape(text), ApiKey::parse(text), "{text}");
        }
    }

    #[test]
    fn malformed_keys_get_precise_errors() {
        assert_eq!(ApiKey::parse(""), Err(KeyError::UnknownPrefix));
        assert_eq!(ApiKey::parse("rk_development_x"), Err(KeyError::UnknownPrefix));
        assert_eq!(ApiKey::parse("pk_development"), Err(KeyError::Shape));
        assert_eq!(ApiKey::parse("pk_development_short"), Err(KeyError::Shape));
        assert_eq!(ApiKey::parse(&"pk_".repeat(100)), Err(KeyError::Shape));
        let bad_env = format!("pk_Dev_{}", "0".repeat(38));
        assert!(matches!(ApiKey::parse(&bad_env), Err(KeyError::Environment(_))));
    }

    #[test]
    fn debug_and_mask_hide_the_secret() {
        let key = ApiKey::generate(KeyKind::Secret, &development(), [9; SECRET_BYTES]);
        let shown = format!("{key:?} {}", key.masked());
        assert!(!shown.contains(&key.expose()[15..30]));
        assert_eq!(key.hash().len(), 64);
        assert_ne!(key.hash(), hash("sk_development_other"));
    }
}
