//! Rate-limit tiers: which budget a request draws from, and how large it is.
//!
//! Budgets are counted by the platform (the Workers Rate Limiting binding
//! named by [`Tier::binding`]); [`Tier::draws_per_period`] and
//! [`Tier::period_seconds`] must equal the bindings' `simple = { limit,
//! period }` in `wrangler.toml`, which a test checks. Feed requests are
//! drawn in units of several requests ([`Ledger`]).
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
    /// Registry lookups of keys found in no cache, per client address: a
    /// flood of well-formed keys that were never issued cannot become a
    /// flood of database reads.
    KeyLookups,
}

impl Tier {
    /// Every tier, for documentation and tests.
    pub const ALL: [Tier; 4] = [Tier::Triggers, Tier::Management, Tier::Feed, Tier::KeyLookups];

    /// The tier's name in `RateLimit-Policy` headers and errors.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Triggers => "triggers",
            Tier::Management => "management",
            Tier::Feed => "feed",
            Tier::KeyLookups => "key_lookups",
        }
    }

    /// The Rate Limiting binding that counts this tier.
    pub fn binding(self) -> &'static str {
        match self {
            Tier::Triggers => "RATE_LIMIT_TRIGGERS",
            Tier::Management => "RATE_LIMIT_MANAGEMENT",
            Tier::Feed => "RATE_LIMIT_FEED",
            Tier::KeyLookups => "RATE_LIMIT_KEY_LOOKUPS",
        }
    }

    /// Requests allowed per [`Tier::period_seconds`].
    pub fn limit(self) -> u32 {
        match self {
            Tier::Triggers => 1000,
            Tier::Management => 300,
            Tier::Feed => 100,
            Tier::KeyLookups => 50,
        }
    }

    /// The counting window: the binding accepts 10 or 60 seconds.
    pub fn period_seconds(self) -> u32 {
        10
    }

    /// How many requests one draw from the binding pays for. Feed requests
    /// are drawn in units (see [`Ledger`]), so the binding counts units of
    /// this many requests; the other tiers draw once per request.
    pub fn requests_per_draw(self) -> u32 {
        match self {
            Tier::Feed => 10,
            Tier::Triggers | Tier::Management | Tier::KeyLookups => 1,
        }
    }

    /// The binding's `simple.limit`: draws allowed per period.
    pub fn draws_per_period(self) -> u32 {
        self.limit() / self.requests_per_draw()
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

/// What to do with one request of a tier drawn in units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Draw one unit from the binding, then [`Ledger::settle`] its outcome.
    Draw,
    /// Already paid for by an earlier draw of this isolate.
    Allow,
    /// A recent draw was refused: the budget is spent.
    Refuse,
}

/// One isolate's account of the units it drew, per counter.
///
/// A unit pays for [`Tier::requests_per_draw`] requests: the first request
/// of a counter draws, and the next ones until the unit is used up pass
/// without asking the binding. Every request that passes is covered by a
/// successful draw, and the binding allows [`Tier::draws_per_period`] draws,
/// so a counter never gets more than its [`Tier::limit`] per period (up to
/// a unit's worth more where a unit drawn late in one window is used in the
/// next). Where requests spread over several isolates, each starts its own
/// unit, so the limit is reached sooner, never later. After a refused draw
/// the isolate refuses the counter for a period without asking again.
#[derive(Debug, Default)]
pub struct Ledger {
    accounts: std::collections::HashMap<String, Account>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Account {
    /// Requests still paid for.
    paid: u32,
    /// Refused until this Unix millisecond.
    refused_until_ms: u64,
}

/// At most this many counters are remembered; a full ledger starts over
/// (which only makes the next request of each counter draw again).
const LEDGER_CAPACITY: usize = 4_096;

impl Ledger {
    /// Decides one request of `tier` on `counter` at `now_ms`. A
    /// [`Decision::Draw`] counts the unit as paid at once, so requests that
    /// arrive while the draw is under way pass on it.
    pub fn decide(&mut self, tier: Tier, counter: &str, now_ms: u64) -> Decision {
        let per_draw = tier.requests_per_draw();
        if per_draw <= 1 {
            return Decision::Draw;
        }
        if !self.accounts.contains_key(counter) {
            if self.accounts.len() >= LEDGER_CAPACITY {
                self.accounts.clear();
            }
            self.accounts.insert(counter.to_owned(), Account::default());
        }
        let Some(account) = self.accounts.get_mut(counter) else { unreachable!("inserted above") };
        if now_ms < account.refused_until_ms {
            return Decision::Refuse;
        }
        if account.paid > 0 {
            account.paid -= 1;
            return Decision::Allow;
        }
        account.paid = per_draw - 1;
        Decision::Draw
    }

    /// Records a draw's outcome: a refused draw takes back what it was
    /// counted to pay for and refuses the counter for a period.
    pub fn settle(&mut self, tier: Tier, counter: &str, allowed: bool, now_ms: u64) {
        if allowed || tier.requests_per_draw() <= 1 {
            return;
        }
        let account = self.accounts.entry(counter.to_owned()).or_default();
        account.paid = 0;
        account.refused_until_ms = now_ms + u64::from(tier.period_seconds()) * 1000;
    }
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
    fn a_feed_unit_pays_for_ten_requests() {
        let mut ledger = Ledger::default();
        let decisions: Vec<Decision> = (0..21).map(|_| ledger.decide(Tier::Feed, "feed:dev:ada", 0)).collect();
        use Decision::{Allow, Draw};
        let unit = [Draw, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow];
        assert_eq!(decisions, [&unit[..], &unit[..], &[Draw]].concat());
        assert_eq!(ledger.decide(Tier::Feed, "feed:dev:grace", 0), Draw, "counters are apart");
    }

    #[test]
    fn one_isolate_allows_exactly_the_limit() {
        let mut ledger = Ledger::default();
        let (mut draws, mut passed) = (0, 0);
        for _ in 0..200 {
            match ledger.decide(Tier::Feed, "c", 0) {
                Decision::Draw if draws < Tier::Feed.draws_per_period() => {
                    draws += 1;
                    passed += 1;
                }
                Decision::Draw => ledger.settle(Tier::Feed, "c", false, 0),
                Decision::Allow => passed += 1,
                Decision::Refuse => {}
            }
        }
        assert_eq!(passed, Tier::Feed.limit());
    }

    #[test]
    fn a_refused_draw_refuses_for_a_period_without_asking() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.decide(Tier::Feed, "c", 1_000), Decision::Draw);
        ledger.settle(Tier::Feed, "c", false, 1_000);
        assert_eq!(ledger.decide(Tier::Feed, "c", 1_001), Decision::Refuse, "the unit was taken back");
        assert_eq!(ledger.decide(Tier::Feed, "c", 10_999), Decision::Refuse);
        assert_eq!(ledger.decide(Tier::Feed, "c", 11_000), Decision::Draw);
    }

    #[test]
    fn other_tiers_draw_every_request() {
        let mut ledger = Ledger::default();
        assert!((0..5).all(|_| ledger.decide(Tier::Triggers, "c", 0) == Decision::Draw));
        ledger.settle(Tier::Management, "c", false, 0);
        assert_eq!(ledger.decide(Tier::Management, "c", 1), Decision::Draw);
        assert_eq!(Tier::Triggers.draws_per_period(), Tier::Triggers.limit());
    }

    #[test]
    fn a_full_ledger_starts_over() {
        let mut ledger = Ledger::default();
        for n in 0..LEDGER_CAPACITY {
            ledger.decide(Tier::Feed, &n.to_string(), 0);
        }
        assert_eq!(ledger.decide(Tier::Feed, "new", 0), Decision::Draw);
        assert_eq!(ledger.accounts.len(), 1);
    }

    #[test]
    fn limits_are_whole_units() {
        assert!(Tier::ALL.iter().all(|tier| tier.limit() % tier.requests_per_draw() == 0));
    }

    #[test]
    fn periods_are_ones_the_binding_accepts() {
        assert!(Tier::ALL.iter().all(|tier| [10, 60].contains(&tier.period_seconds())));
    }
}
