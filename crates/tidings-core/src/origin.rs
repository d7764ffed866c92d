//! Which browser origins may use an environment's publishable key.

use crate::environment::EnvironmentType;

/// Whether a browser page at `origin` may call an environment's feed API.
///
/// Development environments accept any page served from this machine
/// (`localhost`, `127.0.0.1`, `[::1]`, any port); every environment also
/// accepts the origins in its allow-list, compared exactly.
pub fn is_allowed(origin: &str, environment_type: EnvironmentType, allow_list: &[String]) -> bool {
    if allow_list.iter().any(|allowed| allowed == origin || allowed == "*") {
        return true;
    }
    environment_type == EnvironmentType::Development && is_loopback(origin)
}

fn is_loopback(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else {
        return false;
    };
    let host = if rest.starts_with('[') {
        rest.split_inclusive(']').next().unwrap_or(rest)
    } else {
        rest.split(':').next().unwrap_or(rest)
    };
    let port_ok = match rest[host.len()..].strip_prefix(':') {
        None => rest.len() == host.len(),
        Some(port) => !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()),
    };
    port_ok && matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_accepts_loopback_pages_only() {
        let dev = EnvironmentType::Development;
        for origin in ["http://localhost:5173", "http://127.0.0.1:8788", "https://localhost", "http://[::1]:3000"] {
            assert!(is_allowed(origin, dev, &[]), "{origin}");
        }
        for origin in
            ["http://localhost.evil.com", "http://127.0.0.1.nip.io", "https://example.com", "null", "http://localhost:"]
        {
            assert!(!is_allowed(origin, dev, &[]), "{origin}");
        }
    }

    #[test]
    fn other_environments_need_the_allow_list() {
        let list = vec!["https://app.example.com".to_owned()];
        assert!(!is_allowed("http://localhost:5173", EnvironmentType::Production, &[]));
        assert!(is_allowed("https://app.example.com", EnvironmentType::Production, &list));
        assert!(!is_allowed("https://app.example.com.evil", EnvironmentType::Staging, &list));
    }
}
