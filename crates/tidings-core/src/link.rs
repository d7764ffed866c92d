//! What URLs may reach a feed or a webhook sender.
//!
//! - **Links** (in-app action buttons and avatars) are `https:` URLs,
//!   `http:` ones in development, or relative references. Anything else
//!   (`javascript:`, `data:`, `vbscript:`, protocol-relative `//host`) would
//!   run or load something a feed never should. Templates are checked at
//!   save time on their literal start ([`check_link_template`]), and the
//!   rendered URL again before a message is stored ([`check_link`]).
//! - **Webhook targets** outside development may not name loopback,
//!   private, link-local, shared or cloud-metadata addresses
//!   ([`check_webhook_target`]), so an integration cannot be aimed at the
//!   platform's own network. The URL must be plain ASCII without `\` (so the
//!   host read here is the host a URL parser reads: no full-width digits, no
//!   ideographic dots, no backslash authority tricks, no percent-encoded
//!   host; IDN hosts in punycode);
//!   numeric hosts in any other form than dotted decimal are refused rather
//!   than decoded, and IPv6 forms that embed an IPv4 address are judged by it.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::environment::EnvironmentType;

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A scheme other than https (or http in development). The message
    /// never repeats it: a rendered link's "scheme" is whatever the template
    /// put before a colon (a recipient's email, a variable's value), and the
    /// message is stored in execution logs that members read.
    #[error("must be an https: URL{http} or a relative one", http = if *.allows_http { " (http: in development)" } else { "" })]
    Scheme {
        /// The scheme found.
        scheme: String,
        /// Whether http was allowed.
        allows_http: bool,
    },
    /// `//host/…`: another host, without saying how.
    #[error("must not be protocol-relative (//host); write https://host")]
    ProtocolRelative,
    /// Whitespace or control characters, which browsers strip or misread.
    #[error("must not contain spaces or control characters")]
    Characters,
    /// A webhook target in the platform's own network.
    #[error("must not point at a loopback, private, link-local or metadata address outside development ({0})")]
    PrivateAddress(String),
    /// A webhook URL that is not plain ASCII, or holds a backslash.
    #[error("must be plain ASCII without backslashes outside development (write IDN hosts in punycode)")]
    NotPlain,
    /// A character reference (`&#58;`, `&colon;`), which an HTML renderer would decode.
    #[error("must not contain HTML character references")]
    CharacterReference,
}

/// Whether links may use plain `http:` in an environment of `environment_type`.
pub fn allows_http(environment_type: EnvironmentType) -> bool {
    environment_type == EnvironmentType::Development
}

/// The scheme of `url` (lowercased), if it has one: the text before the
/// first `:` when no `/`, `?` or `#` comes earlier.
fn scheme(url: &str) -> Option<String> {
    let end = url.find([':', '/', '?', '#'])?;
    (url.as_bytes()[end] == b':').then(|| url[..end].to_ascii_lowercase())
}

/// Checks a rendered link: https, http where `allows_http`, or relative.
pub fn check_link(url: &str, allows_http: bool) -> Result<(), LinkError> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(LinkError::Characters);
    }
    if has_character_reference(url) {
        return Err(LinkError::CharacterReference);
    }
    if url.starts_with("//") || url.starts_with("\\\\") || url.starts_with("/\\") || url.starts_with("\\/") {
        return Err(LinkError::ProtocolRelative);
    }
    match scheme(url) {
        None => Ok(()),
        Some(scheme) if scheme == "https" || (scheme == "http" && allows_http) => Ok(()),
        Some(scheme) => Err(LinkError::Scheme { scheme, allows_http }),
    }
}

/// Checks a link template at save time: the literal text before its first
/// `{{` must not already be a refused link (`javascript:{{ x }}`). What a
/// variable supplies is checked once rendered. http is accepted here (the
/// environment that renders it decides).
pub fn check_link_template(template: &str) -> Result<(), LinkError> {
    let literal = template.split("{{").next().unwrap_or_default();
    if literal.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(LinkError::Characters);
    }
    if has_character_reference(literal) {
        return Err(LinkError::CharacterReference);
    }
    if ["//", "\\", "/\\", "\\/"].iter().any(|start| literal.starts_with(start)) {
        return Err(LinkError::ProtocolRelative);
    }
    if literal.len() < template.len() && scheme(literal).is_none() && !literal.contains(['/', '?', '#']) {
        // `{{ url }}` or `java{{ x }}`: the scheme is only known once rendered.
        return Ok(());
    }
    match scheme(literal) {
        None => Ok(()),
        Some(scheme) if scheme == "https" || scheme == "http" => Ok(()),
        Some(scheme) => Err(LinkError::Scheme { scheme, allows_http: true }),
    }
}

/// Checks a webhook URL's host for an environment of `environment_type`:
/// anything in development; elsewhere no loopback, private, link-local,
/// shared, unspecified or metadata address, and no numeric host that is not
/// dotted decimal.
pub fn check_webhook_target(url: &str, environment_type: EnvironmentType) -> Result<(), LinkError> {
    if environment_type == EnvironmentType::Development {
        return Ok(());
    }
    if !url.is_ascii() || url.contains('\\') {
        return Err(LinkError::NotPlain);
    }
    let host = host_of(url).to_ascii_lowercase();
    // A URL parser percent-decodes the host (`%31%32%37.0.0.1` is 127.0.0.1).
    if host.contains('%') {
        return Err(LinkError::NotPlain);
    }
    let refused = || Err(LinkError::PrivateAddress(host.clone()));
    let name = host.trim_end_matches('.');
    if name.is_empty()
        || name == "localhost"
        || name.ends_with(".localhost")
        || name.ends_with(".internal")
        || name.ends_with(".local")
        || name.ends_with(".svc")
        || name == "metadata"
        || name == "instance-data"
    {
        return refused();
    }
    if let Some(v6) = name.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        return match v6.parse::<Ipv6Addr>() {
            Ok(address) if is_public_v6(address) => Ok(()),
            _ => refused(),
        };
    }
    if let Ok(address) = name.parse::<Ipv4Addr>() {
        return if is_public_v4(address) { Ok(()) } else { refused() };
    }
    // 2130706433, 0x7f.1, 127.1, 0177.0.0.1: numeric hosts browsers and resolvers decode.
    let numeric = name
        .split('.')
        .all(|part| !part.is_empty() && (part.bytes().all(|b| b.is_ascii_digit()) || part.starts_with("0x")));
    if numeric {
        return refused();
    }
    Ok(())
}

/// The host of an absolute http(s) URL, port and user info removed.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if authority.starts_with('[') {
        return authority.split_once(']').map_or(authority, |(host, _)| &authority[..host.len() + 1]);
    }
    authority.split(':').next().unwrap_or_default()
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
    !(address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = address.segments();
    let first = segments[0];
    // IPv4-compatible (::a.b.c.d) and SIIT (::ffff:0:a.b.c.d) forms carry an IPv4 address.
    let embeds_v4 = segments[..5].iter().all(|segment| *segment == 0) && (segments[5] == 0 || segments[5] == 0xffff)
        || segments[..4].iter().all(|segment| *segment == 0) && segments[4] == 0xffff && segments[5] == 0;
    if embeds_v4 {
        let [.., a, b] = segments;
        return is_public_v4(Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8));
    }
    !(address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2002
        || first == 0x2001 && segments[1] == 0
        || first == 0x64 && segments[1] == 0xff9b)
}

/// Whether `text` holds an HTML character reference (`&#…` or `&name;`),
/// which an HTML renderer would decode into what the check did not see.
fn has_character_reference(text: &str) -> bool {
    text.match_indices('&').any(|(at, _)| {
        let rest = &text[at + 1..];
        if rest.starts_with('#') {
            return true;
        }
        let name_end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        name_end > 0 && rest[name_end..].starts_with(';')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use EnvironmentType::{Development, Production, Staging};

    #[test]
    fn links_are_https_relative_or_http_in_development() {
        for good in
            ["https://example.com/a", "HTTPS://example.com", "/orders/42", "orders/42?x=1#y", "?tab=2", "#top", ""]
        {
            assert_eq!(check_link(good, false), Ok(()), "{good}");
        }
        assert_eq!(check_link("http://localhost:3000/x", true), Ok(()));
        assert_eq!(check_link("https://shop.example/o?a=1&b=2", false), Ok(()));
        for bad in [
            "http://example.com",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>",
            "vbscript:x",
            "//evil.example/x",
            "\\\\evil.example",
            "/\\evil.example",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "mailto:x@y",
            "javascript&#58;alert(1)",
            "javascript&colon;alert(1)",
            "&#106;avascript:alert(1)",
            "&#x2F;/evil.com",
        ] {
            assert!(check_link(bad, false).is_err(), "{bad:?}");
        }
        assert!(check_link("javascript:alert(1)", true).is_err());
    }

    #[test]
    fn templates_are_refused_when_their_literal_start_already_is() {
        for good in [
            "{{ payload.url }}",
            "https://x/{{ id }}",
            "/orders/{{ id }}",
            "http://localhost/{{ x }}",
            "{{ a }}{{ b }}",
        ] {
            assert_eq!(check_link_template(good), Ok(()), "{good}");
        }
        for bad in [
            "javascript:{{ x }}",
            "data:text/html,{{ x }}",
            "//{{ host }}/x",
            "javascript:alert(1)",
            "\\\\evil.com/{{ x }}",
            "/\\evil.com",
            "\\/evil.com",
            "&#106;avascript:{{ x }}",
        ] {
            assert!(check_link_template(bad).is_err(), "{bad}");
        }
        // `java{{ x }}` may render `javascript:`: the rendered check catches it.
        assert_eq!(check_link_template("java{{ x }}"), Ok(()));
        assert!(check_link("javascript:alert(1)", false).is_err());
    }

    #[test]
    fn webhook_targets_stay_out_of_private_networks_outside_development() {
        for url in ["http://127.0.0.1:9/hook", "http://localhost/x", "http://[::1]/x", "http://192.168.1.2/x"] {
            assert_eq!(check_webhook_target(url, Development), Ok(()), "{url}");
        }
        for bad in [
            "http://127.0.0.1:9/hook",
            "http://localhost:8787/x",
            "http://api.localhost/x",
            "http://10.0.0.5/x",
            "http://172.16.3.4/x",
            "http://192.168.0.1/x",
            "http://169.254.169.254/latest/meta-data",
            "http://metadata.google.internal/computeMetadata",
            "http://100.64.0.1/x",
            "http://0.0.0.0/x",
            "http://[::1]/x",
            "http://[fd00::1]/x",
            "http://[fe80::1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://2130706433/x",
            "http://0x7f.0.0.1/x",
            "http://127.1/x",
            "http://user:pass@127.0.0.1/x",
            "https://LOCALHOST./x",
            "http://127.0.0.1:9911\\@evil.com/backslash",
            "http://１２７.０.０.１:9911/fullwidth",
            "http://127。0。0。1:9911/ideodot",
            "https://①②⑦.0.0.1/",
            "http://[::127.0.0.1]/x",
            "http://[::ffff:0:127.0.0.1]/x",
            "http://[2002:7f00:1::]/x",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
            "http://kubernetes.default.svc/x",
            "http://%31%32%37.0.0.1:8787/",
            "http://user@%6c%6f%63%61%6c%68%6f%73%74/",
        ] {
            assert!(check_webhook_target(bad, Staging).is_err(), "{bad}");
            assert!(check_webhook_target(bad, Production).is_err(), "{bad}");
        }
        for good in [
            "https://hooks.example.com/x",
            "https://203.0.114.7/x",
            "https://[2606:4700::1111]/x",
            "https://a.b.c:8443/x?y#z",
        ] {
            assert_eq!(check_webhook_target(good, Production), Ok(()), "{good}");
        }
    }
}
