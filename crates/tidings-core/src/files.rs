//! Files of one environment, kept in its own object store: their paths,
//! the types and sizes accepted, brand assets (content-addressed under
//! `brand/`), and the short-lived signed URLs through which browsers read
//! them.
//!
//! A signed URL names the environment, the path and an expiry, and carries
//! an HMAC-SHA256 under a key derived from the environment's signing secret
//! for this purpose only ([`crate::derive::Purpose::FileUrl`]): it is never a
//! subscriber token or hash, and no key travels in it. Expiries fall on
//! five-minute boundaries, so the URL of one file stays the same for a
//! while and browsers can cache it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::derive::{derive_key, Purpose};
use crate::hex;

/// The longest path, in bytes.
pub const MAX_PATH_BYTES: usize = 256;
/// The largest file, in bytes (10 MiB).
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// The most an environment stores, in bytes (1 GiB), unless the deployment
/// sets another quota ([`quota_bytes`]).
pub const ENVIRONMENT_QUOTA_BYTES: u64 = 1024 * 1024 * 1024;
/// The largest quota a deployment may set (1 TiB).
pub const MAX_QUOTA_BYTES: u64 = 1024 * 1024 * 1024 * 1024;
/// How long room taken for an upload is held before it lapses by itself,
/// in milliseconds (an upload whose request died never releases it).
pub const RESERVATION_LIFETIME_MS: u64 = 15 * 60 * 1000;
/// Where brand assets live: `brand/<sha-256 of the bytes>`.
pub const BRAND_PREFIX: &str = "brand/";
/// How long a signed URL lives by default, in seconds.
pub const DEFAULT_URL_TTL_SECONDS: u64 = 900;
/// The longest a signed URL may live, in seconds.
pub const MAX_URL_TTL_SECONDS: u64 = 3600;
/// Expiries are rounded up to this many seconds.
const EXPIRY_STEP_SECONDS: u64 = 300;

/// The types a file may have. Images are checked against their magic
/// bytes, and SVGs against scripts, handlers and foreign links, as logos are.
pub const ALLOWED_TYPES: [&str; 9] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/svg+xml",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/json",
];

/// Why a file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The path's shape.
    #[error("a file path is 1 to 256 bytes of segments of letters, digits, '.', '_' and '-', separated by '/' (no empty, '.' or '..' segment, none starting with '.')")]
    Path,
    /// The declared type is not accepted.
    #[error("files are image/png, image/jpeg, image/gif, image/webp, image/svg+xml, application/pdf, text/plain, text/csv or application/json")]
    Type,
    /// The bytes do not match the declared type.
    #[error("the body is not a plain {0} file (SVGs may not carry scripts, event handlers or links)")]
    Content(String),
    /// Empty, or over [`MAX_FILE_BYTES`].
    #[error("a file is 1 byte to 10 MiB")]
    Size,
    /// A brand asset must be named by the SHA-256 of its bytes.
    #[error("brand assets are content-addressed: the path must be brand/{0}")]
    BrandAddress(String),
}

/// The per-environment quota a deployment's setting asks for (its
/// `TIDINGS_FILE_QUOTA_BYTES`): [`ENVIRONMENT_QUOTA_BYTES`] when unset, else
/// a whole number of bytes from [`MAX_FILE_BYTES`] to [`MAX_QUOTA_BYTES`].
pub fn quota_bytes(setting: Option<&str>) -> Result<u64, QuotaSettingError> {
    let Some(setting) = setting.map(str::trim).filter(|setting| !setting.is_empty()) else {
        return Ok(ENVIRONMENT_QUOTA_BYTES);
    };
    match setting.parse::<u64>() {
        Ok(bytes) if (MAX_FILE_BYTES..=MAX_QUOTA_BYTES).contains(&bytes) => Ok(bytes),
        _ => Err(QuotaSettingError),
    }
}

/// The id of room taken for one upload, from 16 random bytes.
pub fn reservation_id(random: [u8; 16]) -> String {
    hex::encode(&random)
}

/// A file quota setting that is not a whole number of bytes in range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TIDINGS_FILE_QUOTA_BYTES must be a whole number of bytes from 10485760 (10 MiB) to 1099511627776 (1 TiB)")]
pub struct QuotaSettingError;

impl FileError {
    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Path | Self::BrandAddress(_) => "path",
            Self::Type => "Content-Type",
            Self::Content(_) | Self::Size => "body",
        }
    }
}

/// A checked file path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FilePath(String);

impl FilePath {
    /// Checks a path (already percent-decoded).
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let segment_ok = |segment: &str| {
            !segment.is_empty()
                && segment.len() <= 100
                && !segment.starts_with('.')
                && segment.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
        };
        if text.is_empty() || text.len() > MAX_PATH_BYTES || !text.split('/').all(segment_ok) {
            return Err(FileError::Path);
        }
        Ok(Self(text.to_owned()))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is a brand asset (promotable, content-addressed).
    pub fn is_brand_asset(&self) -> bool {
        self.0.starts_with(BRAND_PREFIX)
    }

    /// The last segment: the name a browser saves it under.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

/// Whether a listing prefix is acceptable: empty, or a path's beginning.
pub fn valid_prefix(prefix: &str) -> bool {
    prefix.is_empty()
        || (prefix.len() <= MAX_PATH_BYTES
            && prefix.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b'/'))
            && !prefix.starts_with('/')
            && !prefix.contains("//"))
}

/// Checks a file's declared type, size and bytes; answers its SHA-256 (hex).
/// A brand asset's path must be `brand/<that hash>`.
pub fn check(path: &FilePath, content_type: &str, bytes: &[u8]) -> Result<String, FileError> {
    let mut inspector = Inspector::new(path, content_type)?;
    inspector.feed(bytes)?;
    inspector.finish().map(|(hash, _)| hash)
}

/// Checks a file as its bytes stream in, chunk by chunk, without holding
/// them (except SVG and JSON, which are checked whole, within the size limit):
/// the size, the type's magic bytes, UTF-8 for text, and the SHA-256.
pub struct Inspector {
    path: FilePath,
    content_type: String,
    hasher: Sha256,
    head: Vec<u8>,
    size: u64,
    /// The end of the last chunk when it stops inside a UTF-8 sequence.
    carry: Vec<u8>,
    /// The whole body, for the types checked whole.
    whole: Option<Vec<u8>>,
}

/// How many leading bytes the magic-byte checks read.
const HEAD_BYTES: usize = 16;

impl Inspector {
    /// Starts checking a file declared as `content_type` (refused at once when not accepted).
    pub fn new(path: &FilePath, content_type: &str) -> Result<Self, FileError> {
        let content_type = essence(content_type);
        if !ALLOWED_TYPES.contains(&content_type.as_str()) {
            return Err(FileError::Type);
        }
        let whole = matches!(content_type.as_str(), "image/svg+xml" | "application/json").then(Vec::new);
        Ok(Self {
            path: path.clone(),
            content_type,
            hasher: Sha256::new(),
            head: Vec::new(),
            size: 0,
            carry: Vec::new(),
            whole,
        })
    }

    /// The declared type, without parameters.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Takes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), FileError> {
        self.size += chunk.len() as u64;
        if self.size > MAX_FILE_BYTES {
            return Err(FileError::Size);
        }
        self.hasher.update(chunk);
        let wanted = HEAD_BYTES.saturating_sub(self.head.len()).min(chunk.len());
        self.head.extend_from_slice(&chunk[..wanted]);
        if let Some(whole) = &mut self.whole {
            whole.extend_from_slice(chunk);
        }
        if matches!(self.content_type.as_str(), "text/plain" | "text/csv") {
            let mut text = std::mem::take(&mut self.carry);
            text.extend_from_slice(chunk);
            match std::str::from_utf8(&text) {
                Ok(_) => {}
                // A sequence cut by the chunk's end: kept for the next chunk.
                Err(error) if error.error_len().is_none() => self.carry = text[error.valid_up_to()..].to_vec(),
                Err(_) => return Err(FileError::Content(self.content_type.clone())),
            }
        }
        Ok(())
    }

    /// Ends the check: answers the SHA-256 (hex) and the size.
    pub fn finish(self) -> Result<(String, u64), FileError> {
        if self.size == 0 {
            return Err(FileError::Size);
        }
        let head = self.head.as_slice();
        let plain = match self.content_type.as_str() {
            "image/gif" => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
            "application/pdf" => head.starts_with(b"%PDF-"),
            "text/plain" | "text/csv" => self.carry.is_empty(),
            "application/json" => {
                self.whole.as_deref().is_some_and(|bytes| serde_json::from_slice::<serde_json::Value>(bytes).is_ok())
            }
            "image/svg+xml" => {
                self.whole.as_deref().is_some_and(|bytes| crate::brand::is_plain_image("image/svg+xml", bytes))
            }
            image => crate::brand::is_plain_image(image, head),
        };
        if !plain {
            return Err(FileError::Content(self.content_type));
        }
        let hash = hex::encode(&self.hasher.finalize());
        if self.path.is_brand_asset() && self.path.as_str() != format!("{BRAND_PREFIX}{hash}") {
            return Err(FileError::BrandAddress(hash));
        }
        Ok((hash, self.size))
    }
}

/// The media type without parameters, lowercase (`text/plain; charset=utf-8` → `text/plain`).
pub fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// The headers every file answer carries: never sniffed, and opened as a
/// document (an SVG can be), it runs nothing and loads nothing.
pub const SAFE_HEADERS: [(&str, &str); 2] = [
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox"),
];

/// Whether a browser may show the type inline; others download (PDFs too:
/// a sandboxed document is no place for a PDF viewer).
pub fn inline(content_type: &str) -> bool {
    content_type.starts_with("image/") || content_type == "text/plain"
}

/// A signed URL's parts, as the query carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    /// Unix seconds after which it is refused.
    pub expires_at: u64,
    /// The signing secret's slot (`s1`, `s2`, …).
    pub key_id: String,
    /// HMAC-SHA256, hex.
    pub signature: String,
}

/// When a URL signed at `now_ms` for `ttl_seconds` (at most
/// [`MAX_URL_TTL_SECONDS`]) expires: rounded up to a five-minute boundary.
pub fn url_expiry(now_ms: u64, ttl_seconds: u64) -> u64 {
    let end = now_ms / 1000 + ttl_seconds.min(MAX_URL_TTL_SECONDS);
    end.div_ceil(EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS
}

/// Signs `path` of `environment` until `expires_at` with the slot `key_id` of the signing secret `secret`.
pub fn sign_url(secret: &[u8], key_id: &str, environment: &str, path: &FilePath, expires_at: u64) -> SignedUrl {
    let signature = hex::encode(&mac(secret, environment, key_id, path, expires_at).finalize().into_bytes());
    SignedUrl { expires_at, key_id: key_id.to_owned(), signature }
}

/// The URL's path and query: `/v1/signed-files/<environment>/<path>?exp=…&kid=…&sig=…`.
pub fn url_path(environment: &str, path: &FilePath, signed: &SignedUrl) -> String {
    format!(
        "/v1/signed-files/{environment}/{}?exp={}&kid={}&sig={}",
        path.as_str(),
        signed.expires_at,
        signed.key_id,
        signed.signature
    )
}

/// Why a signed URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Its time has passed.
    Expired,
    /// Its signature is not this environment's for this path and expiry, or it claims too long a life.
    Invalid,
}

/// Checks a signed URL for `path` of `environment` at `now_ms` with the
/// secret of the slot it names (constant-time comparison).
pub fn verify_url(
    secret: &[u8],
    environment: &str,
    path: &FilePath,
    signed: &SignedUrl,
    now_ms: u64,
) -> Result<(), UrlRefusal> {
    let now = now_ms / 1000;
    if signed.expires_at > now + MAX_URL_TTL_SECONDS + EXPIRY_STEP_SECONDS {
        return Err(UrlRefusal::Invalid);
    }
    let given = hex::decode(&signed.signature).ok_or(UrlRefusal::Invalid)?;
    mac(secret, environment, &signed.key_id, path, signed.expires_at)
        .verify_slice(&given)
        .map_err(|_| UrlRefusal::Invalid)?;
    if signed.expires_at <= now {
        return Err(UrlRefusal::Expired);
    }
    Ok(())
}

fn mac(secret: &[u8], environment: &str, key_id: &str, path: &FilePath, expires_at: u64) -> Hmac<Sha256> {
    let key = derive_key(secret, Purpose::FileUrl);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("any key length"));
    for part in ["tidings file url v1", environment, key_id, path.as_str(), &expires_at.to_string()] {
        mac.update(part.as_bytes());
        mac.update(b"\n");
    }
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> FilePath {
        FilePath::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn the_quota_setting_is_whole_bytes_in_range_or_the_default() {
        assert_eq!(quota_bytes(None), Ok(ENVIRONMENT_QUOTA_BYTES));
        assert_eq!(quota_bytes(Some(" ")), Ok(ENVIRONMENT_QUOTA_BYTES));
        assert_eq!(quota_bytes(Some("33554432")), Ok(32 * 1024 * 1024));
        assert_eq!(quota_bytes(Some("1099511627776")), Ok(MAX_QUOTA_BYTES));
        for bad in ["1", "10485759", "1099511627777", "1e9", "-5", "32MiB", "0x100000000"] {
            assert_eq!(quota_bytes(Some(bad)), Err(QuotaSettingError), "{bad}");
        }
    }

    #[test]
    fn paths() {
        for good in ["a.png", "avatars/u-1/me.jpg", "brand/0f", "x_y-z.1"] {
            assert!(FilePath::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", "../a", "a/../b", ".hidden", "a/.b", "a b", "a\\b", "é.png", "a?b", "a%2fb"]
        {
            assert_eq!(FilePath::parse(bad), Err(FileError::Path), "{bad}");
        }
        assert!(FilePath::parse(&"a".repeat(257)).is_err());
        assert_eq!(path("avatars/me.png").file_name(), "me.png");
        assert!(valid_prefix("") && valid_prefix("avatars/") && !valid_prefix("/x") && !valid_prefix("a//"));
    }

    #[test]
    fn types_sizes_and_brand_addresses() {
        let png = b"\x89PNG\r\n\x1a\nrest";
        assert!(check(&path("a.png"), "image/png", png).is_ok());
        assert_eq!(check(&path("a.png"), "image/png", b"<svg/>"), Err(FileError::Content("image/png".to_owned())));
        assert_eq!(check(&path("a.html"), "text/html", b"<p>"), Err(FileError::Type));
        assert_eq!(check(&path("a.txt"), "text/plain", b""), Err(FileError::Size));
        assert!(check(&path("a.txt"), "Text/Plain; charset=utf-8", b"hello").is_ok());
        let script = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert!(matches!(check(&path("a.svg"), "image/svg+xml", script), Err(FileError::Content(_))));
        let hash = check(&path("x.png"), "image/png", png).unwrap_or_default();
        assert!(check(&path(&format!("brand/{hash}")), "image/png", png).is_ok());
        assert_eq!(check(&path("brand/logo.png"), "image/png", png), Err(FileError::BrandAddress(hash)));
    }

    #[test]
    fn a_streamed_check_agrees_with_a_whole_one_whatever_the_chunks() {
        let text = "héllo, wörld — ✓".repeat(50);
        for size in [1, 2, 3, 7, 64] {
            let mut inspector = Inspector::new(&path("a.txt"), "text/plain").unwrap();
            for chunk in text.as_bytes().chunks(size) {
                inspector.feed(chunk).unwrap();
            }
            assert_eq!(inspector.finish().unwrap().0, check(&path("a.txt"), "text/plain", text.as_bytes()).unwrap());
        }
        let mut cut = Inspector::new(&path("a.txt"), "text/plain").unwrap();
        cut.feed(&"é".as_bytes()[..1]).unwrap();
        assert!(matches!(cut.finish(), Err(FileError::Content(_))), "a body ending inside a character");
        let mut bad = Inspector::new(&path("a.txt"), "text/plain").unwrap();
        assert!(bad.feed(&[0xff, 0xfe]).is_err());
        let mut big = Inspector::new(&path("a.bin.txt"), "text/plain").unwrap();
        big.feed(&vec![b'a'; MAX_FILE_BYTES as usize]).unwrap();
        assert_eq!(big.feed(b"a"), Err(FileError::Size));
        let png = b"\x89PNG\r\n\x1a\nrest of the image";
        let mut image = Inspector::new(&path("a.png"), "image/png").unwrap();
        for chunk in png.chunks(3) {
            image.feed(chunk).unwrap();
        }
        assert!(image.finish().is_ok());
    }

    #[test]
    fn signed_urls_are_bound_to_environment_path_expiry_and_secret() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let now = 1_800_000_000_000;
        let expires = url_expiry(now, 900);
        assert_eq!(expires % 300, 0);
        assert!(expires >= now / 1000 + 900 && expires < now / 1000 + 1200);
        assert_eq!(url_expiry(now, 10 * MAX_URL_TTL_SECONDS), url_expiry(now, MAX_URL_TTL_SECONDS));
        let file = path("avatars/me.png");
        let signed = sign_url(secret, "s1", "staging", &file, expires);
        assert_eq!(verify_url(secret, "staging", &file, &signed, now), Ok(()));
        assert_eq!(verify_url(secret, "production", &file, &signed, now), Err(UrlRefusal::Invalid));
        assert_eq!(verify_url(secret, "staging", &path("avatars/you.png"), &signed, now), Err(UrlRefusal::Invalid));
        assert_eq!(verify_url(b"another secret", "staging", &file, &signed, now), Err(UrlRefusal::Invalid));
        let later = SignedUrl { expires_at: expires + 300, ..signed.clone() };
        assert_eq!(verify_url(secret, "staging", &file, &later, now), Err(UrlRefusal::Invalid));
        let other_slot = SignedUrl { key_id: "s2".to_owned(), ..signed.clone() };
        assert_eq!(verify_url(secret, "staging", &file, &other_slot, now), Err(UrlRefusal::Invalid));
        assert_eq!(verify_url(secret, "staging", &file, &signed, expires * 1000), Err(UrlRefusal::Expired));
        let far = sign_url(secret, "s1", "staging", &file, now / 1000 + 2 * MAX_URL_TTL_SECONDS);
        assert_eq!(verify_url(secret, "staging", &file, &far, now), Err(UrlRefusal::Invalid));
        assert_eq!(
            url_path("staging", &file, &signed),
            format!("/v1/signed-files/staging/avatars/me.png?exp={expires}&kid=s1&sig={}", signed.signature)
        );
        // Not a subscriber token's key, nor a subscriber hash.
        assert_ne!(derive_key(secret, Purpose::FileUrl), derive_key(secret, Purpose::SubscriberToken));
    }
}
