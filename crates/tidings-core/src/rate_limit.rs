//! Rate-limit tiers: which budget a request draws from, and how large it is.
//!
//! Budgets are counted by the platform (the Workers Rate Limiting bindings
//! named by [`Tier::binding`] and [`Units::binding`]); [`Tier::draws_per_period`],
//! [`Units::per_period`] and [`Tier::period_seconds`] must equal the
//! bindings' `simple = { limit, period }` in `wrangler.toml`
//! (`tests/rate-limits.test.mjs` checks each tier's bindings and their sum
//! against the budget its 429 states). A subscriber's fast feed requests
//! are drawn in units of many requests ([`Ledger`]).
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

    /// Where the tier also draws units of many requests at once, for an
    /// owner whose requests come fast (see [`Ledger`]); `None` where every
    /// request is one draw from [`Tier::binding`].
    pub fn units(self) -> Option<Units> {
        match self {
            Tier::Feed => Some(Units { binding: "RATE_LIMIT_FEED_UNITS", requests: 50, per_period: 1 }),
            Tier::Triggers | Tier::Management | Tier::KeyLookups => None,
        }
    }

    /// The binding's `simple.limit`: single requests [`Tier::binding`]
    /// allows per period, the part of [`Tier::limit`] its units leave.
    pub fn draws_per_period(self) -> u32 {
        self.limit() - self.units().map_or(0, |units| units.requests * units.per_period)
    }

    /// The `RateLimit-Policy` header value (IETF httpapi-ratelimit-headers).
    pub fn policy_header(self) -> String {
        format!("\"{}\";q={};w={}", self.name(), self.limit(), self.period_seconds())
    }

    /// The `RateLimit` header value of a request refused at `now_ms`:
    /// nothing left until the window ends, [`Tier::seconds_left`] away.
    pub fn exhausted_header(self, now_ms: u64) -> String {
        format!("\"{}\";r=0;t={}", self.name(), self.seconds_left(now_ms))
    }

    /// When the counting window that `now_ms` falls in ends, in Unix
    /// milliseconds. Windows are aligned to the clock, as the binding's are
    /// locally (Cloudflare does not document where its windows start).
    pub fn window_end_ms(self, now_ms: u64) -> u64 {
        (window_of(self, now_ms) + 1) * self.period_ms()
    }

    /// Whole seconds from `now_ms` to the end of its window, rounded up
    /// (1 to [`Tier::period_seconds`]): a refusal's `Retry-After`.
    pub fn seconds_left(self, now_ms: u64) -> u32 {
        let seconds = (self.window_end_ms(now_ms) - now_ms).div_ceil(1000);
        u32::try_from(seconds).unwrap_or(u32::MAX).clamp(1, self.period_seconds())
    }

    /// [`Tier::period_seconds`] in milliseconds.
    fn period_ms(self) -> u64 {
        u64::from(self.period_seconds()) * 1000
    }
}

/// The counter a request draws from: the tier and whose budget it is. The
/// environment is part of every counter, so environments never share one.
pub fn counter_key(tier: Tier, environment: &str, owner: &str) -> String {
    format!("{}:{environment}:{owner}", tier.name())
}

/// A tier's units: draws from a binding of their own, each paying for many
/// requests of one owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    /// The Rate Limiting binding that counts the units.
    pub binding: &'static str,
    /// Requests one unit pays for.
    pub requests: u32,
    /// Units the binding grants per period (its `simple.limit`).
    pub per_period: u32,
}

/// One unit being drawn, named so that the requests waiting on it find its
/// outcome, with the counting window it was decided in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnitId {
    id: u64,
    window: u64,
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Draw this request alone from [`Tier::binding`], pass if it is
    /// granted, then [`Ledger::settle_single`] the answer with the time of
    /// this decision.
    Single,
    /// Draw one unit from [`Units::binding`], pass if it is granted, then
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
    /// Both kinds of draw were refused in this window (units also where
    /// one failed): the budget is spent.
    Refuse,
}

/// The binding's answer to one draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The draw is paid for.
    Granted,
    /// That binding's part of the budget is spent: a request refused one
    /// kind of draw asks [`Ledger::decide`] again, which offers the other
    /// kind while it is not spent too.
    Refused,
    /// The binding failed to answer. A single draw's request passes, as the
    /// platform lets it; a unit pays for nothing, and its failure turns the
    /// rest of the window to single draws, which count the requests that
    /// took part in it.
    Failed,
}

/// How many of an owner's requests an isolate draws one by one in a window
/// before it draws units for them.
pub const SINGLES_BEFORE_UNITS: u32 = 10;

/// One isolate's account of the draws of tiers with [`Units`], per counter.
///
/// The budget is split between two bindings: single requests
/// ([`Tier::draws_per_period`]) and units of many ([`Units`]). An owner's
/// first [`SINGLES_BEFORE_UNITS`] requests of a window in an isolate are
/// drawn one by one, so an owner whose requests are few, or spread over
/// many isolates, spends exactly what it uses. Past them, the isolate draws
/// units: the request drawing one waits for the binding, the requests
/// arriving meanwhile join it and wait for its outcome until the unit is
/// spoken for, and the places of a granted unit that no request took pay
/// for the next requests without asking a binding; once fewer than half a
/// unit's places are left, the next unit is drawn ahead, so a steady stream
/// of requests rarely waits while units are granted (the feed's budget has
/// one per window, so there the unit drawn ahead is refused, and the rest of
/// the window is drawn one by one, each draw beside its request's read).
/// Once units are refused, requests are drawn one by one again, and the
/// other way round; when both are refused the counter is refused until the
/// window ends, without asking again.
///
/// Every request that passes is covered by a granted draw (or a single draw
/// whose binding failed, as the platform lets it), also when many arrive at
/// once, and places paid for lapse when the binding's window ends
/// (windows aligned to the clock: `now / period`), so a counter never gets
/// more than its [`Tier::limit`] in a window. Where requests spread over
/// several isolates, only a unit's places left unused make the limit come
/// sooner, never later.
#[derive(Debug, Default)]
pub struct Ledger {
    accounts: std::collections::HashMap<String, Account>,
    next_unit: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Account {
    /// The binding's counting window (Unix milliseconds / period) that the
    /// rest of the account is for.
    window: u64,
    /// Requests decided in this window.
    requests: u32,
    /// Requests paid for by units granted in this window.
    paid: u32,
    /// The unit being drawn, and how many more requests may join it.
    drawing: Option<(UnitId, u32)>,
    /// A single draw was refused in this window.
    singles_spent: bool,
    /// A unit was refused in this window.
    units_spent: bool,
}

/// At most this many counters are remembered. A full ledger forgets the
/// counters that hold nothing for this window (no places paid for, no unit
/// being drawn, no refusal), which only makes their next request draw again.
const LEDGER_CAPACITY: usize = 4_096;

impl Ledger {
    /// Decides one request of `tier` on `counter` at `now_ms`.
    pub fn decide(&mut self, tier: Tier, counter: &str, now_ms: u64) -> Decision {
        let Some(units) = tier.units() else { return Decision::Single };
        let window = window_of(tier, now_ms);
        if !self.accounts.contains_key(counter) {
            self.make_room(window);
            self.accounts.insert(counter.to_owned(), Account { window, ..Account::default() });
        }
        let unit = UnitId { id: self.next_unit, window };
        // No account for this window: the clock went back past a window's edge. Drawn alone.
        let Some(account) = self.account(counter, window) else { return Decision::Single };
        account.requests = account.requests.saturating_add(1);
        if account.paid > 0 {
            account.paid -= 1;
            // Below half a unit, the next one is drawn while these places last: requests find
            // places paid for instead of waiting for a draw.
            if !account.units_spent && account.drawing.is_none() && account.paid < units.requests / 2 {
                account.drawing = Some((unit, units.requests));
                self.next_unit += 1;
                return Decision::Refill(unit);
            }
            return Decision::Allow;
        }
        let busy = account.requests > SINGLES_BEFORE_UNITS;
        match (account.singles_spent, account.units_spent) {
            (true, true) => return Decision::Refuse,
            (false, true) => return Decision::Single,
            (false, false) if !busy => return Decision::Single,
            _ => {}
        }
        if let Some((drawing, open)) = account.drawing.as_mut().filter(|(_, open)| *open > 0) {
            *open -= 1;
            return Decision::Join(*drawing);
        }
        account.drawing = Some((unit, units.requests - 1));
        self.next_unit += 1;
        Decision::Draw(unit)
    }

    /// Records the binding's `answer` for `unit`, drawn for `counter`: a
    /// granted unit's places that no request joined are paid for, until the
    /// window ends; a refused or failed one turns the rest of the window to
    /// single draws (the requests that took part in it ask again, and are
    /// drawn one by one). An answer that comes after the unit's window ended
    /// changes nothing.
    pub fn settle(&mut self, tier: Tier, counter: &str, unit: UnitId, answer: Answer, now_ms: u64) {
        if unit.window != window_of(tier, now_ms) {
            return;
        }
        let Some(account) = self.account(counter, unit.window) else { return };
        if let Some((drawing, open)) = account.drawing {
            if drawing == unit {
                account.drawing = None;
                if answer == Answer::Granted {
                    account.paid += open;
                }
            }
        }
        if answer != Answer::Granted {
            account.units_spent = true;
        }
    }

    /// Forgets `unit`, which will not be answered (its drawing request
    /// ended without an answer, or the binding kept it waiting too long):
    /// no request joins it any more, it pays for nothing, and units are not
    /// spent for that.
    pub fn abandon(&mut self, tier: Tier, counter: &str, unit: UnitId, now_ms: u64) {
        if unit.window != window_of(tier, now_ms) {
            return;
        }
        if let Some(account) = self.account(counter, unit.window) {
            if account.drawing.is_some_and(|(drawing, _)| drawing == unit) {
                account.drawing = None;
            }
        }
    }

    /// Records the binding's `answer` to a [`Decision::Single`] of
    /// `counter` decided at `decided_ms`: refused means single draws are
    /// spent for the window. An answer that comes after the window of its
    /// decision ended changes nothing.
    pub fn settle_single(&mut self, tier: Tier, counter: &str, decided_ms: u64, answer: Answer, now_ms: u64) {
        let window = window_of(tier, now_ms);
        if tier.units().is_none() || answer != Answer::Refused || window_of(tier, decided_ms) != window {
            return;
        }
        if let Some(account) = self.account(counter, window) {
            account.singles_spent = true;
        }
    }

    /// `counter`'s account for `window`, started afresh where the one kept
    /// is for an earlier window: its places paid for lapse with it, and a
    /// unit still being drawn for it pays for nothing here. `None` where the
    /// account is for a later window already (an account never goes back).
    fn account(&mut self, counter: &str, window: u64) -> Option<&mut Account> {
        let account = self.accounts.get_mut(counter)?;
        if account.window > window {
            return None;
        }
        if account.window < window {
            *account = Account { window, ..Account::default() };
        }
        Some(account)
    }

    /// Forgets the counters that hold nothing for this window when the
    /// ledger is full; all of them if that is not enough.
    fn make_room(&mut self, window: u64) {
        if self.accounts.len() < LEDGER_CAPACITY {
            return;
        }
        self.accounts.retain(|_, account| {
            account.window == window
                && (account.paid > 0 || account.drawing.is_some() || account.singles_spent || account.units_spent)
        });
        if self.accounts.len() >= LEDGER_CAPACITY {
            self.accounts.clear();
        }
    }
}

/// The binding's counting window that `now_ms` falls in.
fn window_of(tier: Tier, now_ms: u64) -> u64 {
    now_ms / tier.period_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_the_ietf_draft() {
        assert_eq!(Tier::Feed.policy_header(), "\"feed\";q=100;w=10");
        assert_eq!(Tier::Triggers.exhausted_header(20_000), "\"triggers\";r=0;t=10");
        assert_eq!(Tier::Feed.exhausted_header(27_500), "\"feed\";r=0;t=3");
    }

    #[test]
    fn a_refusal_lasts_to_the_end_of_its_window() {
        // (now, whole seconds left, rounded up)
        for (now, left) in [(0, 10), (1, 10), (999, 10), (1_000, 9), (8_999, 2), (9_000, 1), (9_999, 1), (10_000, 10)] {
            assert_eq!(Tier::Feed.seconds_left(now), left, "at {now} ms");
            assert_eq!(Tier::Feed.window_end_ms(now), 10_000 * (now / 10_000 + 1), "at {now} ms");
        }
    }

    #[test]
    fn counters_are_per_environment_and_owner() {
        assert_ne!(counter_key(Tier::Feed, "staging", "ada"), counter_key(Tier::Feed, "production", "ada"));
        assert_ne!(counter_key(Tier::Feed, "staging", "ada"), counter_key(Tier::Management, "staging", "ada"));
    }

    /// The bindings' budgets left for one counter, as the platform keeps them.
    struct Bindings {
        singles: u32,
        units: u32,
    }

    impl Bindings {
        fn full() -> Self {
            Self { singles: Tier::Feed.draws_per_period(), units: FEED_UNITS.per_period }
        }

        fn answer(left: &mut u32) -> Answer {
            if *left == 0 {
                return Answer::Refused;
            }
            *left -= 1;
            Answer::Granted
        }
    }

    const FEED_UNITS: Units = Units { binding: "RATE_LIMIT_FEED_UNITS", requests: 50, per_period: 1 };

    /// One request of `counter`, as the worker serves it when every draw is
    /// answered before the next request: a refused draw asks the ledger
    /// again (at most three times). Its decisions, and whether it passed.
    fn serve(ledger: &mut Ledger, bindings: &mut Bindings, counter: &str, now_ms: u64) -> (Vec<Decision>, bool) {
        let mut decisions = Vec::new();
        for _ in 0..3 {
            let decision = ledger.decide(Tier::Feed, counter, now_ms);
            decisions.push(decision);
            let answer = match decision {
                Decision::Allow => return (decisions, true),
                Decision::Refuse | Decision::Join(_) => return (decisions, false),
                Decision::Single => {
                    let answer = Bindings::answer(&mut bindings.singles);
                    ledger.settle_single(Tier::Feed, counter, now_ms, answer, now_ms);
                    answer
                }
                Decision::Draw(unit) | Decision::Refill(unit) => {
                    let answer = Bindings::answer(&mut bindings.units);
                    ledger.settle(Tier::Feed, counter, unit, answer, now_ms);
                    if matches!(decision, Decision::Refill(_)) {
                        return (decisions, true);
                    }
                    answer
                }
            };
            if answer == Answer::Granted {
                return (decisions, true);
            }
        }
        (decisions, false)
    }

    /// Serves `count` requests of `counter` one after another at `now_ms`.
    fn one_by_one(
        ledger: &mut Ledger,
        bindings: &mut Bindings,
        counter: &str,
        count: usize,
        now_ms: u64,
    ) -> Vec<(Vec<Decision>, bool)> {
        (0..count).map(|_| serve(ledger, bindings, counter, now_ms)).collect()
    }

    fn asks_units(decision: &Decision) -> bool {
        matches!(decision, Decision::Draw(_) | Decision::Refill(_))
    }

    /// Counter `c`'s first requests of the window at `now_ms`, drawn one by
    /// one and granted, after which its requests are drawn in units.
    fn make_busy(ledger: &mut Ledger, now_ms: u64) {
        let mut bindings = Bindings::full();
        for (decisions, passed) in one_by_one(ledger, &mut bindings, "c", SINGLES_BEFORE_UNITS as usize, now_ms) {
            assert_eq!((decisions, passed), (vec![Decision::Single], true));
        }
    }

    /// Counter `c`, made busy, draws a unit.
    fn busy_unit(ledger: &mut Ledger, now_ms: u64) -> UnitId {
        make_busy(ledger, now_ms);
        let Decision::Draw(unit) = ledger.decide(Tier::Feed, "c", now_ms) else {
            panic!("a busy counter draws a unit")
        };
        unit
    }

    /// A ledger in which counter `c`, made busy at `decided_ms`, drew a unit
    /// whose grant came at `answered_ms`.
    fn granted_unit(decided_ms: u64, answered_ms: u64) -> Ledger {
        let mut ledger = Ledger::default();
        let unit = busy_unit(&mut ledger, decided_ms);
        ledger.settle(Tier::Feed, "c", unit, Answer::Granted, answered_ms);
        ledger
    }

    /// Counter `c`, made busy, draws a unit, and the next request joins it.
    fn draw_and_join(ledger: &mut Ledger, now_ms: u64) -> UnitId {
        let unit = busy_unit(ledger, now_ms);
        assert_eq!(ledger.decide(Tier::Feed, "c", now_ms), Decision::Join(unit));
        unit
    }

    #[test]
    fn the_feed_budget_is_split_between_single_draws_and_units() {
        assert_eq!(Tier::Feed.units(), Some(FEED_UNITS));
        assert_eq!(Tier::Feed.draws_per_period() + FEED_UNITS.requests * FEED_UNITS.per_period, Tier::Feed.limit());
        assert!(Tier::Feed.draws_per_period() >= SINGLES_BEFORE_UNITS, "an isolate's first requests fit the singles");
        assert_eq!(Tier::Triggers.draws_per_period(), Tier::Triggers.limit());
    }

    #[test]
    fn few_requests_are_drawn_one_by_one_and_many_in_units_drawn_ahead() {
        let mut ledger = Ledger::default();
        let served = one_by_one(&mut ledger, &mut Bindings { singles: 50, units: 100 }, "feed:dev:ada", 200, 0);
        assert!(served.iter().all(|(decisions, passed)| *passed && decisions.len() == 1));
        let first: Vec<Decision> = served.iter().map(|(decisions, _)| decisions[0]).collect();
        assert!(first[..10].iter().all(|d| *d == Decision::Single));
        let asked: Vec<usize> = first.iter().enumerate().filter(|(_, d)| asks_units(d)).map(|(i, _)| i).collect();
        // The eleventh request draws a unit of fifty; the next is drawn when fewer than 25 places are left.
        assert_eq!(asked, [10, 35, 85, 135, 185]);
        assert_eq!(ledger.decide(Tier::Feed, "feed:dev:grace", 0), Decision::Single, "counters are apart");
    }

    #[test]
    fn one_isolate_allows_exactly_the_limit_in_a_window() {
        let mut ledger = Ledger::default();
        let mut bindings = Bindings::full();
        let served = one_by_one(&mut ledger, &mut bindings, "c", 300, 0);
        assert_eq!(served.iter().filter(|(_, passed)| *passed).count(), Tier::Feed.limit() as usize);
        assert!(served[..100].iter().all(|(_, passed)| *passed), "the whole budget first");
        assert_eq!(served[299].0, [Decision::Refuse], "refused without asking again");
        let draws =
            served.iter().flat_map(|(decisions, _)| decisions).filter(|d| **d == Decision::Single || asks_units(d));
        // Ten single draws, a unit, the unit drawn ahead (refused), forty singles and the refused one.
        assert_eq!(draws.count(), 53);
        // The next window has a budget of its own.
        let next = one_by_one(&mut ledger, &mut Bindings::full(), "c", 1, 10_000);
        assert_eq!(next[0], (vec![Decision::Single], true));
    }

    #[test]
    fn a_refused_refill_leaves_the_places_already_paid_for_then_draws_one_by_one() {
        let mut ledger = Ledger::default();
        let served = one_by_one(&mut ledger, &mut Bindings { singles: 50, units: 1 }, "c", 80, 0);
        assert!(matches!(served[35].0[..], [Decision::Refill(_)]), "the unit drawn ahead, refused");
        assert!(served.iter().all(|(_, passed)| *passed));
        assert!(served[36..60].iter().all(|(decisions, _)| decisions[..] == [Decision::Allow]), "the places paid for");
        assert!(served[60..].iter().all(|(decisions, _)| decisions[..] == [Decision::Single]), "then one by one");
    }

    #[test]
    fn requests_at_once_wait_for_their_unit_and_never_pass_unpaid() {
        // A thousand requests arrive before any draw is answered: past the first ten, each joins a
        // unit being drawn (fifty to a unit) instead of passing on it.
        let mut ledger = Ledger::default();
        let mut bindings = Bindings::full();
        let decisions: Vec<Decision> = (0..1_000).map(|_| ledger.decide(Tier::Feed, "c", 0)).collect();
        assert!(!decisions.contains(&Decision::Allow), "nothing passes before a draw is granted");
        assert!(decisions[..10].iter().all(|d| *d == Decision::Single));
        let units: Vec<UnitId> =
            decisions.iter().filter_map(|d| if let Decision::Draw(unit) = d { Some(*unit) } else { None }).collect();
        assert_eq!(units.len(), 20);
        // The bindings answer: the singles, then the units (one granted, the rest refused).
        let mut answers = std::collections::HashMap::new();
        for _ in 0..10 {
            let answer = Bindings::answer(&mut bindings.singles);
            ledger.settle_single(Tier::Feed, "c", 0, answer, 0);
        }
        for unit in &units {
            let answer = Bindings::answer(&mut bindings.units);
            ledger.settle(Tier::Feed, "c", *unit, answer, 0);
            answers.insert(*unit, answer);
        }
        let mut passed = 10;
        let mut refused = 0;
        for decision in &decisions[10..] {
            let (Decision::Draw(unit) | Decision::Join(unit)) = decision else {
                panic!("each request takes part in a unit")
            };
            if answers[unit] == Answer::Granted {
                passed += 1;
            } else {
                refused += 1;
            }
        }
        assert_eq!(passed, 60, "ten singles and one unit");
        // The requests whose unit was refused ask the ledger again, one after another: the singles left.
        let retried = (0..refused).filter(|_| serve(&mut ledger, &mut bindings, "c", 0).1).count();
        assert_eq!(passed + retried, Tier::Feed.limit() as usize);
        assert_eq!(ledger.decide(Tier::Feed, "c", 1), Decision::Refuse);
    }

    #[test]
    fn a_granted_unit_pays_for_its_places_nobody_joined() {
        let mut ledger = Ledger::default();
        let unit = draw_and_join(&mut ledger, 0);
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Join(unit));
        ledger.settle(Tier::Feed, "c", unit, Answer::Granted, 0);
        // Fifty places: the drawer, two that joined, 47 paid for; the one leaving 24 draws ahead.
        let next: Vec<Decision> = (0..47).map(|_| ledger.decide(Tier::Feed, "c", 0)).collect();
        assert!(next.iter().all(|d| matches!(d, Decision::Allow | Decision::Refill(_))));
        assert_eq!(next.iter().filter(|d| matches!(d, Decision::Refill(_))).count(), 1);
        let Some(Decision::Refill(ahead)) = next.iter().find(|d| matches!(d, Decision::Refill(_))).copied() else {
            panic!("a unit drawn ahead")
        };
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Join(ahead), "its places are open to the next");
    }

    #[test]
    fn requests_joining_a_unit_drawn_ahead_share_its_answer() {
        let mut ledger = granted_unit(0, 0);
        let paid: Vec<Decision> = (0..49).map(|_| ledger.decide(Tier::Feed, "c", 0)).collect();
        let Some(Decision::Refill(ahead)) = paid.get(24).copied() else { panic!("the 25th paid place draws ahead") };
        assert!(paid.iter().enumerate().all(|(i, d)| i == 24 || *d == Decision::Allow));
        // The unit drawn ahead is still under way when the paid places run out.
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Join(ahead));
        ledger.settle(Tier::Feed, "c", ahead, Answer::Refused, 0);
        assert_eq!(ledger.decide(Tier::Feed, "c", 1), Decision::Single, "units refused: one by one");
    }

    #[test]
    fn a_failed_unit_pays_for_nothing_more_and_turns_the_window_to_single_draws() {
        let mut ledger = Ledger::default();
        let unit = draw_and_join(&mut ledger, 0);
        ledger.settle(Tier::Feed, "c", unit, Answer::Failed, 0);
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Single, "the working binding counts the rest");
        make_busy(&mut ledger, 10_000);
        assert!(matches!(ledger.decide(Tier::Feed, "c", 10_000), Decision::Draw(_)), "the next window draws units");
    }

    #[test]
    fn an_abandoned_unit_pays_for_nothing_and_spends_nothing() {
        let mut ledger = Ledger::default();
        let unit = draw_and_join(&mut ledger, 0);
        ledger.abandon(Tier::Feed, "c", unit, 0);
        ledger.settle(Tier::Feed, "c", unit, Answer::Granted, 0);
        let Decision::Draw(next) = ledger.decide(Tier::Feed, "c", 0) else { panic!("nobody joins it: a new unit") };
        assert_ne!(next, unit);
    }

    #[test]
    fn answers_that_come_after_their_window_change_nothing() {
        let mut ledger = Ledger::default();
        let unit = draw_and_join(&mut ledger, 9_000);
        // Refused as the window rolls: the next window's budget is its own.
        ledger.settle(Tier::Feed, "c", unit, Answer::Refused, 10_001);
        ledger.settle_single(Tier::Feed, "c", 9_999, Answer::Refused, 10_002);
        make_busy(&mut ledger, 10_003);
        assert!(matches!(ledger.decide(Tier::Feed, "c", 10_004), Decision::Draw(_)), "units are not spent");
        // Refused once the next window has begun deciding: that window is left as it is.
        let mut late = Ledger::default();
        let unit = draw_and_join(&mut late, 19_000);
        make_busy(&mut late, 20_000);
        late.settle(Tier::Feed, "c", unit, Answer::Refused, 20_001);
        assert!(matches!(late.decide(Tier::Feed, "c", 20_002), Decision::Draw(_)));
        // A single draw refused as the window rolls: the next window's first requests are drawn alone.
        let mut other = Ledger::default();
        assert_eq!(other.decide(Tier::Feed, "c", 9_998), Decision::Single);
        other.settle_single(Tier::Feed, "c", 9_998, Answer::Refused, 10_002);
        make_busy(&mut other, 10_003);
    }

    #[test]
    fn a_late_answer_for_an_older_unit_leaves_the_current_one() {
        let mut ledger = Ledger::default();
        make_busy(&mut ledger, 0);
        let decisions: Vec<Decision> = (0..51).map(|_| ledger.decide(Tier::Feed, "c", 0)).collect();
        let (Decision::Draw(first), Decision::Draw(second)) = (decisions[0], decisions[50]) else {
            panic!("a unit of fifty, then the next")
        };
        ledger.settle(Tier::Feed, "c", first, Answer::Granted, 0);
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Join(second), "the first unit's places were all taken");
    }

    #[test]
    fn refused_draws_of_both_kinds_refuse_until_the_window_ends() {
        let mut ledger = Ledger::default();
        let unit = draw_and_join(&mut ledger, 1_000);
        ledger.settle(Tier::Feed, "c", unit, Answer::Refused, 1_000);
        assert_eq!(ledger.decide(Tier::Feed, "c", 1_001), Decision::Single, "the unit's places were not paid for");
        ledger.settle_single(Tier::Feed, "c", 1_001, Answer::Refused, 1_001);
        assert_eq!(ledger.decide(Tier::Feed, "c", 1_002), Decision::Refuse);
        assert_eq!(ledger.decide(Tier::Feed, "c", 9_999), Decision::Refuse);
        assert_eq!(ledger.decide(Tier::Feed, "c", 10_000), Decision::Single, "a new window");
    }

    #[test]
    fn refused_single_draws_turn_to_units() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.decide(Tier::Feed, "c", 0), Decision::Single);
        ledger.settle_single(Tier::Feed, "c", 0, Answer::Refused, 0);
        assert!(matches!(ledger.decide(Tier::Feed, "c", 0), Decision::Draw(_)), "not busy, but singles are spent");
    }

    #[test]
    fn places_paid_for_lapse_when_the_window_ends() {
        let mut ledger = granted_unit(9_000, 9_000);
        assert_eq!(ledger.decide(Tier::Feed, "c", 9_999), Decision::Allow);
        assert_eq!(
            ledger.decide(Tier::Feed, "c", 10_000),
            Decision::Single,
            "the binding counts afresh, so does the ledger"
        );
    }

    #[test]
    fn a_unit_answered_after_its_window_pays_for_nothing() {
        let mut ledger = granted_unit(9_000, 10_000);
        assert_eq!(ledger.decide(Tier::Feed, "c", 10_001), Decision::Single);
    }

    #[test]
    fn other_tiers_draw_every_request_alone() {
        let mut ledger = Ledger::default();
        let decisions: Vec<Decision> = (0..5).map(|_| ledger.decide(Tier::Triggers, "c", 0)).collect();
        assert!(decisions.iter().all(|d| *d == Decision::Single));
        ledger.settle_single(Tier::Management, "c", 0, Answer::Refused, 0);
        assert_eq!(ledger.decide(Tier::Management, "c", 1), Decision::Single, "the binding alone refuses them");
        assert!(ledger.accounts.is_empty());
    }

    #[test]
    fn a_full_ledger_forgets_counters_but_keeps_refusals_and_places_paid_for() {
        let mut ledger = granted_unit(0, 0);
        assert_eq!(ledger.decide(Tier::Feed, "spent", 0), Decision::Single);
        ledger.settle_single(Tier::Feed, "spent", 0, Answer::Refused, 0);
        let Decision::Draw(unit) = ledger.decide(Tier::Feed, "spent", 0) else { panic!("then a unit") };
        ledger.settle(Tier::Feed, "spent", unit, Answer::Refused, 0);
        for n in 2..LEDGER_CAPACITY {
            assert_eq!(ledger.decide(Tier::Feed, &n.to_string(), 0), Decision::Single);
        }
        assert_eq!(ledger.decide(Tier::Feed, "new", 0), Decision::Single);
        assert_eq!(ledger.accounts.len(), 3, "the refused counter, the one with places paid for, and the new one");
        assert_eq!(ledger.decide(Tier::Feed, "spent", 1), Decision::Refuse, "a full ledger does not lift a refusal");
        assert_eq!(ledger.decide(Tier::Feed, "c", 1), Decision::Allow, "nor lose places paid for");
    }

    #[test]
    fn a_clock_gone_back_past_a_window_draws_alone() {
        let mut ledger = granted_unit(10_000, 10_000);
        assert_eq!(ledger.decide(Tier::Feed, "c", 9_999), Decision::Single);
        assert_eq!(ledger.decide(Tier::Feed, "c", 10_001), Decision::Allow, "the window's places are kept");
    }

    #[test]
    fn periods_are_ones_the_binding_accepts() {
        assert!(Tier::ALL.iter().all(|tier| [10, 60].contains(&tier.period_seconds())));
    }
}
