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
/// for raster images; for SVG, a plain drawing (browsers run an SVG's
/// scripts when it is opened as a document, and an HTML renderer inlining
/// it would too). The SVG test refuses rather than cleans: any `script`,
/// `javascript`, embedded document, `data:` URL, character reference,
/// entity declaration, event-handler attribute, or link that is not to a
/// fragment of the same drawing (`href="#…"`).
pub(crate) fn is_plain_image(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        "image/webp" => bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
        "image/svg+xml" => std::str::from_utf8(bytes).is_ok_and(is_plain_svg),
        _ => false,
    }
}

fn is_plain_svg(text: &str) -> bool {
    // Escape sequences (ISO-2022) and other control bytes can hide a marker from the tests below.
    if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    // Element names are matched with and without a namespace prefix (`<h:script>`).
    const ACTIVE: [&str; 22] = [
        "script",
        "iframe",
        "embed",
        "<object",
        ":object",
        "foreignobject",
        "<!entity",
        "<!doctype",
        "data:",
        "&#",
        "<use",
        ":use",
        "<animate",
        ":animate",
        "<set",
        ":set",
        "<form",
        ":form",
        "action=",
        "src=",
        "<meta",
        ":meta",
    ];
    if !compact.contains("<svg") || ACTIVE.iter().any(|marker| compact.contains(marker)) {
        return false;
    }
    // Named references other than XML's own five.
    let named = compact.match_indices('&').any(|(at, _)| {
        let rest = &compact[at + 1..];
        !["amp;", "lt;", "gt;", "quot;", "apos;"].iter().any(|known| rest.starts_with(known))
    });
    // `on…=` after anything but a letter or digit: an event handler however it is spaced.
    let handler = lower.match_indices("on").any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let rest = &lower[at + 2..];
        let name_end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        before.is_some_and(|c| !c.is_ascii_alphanumeric())
            && name_end > 0
            && rest[name_end..].trim_start().starts_with('=')
    });
    // Every link points into the drawing itself.
    let foreign_link = compact.match_indices("href=").any(|(at, _)| {
        let value = compact[at + 5..].trim_start_matches(['"', '\'']);
        !value.starts_with('#')
    });
    !named && !handler && !foreign_link
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
        let gradient = b"<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink'><defs><linearGradient id='g'/></defs><rect fill='url(#g)' xlink:href='#g' data-x='1'/><text>A &amp; B</text></svg>";
        assert!(logo_id("image/svg+xml", gradient).is_ok());
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
            ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'\ronload='alert(1)'/>".as_slice()),
            ("image/svg+xml", b"<svg/onload=alert(1)>".as_slice()),
            ("image/svg+xml", b"<svg><a xlink:href='&#106;avascript:alert(1)'/></svg>".as_slice()),
            ("image/svg+xml", b"<svg><animate attributeName='href' to='x'/></svg>".as_slice()),
            (
                "image/svg+xml",
                b"<svg><h:script xmlns:h='http://www.w3.org/1999/xhtml'>alert(1)</h:script></svg>".as_slice(),
            ),
            ("image/svg+xml", b"<svg><x:iframe xmlns:x='http://www.w3.org/1999/xhtml'/></svg>".as_slice()),
            ("image/svg+xml", b"<svg><use href='data:image/svg+xml;base64,PHN2Zz4='/></svg>".as_slice()),
            ("image/svg+xml", b"<svg><image href='https://evil.example/a.svg'/></svg>".as_slice()),
            ("image/svg+xml", b"<svg><text>&nbsp;</text></svg>".as_slice()),
            ("image/svg+xml", b"<svg><h:form xmlns:h='http://www.w3.org/1999/xhtml' action='javascript:alert(1)'><h:button/></h:form></svg>".as_slice()),
            ("image/svg+xml", b"<svg><scr\x1b(Bipt>alert(1)</scr\x1b(Bipt></svg>".as_slice()),
            ("image/svg+xml", b"<svg><h:img xmlns:h='http://www.w3.org/1999/xhtml' src='x'/></svg>".as_slice()),
        ] {
            assert!(
                matches!(logo_id(content_type, bytes), Err(BrandError::LogoContent(_))),
                "{content_type}: {}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(id.len(), 64);
        assert_eq!(logo_kv_key(&id), format!("brand:logo:{id}"));
    }
}
