//! What makes a promotion (or import) request the same request again, and
//! whether a request is applied, replayed or refused as a reused key.

use sha2::{Digest, Sha256};

use crate::hex;
use crate::wire::ChangeSelection;

/// What makes a promotion (or import) request the same request again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestIdentity {
    /// The client's `Idempotency-Key`, with a fingerprint of the body it was
    /// first sent with: the same key with another body is refused.
    Keyed {
        /// Stored (unique) on the release.
        key: String,
        /// SHA-256 of the request's body, canonicalised.
        fingerprint: String,
    },
    /// No key, chosen change ids: a retry is recognised only while the
    /// release it made is still the target's latest and not rolled back,
    /// i.e. against the same target state. The stored key is this prefix
    /// and the release id, so the same ids may be promoted again later.
    Selection {
        /// `ids:<digest of environments and ids>:`.
        prefix: String,
    },
    /// `"all"` without a key: retried, it finds nothing pending.
    Unrecognised,
}

impl RequestIdentity {
    /// The request key to store on a release with id `release_id`.
    pub fn stored_key(&self, release_id: &str) -> Option<String> {
        match self {
            Self::Keyed { key, .. } => Some(key.clone()),
            Self::Selection { prefix } => Some(format!("{prefix}{release_id}")),
            Self::Unrecognised => None,
        }
    }

    /// The fingerprint to store with it.
    pub fn fingerprint(&self) -> Option<&str> {
        match self {
            Self::Keyed { fingerprint, .. } => Some(fingerprint),
            _ => None,
        }
    }
}

/// The identity of a promotion request from `from` to `to`.
pub fn request_identity(
    idempotency_key: Option<&str>,
    from: &str,
    to: &str,
    selection: &ChangeSelection,
) -> RequestIdentity {
    let chosen = match selection {
        ChangeSelection::All(word) => format!("all:{word}"),
        ChangeSelection::Ids(ids) => {
            let mut ids = ids.clone();
            ids.sort();
            ids.dedup();
            format!("ids:{}", ids.join(","))
        }
    };
    let digest = hex::encode(&Sha256::digest(format!("{from}>{to}:{chosen}").as_bytes()));
    match (idempotency_key, selection) {
        (Some(key), _) => RequestIdentity::Keyed { key: format!("key:{from}>{to}:{key}"), fingerprint: digest },
        (None, ChangeSelection::Ids(_)) => RequestIdentity::Selection { prefix: format!("ids:{digest}:") },
        (None, ChangeSelection::All(_)) => RequestIdentity::Unrecognised,
    }
}

/// The identity of an import with an `Idempotency-Key`, over the body's bytes.
pub fn import_identity(idempotency_key: Option<&str>, environment: &str, body: &[u8]) -> RequestIdentity {
    match idempotency_key {
        Some(key) => RequestIdentity::Keyed {
            key: format!("import:{environment}:{key}"),
            fingerprint: hex::encode(&Sha256::digest(body)),
        },
        None => RequestIdentity::Unrecognised,
    }
}

/// A release found for a request's identity: for a keyed request the
/// release stored under its key, otherwise the target's latest release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierRelease {
    /// Its stored request key.
    pub request_key: Option<String>,
    /// Its stored body fingerprint.
    pub fingerprint: Option<String>,
    /// Whether a later release rolled it back.
    pub rolled_back: bool,
}

/// What to do with a request given the release found for its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Apply it: nothing recognises it.
    Apply,
    /// Answer the earlier release again.
    Replay,
    /// The key was used with another body: 422 `idempotency_key_reused`.
    KeyReused,
}

/// Decides between applying, replaying and refusing a request.
pub fn replay(identity: &RequestIdentity, earlier: Option<&EarlierRelease>) -> Replay {
    match (identity, earlier) {
        (RequestIdentity::Keyed { key, fingerprint }, Some(earlier))
            if earlier.request_key.as_deref() == Some(key.as_str()) =>
        {
            // Releases stored before fingerprints were kept have none: replayed, as before.
            if earlier.fingerprint.as_deref().is_none_or(|stored| stored == fingerprint) {
                Replay::Replay
            } else {
                Replay::KeyReused
            }
        }
        (RequestIdentity::Selection { prefix }, Some(earlier))
            if !earlier.rolled_back
                && earlier.request_key.as_deref().is_some_and(|key| key.starts_with(prefix.as_str())) =>
        {
            Replay::Replay
        }
        _ => Replay::Apply,
    }
}
