//! Per-environment settings a team can change.

/// The longest display label.
pub const MAX_LABEL_LEN: usize = 40;
/// The most origins an allow-list may hold.
pub const MAX_ALLOWED_ORIGINS: usize = 50;

/// Why a settings change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The label is empty or too long.
    #[error("label must be 1 to {MAX_LABEL_LEN} characters")]
    Label,
    /// The colour is not `#rrggbb`.
    #[error("colour must be a hex colour such as #3b5bdb")]
    Colour,
    /// Too many allowed origins.
    #[error("allowed_origins may hold at most {MAX_ALLOWED_ORIGINS} origins")]
    TooManyOrigins,
    /// An origin is not `scheme://host[:port]`.
    #[error("allowed_origins.{index} is not an origin like https://app.example.com (scheme, host, optional port, nothing else)")]
    Origin {
        /// Position in the list.
        index: usize,
    },
}

impl SettingsError {
    /// The request field at fault.
    pub fn field(&self) -> String {
        match self {
            Self::Label => "label".to_owned(),
            Self::Colour => "colour".to_owned(),
            Self::TooManyOrigins => "allowed_origins".to_owned(),
            Self::Origin { index } => format!("allowed_origins.{index}"),
        }
    }
}

/// Checks a display label.
pub fn validate_label(label: &str) -> Result<(), SettingsError> {
    let length = label.chars().count();
    if length == 0 || length > MAX_LABEL_LEN || label.chars().any(char::is_control) {
        return Err(SettingsError::Label);
    }
    Ok(())
}

/// Checks a `#rrggbb` colour.
pub fn validate_colour(colour: &str) -> Result<(), SettingsError> {
    let valid = colour.len() == 7 && colour.starts_with('#') && colour[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if valid {
        Ok(())
    } else {
        Err(SettingsError::Colour)
    }
}

/// Checks a browser-origin allow-list: exact origins, as browsers send them.
pub fn validate_origins(origins: &[String]) -> Result<(), SettingsError> {
    if origins.len() > MAX_ALLOWED_ORIGINS {
        return Err(SettingsError::TooManyOrigins);
    }
    for (index, origin) in origins.iter().enumerate() {
        if !is_origin(origin) {
            return Err(SettingsError::Origin { index });
        }
    }
    Ok(())
}

fn is_origin(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")) else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
        && !host.bytes().any(|b| b.is_ascii_uppercase());
    let port_ok =
        port.is_none_or(|port| !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_colours() {
        assert_eq!(validate_label("QA (shared)"), Ok(()));
        assert_eq!(validate_label(""), Err(SettingsError::Label));
        assert_eq!(validate_label(&"x".repeat(41)), Err(SettingsError::Label));
        assert_eq!(validate_colour("#3B5bdb"), Ok(()));
        for bad in ["3b5bdb", "#3b5bd", "#3b5bdz", "red"] {
            assert_eq!(validate_colour(bad), Err(SettingsError::Colour), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let good = ["https://app.example.com", "http://localhost:5173", "http://[::1]:8080", "https://a-b.c"];
        assert_eq!(validate_origins(&good.map(String::from)), Ok(()));
        for (bad, index) in [
            ("https://app.example.com/", 0),
            ("app.example.com", 0),
            ("https://", 0),
            ("https://a.com:x", 0),
            ("https://A.com", 0),
            ("ftp://a.com", 0),
        ] {
            assert_eq!(validate_origins(&[bad.to_owned()]), Err(SettingsError::Origin { index }), "{bad}");
        }
        let many = vec!["https://a.com".to_owned(); 51];
        assert_eq!(validate_origins(&many), Err(SettingsError::TooManyOrigins));
    }
}
