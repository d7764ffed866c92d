//! Restricted secret keys: what a secret key may do. A key issued without
//! scopes has full access (every secret-key route); a key issued with
//! scopes opens only the routes whose declared scope it holds. Scopes are
//! exact: `subscribers:write` does not imply `subscribers:read`, so a key
//! says in full what it can do. They are fixed when the key is issued
//! (regenerating a key is how they change).

use std::collections::BTreeSet;
use std::fmt;

/// Defines [`KeyScope`] from one list of variants and their wire names.
macro_rules! key_scopes {
    ($($(#[$doc:meta])* $variant:ident => $wire:literal,)*) => {
        /// One thing a restricted secret key may be allowed to do. Every
        /// secret-key route declares exactly one (`x-tidings-scope`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KeyScope {
            $($(#[$doc])* $variant,)*
        }

        impl KeyScope {
            /// Every scope, in wire order.
            pub const ALL: &'static [KeyScope] = &[$(KeyScope::$variant,)*];

            /// The wire name, e.g. `subscribers:read`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(KeyScope::$variant => $wire,)*
                }
            }

            /// The scope named `text`, if there is one.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($wire => Some(KeyScope::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

key_scopes! {
    /// `POST /v1/events/trigger` and its bulk form.
    Trigger => "trigger",
    /// Read subscribers and their preferences.
    SubscribersRead => "subscribers:read",
    /// Create, update and delete subscribers; change their preferences.
    SubscribersWrite => "subscribers:write",
    /// Read any subscriber's feed, counts and changes; open its stream.
    FeedRead => "feed:read",
    /// Act on any subscriber's feed (read, unread, archive…).
    FeedWrite => "feed:write",
    /// Read workflows, variables, brand and default preferences.
    ContentRead => "content:read",
    /// Change workflows, variables, brand and default preferences.
    ContentWrite => "content:write",
    /// Read integrations (their secrets are never shown).
    IntegrationsRead => "integrations:read",
    /// Create, change and delete integrations.
    IntegrationsWrite => "integrations:write",
    /// Read the execution logs.
    LogsRead => "logs:read",
    /// Read webhook deliveries.
    DeliveriesRead => "deliveries:read",
    /// Replay webhook deliveries.
    DeliveriesWrite => "deliveries:write",
    /// Read and list files; sign their URLs.
    FilesRead => "files:read",
    /// Upload and delete files.
    FilesWrite => "files:write",
    /// Mint and revoke subscriber tokens.
    TokensMint => "tokens:mint",
}

impl KeyScope {
    /// Whether the scope changes anything (feed routes need a write
    /// credential then).
    pub fn is_write(self) -> bool {
        !self.as_str().ends_with(":read")
    }
}

impl fmt::Display for KeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a secret key may do: everything, or exactly the listed scopes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyScopes(Option<BTreeSet<KeyScope>>);

/// Why a requested list of scopes was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyScopeError {
    /// An empty list: a key that may do nothing is a mistake (omit
    /// `scopes` for full access).
    #[error("a key needs at least one scope; omit `scopes` for a key with full access")]
    Empty,
    /// A name that is not a scope.
    #[error("unknown scope {0:?}; scopes are {known}", known = known_scopes())]
    Unknown(String),
    /// Scopes on a publishable key, which opens only the feed routes.
    #[error("only secret keys take scopes; a publishable key opens only subscribers' own feeds")]
    Publishable,
}

fn known_scopes() -> String {
    KeyScope::ALL.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(", ")
}

impl KeyScopes {
    /// Full access: every secret-key route.
    pub fn full() -> Self {
        KeyScopes(None)
    }

    /// Exactly `scopes`.
    pub fn only(scopes: impl IntoIterator<Item = KeyScope>) -> Self {
        KeyScopes(Some(scopes.into_iter().collect()))
    }

    /// The scopes a key is issued with: `None` (the field omitted) for full
    /// access, else a non-empty list of known names (repeats are one).
    pub fn requested(names: Option<&[String]>) -> Result<Self, KeyScopeError> {
        let Some(names) = names else { return Ok(KeyScopes::full()) };
        if names.is_empty() {
            return Err(KeyScopeError::Empty);
        }
        let scopes = names
            .iter()
            .map(|name| KeyScope::parse(name).ok_or_else(|| KeyScopeError::Unknown(name.clone())))
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(KeyScopes(Some(scopes)))
    }

    /// Reads the stored form ([`KeyScopes::stored`]). A name this version
    /// does not know grants nothing: a stored restriction never widens.
    pub fn from_stored(stored: Option<&str>) -> Self {
        match stored {
            None => KeyScopes::full(),
            Some(text) => KeyScopes(Some(text.split(',').filter_map(KeyScope::parse).collect())),
        }
    }

    /// The stored form: `None` for full access, else the names joined by commas.
    pub fn stored(&self) -> Option<String> {
        self.names().map(|names| names.join(","))
    }

    /// The scopes' names in wire order; `None` for full access.
    pub fn names(&self) -> Option<Vec<String>> {
        self.0.as_ref().map(|scopes| scopes.iter().map(|scope| scope.as_str().to_owned()).collect())
    }

    /// Whether the key has full access.
    pub fn is_full(&self) -> bool {
        self.0.is_none()
    }

    /// Whether a route that declares `scope` opens with this key: a key
    /// with full access opens every route, a restricted one only those
    /// whose scope it lists.
    pub fn permits(&self, scope: KeyScope) -> bool {
        match &self.0 {
            None => true,
            Some(scopes) => scopes.contains(&scope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn names_round_trip_and_reads_are_not_writes() {
        for scope in KeyScope::ALL {
            assert_eq!(KeyScope::parse(scope.as_str()), Some(*scope));
            assert_eq!(scope.is_write(), !scope.as_str().ends_with(":read"));
        }
        assert!(KeyScope::Trigger.is_write());
        assert!(!KeyScope::FeedRead.is_write());
        assert_eq!(KeyScope::parse("subscribers"), None);
    }

    #[test]
    fn omitted_scopes_mean_full_access_and_an_empty_list_is_refused() {
        assert_eq!(KeyScopes::requested(None), Ok(KeyScopes::full()));
        assert_eq!(KeyScopes::requested(Some(&[])), Err(KeyScopeError::Empty));
        assert_eq!(
            KeyScopes::requested(Some(&names(&["trigger", "admin"]))),
            Err(KeyScopeError::Unknown("admin".into()))
        );
        let repeated = KeyScopes::requested(Some(&names(&["trigger", "trigger", "feed:read"]))).unwrap();
        assert_eq!(repeated.names(), Some(names(&["trigger", "feed:read"])));
    }

    #[test]
    fn write_never_implies_read() {
        let writer = KeyScopes::only([KeyScope::SubscribersWrite]);
        assert!(writer.permits(KeyScope::SubscribersWrite));
        assert!(!writer.permits(KeyScope::SubscribersRead));
    }

    #[test]
    fn an_unknown_stored_name_grants_nothing() {
        let stored = KeyScopes::from_stored(Some("trigger,everything"));
        assert_eq!(stored, KeyScopes::only([KeyScope::Trigger]));
        assert!(!KeyScopes::from_stored(Some("everything")).permits(KeyScope::Trigger));
        assert!(!KeyScopes::from_stored(Some("")).is_full());
    }

    fn any_scopes() -> impl Strategy<Value = Vec<KeyScope>> {
        prop::collection::vec(prop::sample::select(KeyScope::ALL.to_vec()), 1..6)
    }

    proptest! {
        /// A restricted key opens exactly the routes of its scopes, and its
        /// stored form reads back as the same restriction.
        #[test]
        fn a_restricted_key_opens_exactly_its_scopes(granted in any_scopes(), asked in prop::sample::select(KeyScope::ALL.to_vec())) {
            let scopes = KeyScopes::only(granted.iter().copied());
            prop_assert_eq!(scopes.permits(asked), granted.contains(&asked));
            prop_assert!(KeyScopes::full().permits(asked));
            let stored = scopes.stored();
            prop_assert_eq!(KeyScopes::from_stored(stored.as_deref()), scopes);
        }
    }
}
