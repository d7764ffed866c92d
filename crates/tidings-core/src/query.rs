//! Decoding of URL query strings and path segments, without a URL parser.

/// Why a query string or path segment cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A `%` not followed by two hex digits.
    #[error("invalid percent-encoding")]
    Escape,
    /// The decoded bytes are not UTF-8.
    #[error("the decoded text is not valid UTF-8")]
    Utf8,
}

/// A page size from a query string: a whole number from 1 to 100, the
/// range every listing route accepts; `None` for anything else.
pub fn page_limit(value: &str) -> Option<u32> {
    value.parse().ok().filter(|limit| (1..=100).contains(limit))
}

/// Splits `raw` (the part after `?`, without `#`) into decoded pairs.
/// `+` means space in values, as HTML forms send it.
pub fn parse_pairs(raw: &str) -> Result<Vec<(String, String)>, QueryError> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode_form(name)?, decode_form(value)?))
        })
        .collect()
}

/// The path of a serialized URL (as the platform's `Request.url` gives it):
/// from the first `/` after the host to the query or fragment. WHATWG
/// serialization never leaves a special URL's path empty and always
/// percent-encodes `?` and `#` within it, so no parsing is needed.
pub fn path_of_url(url: &str) -> &str {
    let Some((_, after_scheme)) = url.split_once("://") else {
        return url.split(['?', '#']).next().unwrap_or_default();
    };
    match after_scheme.find('/') {
        Some(start) => after_scheme[start..].split(['?', '#']).next().unwrap_or("/"),
        None => "/",
    }
}

/// The query of a serialized URL: what follows `?`, without the fragment;
/// empty when there is none.
pub fn query_of_url(url: &str) -> &str {
    let without_fragment = url.split('#').next().unwrap_or_default();
    without_fragment.split_once('?').map(|(_, query)| query).unwrap_or_default()
}

/// Decodes a percent-encoded path segment (`+` stays `+`).
pub fn decode_segment(segment: &str) -> Result<String, QueryError> {
    decode(segment.as_bytes(), false)
}

fn decode_form(text: &str) -> Result<String, QueryError> {
    decode(text.as_bytes(), true)
}

fn decode(bytes: &[u8], plus_is_space: bool) -> Result<String, QueryError> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3).ok_or(QueryError::Escape)?;
                let digit = |byte: u8| char::from(byte).to_digit(16).ok_or(QueryError::Escape);
                out.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
                index += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limits_are_whole_numbers_from_1_to_100() {
        assert_eq!([page_limit("1"), page_limit("100"), page_limit("50")], [Some(1), Some(100), Some(50)]);
        for bad in ["0", "101", "-1", "1.5", "", "ten", " 5"] {
            assert_eq!(page_limit(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_url_splits_into_path_and_query() {
        let url = "https://api.example.com/v1/subscribers/ada%3F/feed?limit=20&after=x#top";
        assert_eq!(path_of_url(url), "/v1/subscribers/ada%3F/feed");
        assert_eq!(query_of_url(url), "limit=20&after=x");
        assert_eq!(path_of_url("http://127.0.0.1:8787/health"), "/health");
        assert_eq!(query_of_url("http://127.0.0.1:8787/health"), "");
        assert_eq!(path_of_url("http://127.0.0.1:8787"), "/");
        assert_eq!(path_of_url("http://127.0.0.1:8787?x=1"), "/");
        assert_eq!(query_of_url("http://127.0.0.1:8787/a#b?c"), "");
        assert_eq!(path_of_url("/relative?x"), "/relative");
    }

    #[test]
    fn decodes_pairs() {
        let pairs = parse_pairs("limit=5&data.name=Ada+L%C3%BCb&flag&&x=").unwrap();
        let expected = [("limit", "5"), ("data.name", "Ada Lüb"), ("flag", ""), ("x", "")];
        assert_eq!(pairs, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
        assert_eq!(parse_pairs(""), Ok(vec![]));
    }

    #[test]
    fn refuses_bad_escapes() {
        assert_eq!(parse_pairs("a=%zz"), Err(QueryError::Escape));
        assert_eq!(parse_pairs("a=%4"), Err(QueryError::Escape));
        assert_eq!(parse_pairs("a=%ff"), Err(QueryError::Utf8));
        assert_eq!(decode_segment("ada%40example.com+x"), Ok("ada@example.com+x".to_owned()));
    }
}
