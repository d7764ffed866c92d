//! Rate-limit tiers: which budget a request draws from, and how large it is.
//!
//! Budgets are counted by the platform (the Workers Rate Limiting binding
//! named by [`Tier::binding`]); the limits here must equal the bindings'
//! `simple = { limit, period }` in `wrangler.toml`, which a test checks.
//! Server routes count per secret key; feed routes, which every browser of
//! an app reaches with the same publishable key, count per subscriber.

/// A budget of requests per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// `POST /v1/events/trigger[/bulk]`, per secret key.
    Triggers,
    /// Every other secret-key route, per secret key.
    Management,
    /// Feed, preference and realtime routes, per subscriber of an environment.
    Feed,
}

impl Tier {
    /// Every tier, for documentation and tests.
    pub const ALL: [Tier; 3] = [Tier::Triggers, Tier::Management, Tier::Feed];

    /// The tier's name in `RateLimit-Policy` headers and errors.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Triggers => "triggers",
            Tier::Management => "management",
            Tier::Feed => "feed",
        }
    }

    /// The Rate Limiting binding that counts this tier.
    pub fn binding(self) -> &'static str {
        match self {
            Tier::Triggers => "RATE_LIMIT_TRIGGERS",
            Tier::Management => "RATE_LIMIT_MANAGEMENT",
            Tier::Feed => "RATE_LIMIT_FEED",
        }
    }

    /// Requests allowed per [`Tier::period_seconds`].
    pub fn limit(self) -> u32 {
        match self {
            Tier::Triggers => 1000,
            Tier::Management => 300,
            Tier::Feed => 100,
        }
    }

    /// The counting window: the binding accepts 10 or 60 seconds.
    pub fn period_seconds(self) -> u32 {
        10
    }

    /// The `RateLimit-Policy` header value (IETF httpapi-ratelimit-headers).
    pub fn policy_header(self) -> String {
        format!("\"{}\";q={};w={}", self.name(), self.limit(), self.period_seconds())
    }

    /// The `RateLimit` header value of a refused request: nothing left
    /// until the window ends.
    pub fn exhausted_header(self) -> String {
        format!("\"{}\";r=0;t={}", self.name(), self.period_seconds())
    }
}

/// The counter a request draws from: the tier and whose budget it is. The
/// environment is part of every counter, so environments never share one.
pub fn counter_key(tier: Tier, environment: &str, owner: &str) -> String {
    format!("{}:{environment}:{owner}", tier.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_the_ietf_draft() {
        assert_eq!(Tier::Feed.policy_header(), "\"feed\";q=100;w=10");
        assert_eq!(Tier::Triggers.exhausted_header(), "\"triggers\";r=0;t=10");
    }

    #[test]
    fn counters_are_per_environment_and_owner() {
        assert_ne!(counter_key(Tier::Feed, "staging", "ada"), counter_key(Tier::Feed, "production", "ada"));
        assert_ne!(counter_key(Tier::Feed, "staging", "ada"), counter_key(Tier::Management, "staging", "ada"));
    }

    #[test]
    fn periods_are_ones_the_binding_accepts() {
        assert!(Tier::ALL.iter().all(|tier| [10, 60].contains(&tier.period_seconds())));
    }
}
