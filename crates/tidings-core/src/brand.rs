//! Brand settings of an environment: a name, colours and a logo, shown by
//! inboxes. They are content (they move with promotion); the logo's bytes
//! live in the environment's KV namespace under a key made from their hash.

use sha2::{Digest, Sha256};

use crate::hex;
use crate::settings;
use crate::wire::BrandInput;

/// The largest logo.
pub const MAX_LOGO_BYTES: usize = 128 * 1024;
/// Image types a logo may have.
pub const LOGO_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/svg+xml"];

/// Why brand settings are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BrandError {
    /// The name is empty or longer than 100 characters.
    #[error("name must be 1 to 100 characters")]
    Name,
    /// A colour is not `#rrggbb`.
    #[error("{0} must be a #rrggbb colour")]
    Colour(&'static str),
    /// The logo is not one of [`LOGO_TYPES`].
    #[error("a logo is image/png, image/jpeg, image/webp or image/svg+xml")]
    LogoType,
    /// The logo is empty or larger than [`MAX_LOGO_BYTES`].
    #[error("a logo is 1 byte to 128 KiB")]
    LogoSize,
    /// The bytes are not an image of the declared type, or an SVG carries
    /// active content (scripts, event handlers, embedded documents).
    #[error("the logo is not a plain {0} image (SVG logos may not carry scripts, event handlers, links to scripts or embedded documents)")]
    LogoContent(String),
}

impl BrandError {
    /// The field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Colour(field) => field,
            Self::LogoType => "Content-Type",
            Self::LogoSize | Self::LogoContent(_) => "body",
        }
    }
}

/// Checks brand settings.
pub fn validate(input: &BrandInput) -> Result<(), BrandError> {
    if input.name.trim().is_empty() || input.name.chars().count() > 100 {
        return Err(BrandError::Name);
    }
    settings::validate_colour(&input.primary_colour).map_err(|_| BrandError::Colour("primary_colour"))?;
    if let Some(colour) = &input.accent_colour {
        settings::validate_colour(colour).map_err(|_| BrandError::Colour("accent_colour"))?;
    }
    Ok(())
}

/// Checks a logo upload and names it: the hex SHA-256 of its bytes.
pub fn logo_id(content_type: &str, bytes: &[u8]) -> Result<String, BrandError> {
    if !LOGO_TYPES.contains(&content_type) {
        return Err(BrandError::LogoType);
    }
    if bytes.is_empty() || bytes.len() > MAX_LOGO_BYTES {
        return Err(BrandError::LogoSize);
    }
    if !is_plain_image(content_type, bytes) {
        return Err(BrandError::LogoContent(content_type.to_owned()));
    }
    Ok(hex::encode(&Sha256::digest(bytes)))
}

/// Whether `bytes` are an image of `content_type`: the format's signature
/// for raster images; for SVG, UTF-8 with an `<svg` element and none of the
/// markers of active content (browsers run an SVG's scripts when it is
/// opened as a document).
fn is_plain_image(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        "image/webp" => bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
        "image/svg+xml" => {
            let Ok(text) = std::str::from_utf8(bytes) else { return false };
            let text = text.to_ascii_lowercase();
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let active =
                ["<script", "javascript:", "<foreignobject", "<iframe", "<embed", "<object", "<!entity", "data:text"];
            let handler =
                text.match_indices(" on").chain(text.match_indices("\non")).chain(text.match_indices("\ton")).any(
                    |(at, _)| {
                        let rest = &text[at + 3..];
                        let name_end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
                        name_end > 0 && rest[name_end..].trim_start().starts_with('=')
                    },
                );
            compact.contains("<svg") && !active.iter().any(|marker| compact.contains(marker)) && !handler
        }
        _ => false,
    }
}

/// The KV key holding a logo's bytes.
pub fn logo_kv_key(logo_id: &str) -> String {
    format!("brand:logo:{logo_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, colour: &str) -> BrandInput {
        BrandInput { name: name.to_owned(), primary_colour: colour.to_owned(), accent_colour: None }
    }

    #[test]
    fn checks_names_colours_and_logos() {
        assert_eq!(validate(&input("Acme", "#112233")), Ok(()));
        assert_eq!(validate(&input("", "#112233")), Err(BrandError::Name));
        assert_eq!(validate(&input("Acme", "red")).map_err(|error| error.field()), Err("primary_colour"));
        assert_eq!(logo_id("image/gif", b"GIF89a"), Err(BrandError::LogoType));
        assert_eq!(logo_id("image/png", b""), Err(BrandError::LogoSize));
        assert_eq!(logo_id("image/png", &vec![0; MAX_LOGO_BYTES + 1]), Err(BrandError::LogoSize));
        let id = logo_id("image/svg+xml", b"<svg/>").unwrap();
        assert!(logo_id("image/png", b"\x89PNG\r\n\x1a\nrest").is_ok());
        assert!(logo_id("image/jpeg", &[0xff, 0xd8, 0xff, 0xe0]).is_ok());
        assert!(logo_id("image/webp", b"RIFF\0\0\0\0WEBPVP8 ").is_ok());
        assert!(logo_id("image/svg+xml", b"<svg><title>turn on it</title><rect style='fill:red'/></svg>").is_ok());
        for (content_type, bytes) in [
            ("image/png", b"<html><script>alert(1)</script>".as_slice()),
            ("image/jpeg", b"GIF89a".as_slice()),
            ("image/webp", b"RIFF".as_slice()),
            ("image/svg+xml", b"<svg><script>alert(1)</script></svg>".as_slice()),
            ("image/svg+xml", b"<svg onload=alert(1)/>".as_slice()),
            ("image/svg+xml", b"<svg><rect\nonclick = 'x'/></svg>".as_slice()),
            ("image/svg+xml", b"<svg><a href='javascript:alert(1)'/></svg>".as_slice()),
            ("image/svg+xml", b"<svg><a href='java\tscript:alert(1)'/></svg>".as_slice()),
            ("image/svg+xml", b"<svg><foreignObject><iframe/></foreignObject></svg>".as_slice()),
            ("image/svg+xml", b"<html>not an svg</html>".as_slice()),
        ] {
            assert!(matches!(logo_id(content_type, bytes), Err(BrandError::LogoContent(_))), "{content_type}");
        }
        assert_eq!(id.len(), 64);
        assert_eq!(logo_kv_key(&id), format!("brand:logo:{id}"));
    }
}
