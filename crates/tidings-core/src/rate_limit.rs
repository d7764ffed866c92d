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

/// One draw from the binding, named so that the requests waiting on it find
/// its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnitId(u64);

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Draw one unit from the binding, pass if it is granted, then
    /// [`Ledger::settle`] its outcome.
    Draw(UnitId),
    /// Wait for the outcome of that unit, which another request is drawing,
    /// and pass only if it is granted.
    Join(UnitId),
    /// Already paid for by a unit this isolate was granted.
    Allow,
    /// Already paid for, and the places paid for run low: draw the next
    /// unit ahead (all its places open to the requests after this one),
    /// then [`Ledger::settle`] it. This request passes whatever the answer.
    Refill(UnitId),
    /// A recent draw was refused: the budget is spent.
    Refuse,
}

/// The binding's answer to one draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The unit is paid for.
    Granted,
    /// The budget is spent.
    Refused,
    /// The binding failed to answer: the requests that took part pass, as
    /// the platform lets them, and nothing more is paid for.
    Failed,
}

/// One isolate's account of the units it drew, per counter.
///
/// A unit pays for [`Tier::requests_per_draw`] requests: the first request
/// of a counter draws, the next ones join that draw and wait for its
/// outcome until the unit is spoken for, and the places of a granted unit
/// that no request took pay for the next requests without asking the
/// binding; once fewer than half a unit's places are left, the next unit is
/// drawn ahead, so a steady stream of requests rarely waits. Every request
/// that passes is covered by a granted draw, also when many arrive at once,
/// and the binding grants [`Tier::draws_per_period`] draws, so a counter
/// never gets more than its [`Tier::limit`] per period (plus up to one and
/// a half units' places granted in an earlier window and used in this one).
/// Where requests spread over several isolates, each starts its own unit,
/// so the limit is reached sooner, never later. After a refused draw the
/// isolate passes the places already paid for, then refuses the counter for
/// a period without asking again.
#[derive(Debug, Default)]
pub struct Ledger {
    accounts: std::collections::HashMap<String, Account>,
    next_unit: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Account {
    /// Requests paid for by granted units.
    paid: u32,
    /// The unit being drawn, and how many more requests may join it.
    drawing: Option<(UnitId, u32)>,
    /// Refused until this Unix millisecond.
    refused_until_ms: u64,
}

/// At most this many counters are remembered. A full ledger forgets the
/// counters that are neither refused nor being drawn (which only makes
/// their next request draw again); refusals are kept.
const LEDGER_CAPACITY: usize = 4_096;

impl Ledger {
    /// Decides one request of `tier` on `counter` at `now_ms`.
    pub fn decide(&mut self, tier: Tier, counter: &str, now_ms: u64) -> Decision {
        let unit = UnitId(self.next_unit);
        let per_draw = tier.requests_per_draw();
        if per_draw <= 1 {
            self.next_unit += 1;
            return Decision::Draw(unit);
        }
        if !self.accounts.contains_key(counter) {
            self.make_room(now_ms);
            self.accounts.insert(counter.to_owned(), Account::default());
        }
        let Some(account) = self.accounts.get_mut(counter) else { unreachable!("inserted above") };
        let refused = now_ms < account.refused_until_ms;
        if account.paid > 0 {
            account.paid -= 1;
            // Below half a unit, the next one is drawn while these places last: requests find
            // places paid for instead of waiting for a draw.
            if !refused && account.drawing.is_none() && account.paid < per_draw / 2 {
                account.drawing = Some((unit, per_draw));
                self.next_unit += 1;
                return Decision::Refill(unit);
            }
            return Decision::Allow;
        }
        if refused {
            return Decision::Refuse;
        }
        if let Some((drawing, open)) = account.drawing.as_mut().filter(|(_, open)| *open > 0) {
            *open -= 1;
            return Decision::Join(*drawing);
        }
        account.drawing = Some((unit, per_draw - 1));
        self.next_unit += 1;
        Decision::Draw(unit)
    }

    /// Records the binding's `answer` for `unit`, drawn for `counter`: a
    /// granted unit's places that no request joined are paid for; a refused
    /// one refuses the counter for a period; a failed one pays for nothing
    /// more (the requests that took part pass, as the platform lets them).
    pub fn settle(&mut self, tier: Tier, counter: &str, unit: UnitId, answer: Answer, now_ms: u64) {
        let Some(account) = self.accounts.get_mut(counter) else { return };
        if let Some((drawing, open)) = account.drawing {
            if drawing == unit {
                account.drawing = None;
                if answer == Answer::Granted {
                    account.paid += open;
                }
            }
        }
        if answer == Answer::Refused {
            // Places already paid for still pass; no unit is drawn until the period ends.
            account.refused_until_ms = now_ms + u64::from(tier.period_seconds()) * 1000;
        }
    }

    /// Forgets the counters that are neither refused nor being drawn when
    /// the ledger is full; all of them if that is not enough.
    fn make_room(&mut self, now_ms: u64) {
        if self.accounts.len() < LEDGER_CAPACITY {
            return;
        }
        self.accounts.retain(|_, account| account.refused_until_ms > now_ms || account.drawing.is_some());
        if self.accounts.len() >= LEDGER_CAPACITY {
            self.accounts.clear();
        }
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

    /// Decides `count` requests of `counter` one after another, each draw
    /// answered before the next request (granted while `grant` says so, by
    /// the number of draws before it); with whether each request passed.
    fn one_by_one(
        ledger: &mut Ledger,
        counter: &str,
        count: usize,
        grant: impl Fn(u32) -> bool,
    ) -> Vec<(Decision, bool)> {
        let mut draws = 0;
        (0..count)
            .map(|_| {
                let decision = ledger.decide(Tier::Feed, counter, 0);
                let passed = match decision {
                    Decision::Draw(unit) | Decision::Refill(unit) => {
                        let answer = if grant(draws) { Answer::Granted } else { Answer::Refused };
                        draws += 1;
                        ledger.settle(Tier::Feed, counter, unit, answer, 0);
                        answer == Answer::Granted || matches!(decision, Decision::Refill(_))
                    }
                    Decision::Allow => true,
                    Decision::Join(_) | Decision::Refuse => false,
                };
                (decision, passed)
            })
            .collect()
    }

    fn is_draw(decision: &Decision) -> bool {
        matches!(decision, Decision::Draw(_))
    }

    /// The first request of counter `c` draws a unit, and the next joins it.
    fn draw_and_join(ledger: &mut Ledger, now_ms: u64) -> UnitId {
        let Decision::Draw(unit) = ledger.decide(Tier::Feed, "c", now_ms) else { panic!("the first request draws") };
        assert_eq!(ledger.decide(Tier::Feed, "c", now_ms), Decision::Join(unit));
        unit
    }

    fn asks_binding(decision: &Decision) -> bool {
        matches!(decision, Decision::Draw(_) | Decision::Refill(_))
    }

    #[test]
    fn a_feed_unit_pays_for_ten_requests_and_the_next_is_drawn_ahead() {
        let mut ledger = Ledger::default();
        let decided = one_by_one(&mut ledger, "feed:dev:ada", 105, |_| true);
        let asked: Vec<usize> =
            decided.iter().enumerate().filter(|(_, (d, _))| asks_binding(d)).map(|(i, _)| i).collect();
        // The first request draws; from then on the next unit is drawn when fewer than five places are left.
        assert_eq!(asked, [0, 5, 15, 25, 35, 45, 55, 65, 75, 85, 95]);
        assert!(decided.iter().all(|(decision, passed)| *passed && !matches!(decision, Decision::Join(_))));
        assert!(is_draw(&ledger.decide(Tier::Feed, "feed:dev:grace", 0)), "counters are apart");
    }

    #[test]
    fn one_isolate_allows_exactly_the_limit() {
        let mut ledger = Ledger::default();
        let granted = Tier::Feed.draws_per_period();
        let decided = one_by_one(&mut ledger, "c", 200, |draws| draws < granted);
        assert_eq!(decided.iter().filter(|(_, passed)| *passed).count(), Tier::Feed.limit() as usize);
        assert_eq!(decided[199].0, Decision::Refuse);
    }

    #[test]
    fn a_refused_refill_leaves_the_places_already_paid_for() {
        let mut ledger = Ledger::default();
        let decided = one_by_one(&mut ledger, "c", 20, |draws| draws < 1);
        assert!(matches!(decided[5].0, Decision::Refill(_)), "the unit drawn ahead");
        let passed: Vec<bool> = decided.iter().map(|(_, passed)| *passed).collect();
        assert_eq!(passed, [[true; 10], [false; 10]].concat(), "one granted unit: ten requests");
    }

    #[test]
    fn requests_at_once_wait_for_their_unit_and_never_pass_unpaid() {
        // A thousand requests arrive before any draw is answered: each joins a unit being
        // drawn (ten to a unit) instead of passing on it.
        let mut ledger = Ledger::default();
        let decisions: Vec<Decision> = (0..1_000).map(|_| ledger.decide(Tier::Feed, "c", 0)).collect();
        assert!(!decisions.contains(&Decision::Allow), "nothing passes before a unit is granted");
        let units: Vec<UnitId> =
            decisions.iter().filter_map(|d| if let Decision::Draw(unit) = d { Some(*unit) } else { None }).collect();
        assert_eq!(units.len(), 100);
        // The binding grants the budget's draws and refuses the rest.
        let granted: Vec<UnitId> = units.iter().copied().take(Tier::Feed.draws_per_period() as usize).collect();
        for unit in &units {
            ledger.settle(
                Tier::Feed,
                "c",
                *unit,
                if granted.contains(unit) { Answer::Granted } else { Answer::Refused },
                0,
            );
        }
        let passed = decisions
            .iter()
            .filter(|d| match d {
                Decision::Draw(unit) | Decision::Join(unit) => granted.contains(unit),
                _ => false,
            })
            .count();
        assert_eq!(passed, Tier::Feed.limit() as usize);
        assert_eq!(ledger.decide(Tier::Feed, "c", 1), Decision::Refuse);
    }

    #[test]
    fn a_granted_unit_pays_for_its_places_nobody_joined() {
        let mut ledger = Ledger::default();
        let unit = draw_and_join(&mut ledger, 0);
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Join(unit));
        ledger.settle(Tier::Feed, "c", unit, Answer::Granted, 0);
        // Ten places: the drawer, two that joined, seven paid for; the fifth from last draws ahead.
        let next: Vec<Decision> = (0..7).map(|_| ledger.decide(Tier::Feed, "c", 0)).collect();
        assert!(next.iter().all(|d| matches!(d, Decision::Allow | Decision::Refill(_))));
        assert_eq!(next.iter().filter(|d| matches!(d, Decision::Refill(_))).count(), 1);
        let Some(Decision::Refill(ahead)) = next.iter().find(|d| matches!(d, Decision::Refill(_))).copied() else {
            panic!("a unit drawn ahead")
        };
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Join(ahead), "its places are open to the next");
    }

    #[test]
    fn requests_joining_a_unit_drawn_ahead_share_its_answer() {
        let mut ledger = Ledger::default();
        let Decision::Draw(first) = ledger.decide(Tier::Feed, "c", 0) else { panic!("the first request draws") };
        ledger.settle(Tier::Feed, "c", first, Answer::Granted, 0);
        let paid: Vec<Decision> = (0..9).map(|_| ledger.decide(Tier::Feed, "c", 0)).collect();
        let Some(Decision::Refill(ahead)) = paid.get(4).copied() else { panic!("the fifth paid place draws ahead") };
        assert!(paid.iter().enumerate().all(|(i, d)| i == 4 || *d == Decision::Allow));
        // The unit drawn ahead is still under way when the paid places run out.
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Join(ahead));
        ledger.settle(Tier::Feed, "c", ahead, Answer::Refused, 0);
        assert_eq!(ledger.decide(Tier::Feed, "c", 1), Decision::Refuse, "nothing left, and refused");
    }

    #[test]
    fn a_failed_draw_pays_for_nothing_more() {
        let mut ledger = Ledger::default();
        let unit = draw_and_join(&mut ledger, 0);
        ledger.settle(Tier::Feed, "c", unit, Answer::Failed, 0);
        assert!(is_draw(&ledger.decide(Tier::Feed, "c", 0)), "the next request asks the binding again");
    }

    #[test]
    fn a_late_answer_for_an_older_unit_leaves_the_current_one() {
        let mut ledger = Ledger::default();
        let decisions: Vec<Decision> = (0..11).map(|_| ledger.decide(Tier::Feed, "c", 0)).collect();
        let (Decision::Draw(first), Decision::Draw(second)) = (decisions[0], decisions[10]) else {
            panic!("a unit of ten, then the next")
        };
        ledger.settle(Tier::Feed, "c", first, Answer::Granted, 0);
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Join(second), "the first unit's places were all taken");
    }

    #[test]
    fn a_refused_draw_refuses_for_a_period_without_asking() {
        let mut ledger = Ledger::default();
        let unit = draw_and_join(&mut ledger, 1_000);
        ledger.settle(Tier::Feed, "c", unit, Answer::Refused, 1_000);
        assert_eq!(ledger.decide(Tier::Feed, "c", 1_001), Decision::Refuse, "the unit's places were not paid for");
        assert_eq!(ledger.decide(Tier::Feed, "c", 10_999), Decision::Refuse);
        assert!(is_draw(&ledger.decide(Tier::Feed, "c", 11_000)));
    }

    #[test]
    fn other_tiers_draw_every_request() {
        let mut ledger = Ledger::default();
        let decisions: Vec<Decision> = (0..5).map(|_| ledger.decide(Tier::Triggers, "c", 0)).collect();
        assert!(decisions.iter().all(is_draw));
        assert_eq!(decisions.iter().collect::<std::collections::HashSet<_>>().len(), 5, "each its own draw");
        if let Decision::Draw(unit) = ledger.decide(Tier::Management, "c", 0) {
            ledger.settle(Tier::Management, "c", unit, Answer::Refused, 0);
        }
        assert!(is_draw(&ledger.decide(Tier::Management, "c", 1)), "the binding alone refuses them");
        assert_eq!(Tier::Triggers.draws_per_period(), Tier::Triggers.limit());
    }

    #[test]
    fn a_full_ledger_forgets_counters_but_keeps_refusals() {
        let mut ledger = Ledger::default();
        let Decision::Draw(unit) = ledger.decide(Tier::Feed, "spent", 0) else { panic!("the first request draws") };
        ledger.settle(Tier::Feed, "spent", unit, Answer::Refused, 0);
        for n in 1..LEDGER_CAPACITY {
            let counter = n.to_string();
            if let Decision::Draw(unit) = ledger.decide(Tier::Feed, &counter, 0) {
                ledger.settle(Tier::Feed, &counter, unit, Answer::Granted, 0);
            }
        }
        assert!(is_draw(&ledger.decide(Tier::Feed, "new", 0)));
        assert_eq!(ledger.accounts.len(), 2, "the refused counter and the new one");
        assert_eq!(ledger.decide(Tier::Feed, "spent", 1), Decision::Refuse, "a full ledger does not lift a refusal");
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
