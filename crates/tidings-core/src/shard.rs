//! Feed shards: an environment's feed (messages, their counts, tombstones
//! and the feed clock) spread over several D1 databases, so one environment
//! is not bounded by one database's size and write rate.
//!
//! An environment has one *primary* database (subscribers, content,
//! releases, logs, deliveries, idempotency, settings) and a number of feed
//! shards, chosen when it is created, which resharding only grows. With one
//! shard the feed lives in the primary, the layout every environment had
//! before shards. With more,
//! shard `i` is the database bound as [`binding`] `FEED<i>_<ENV>`, named so
//! that no environment's own binding (`DB_<ENV>`, `KV_<ENV>`, `FILES_<ENV>`)
//! can ever be mistaken for a shard, whatever the environments are called.
//!
//! A subscriber belongs to one of [`BUCKETS`] buckets, by a hash of their
//! id, and a bucket to a shard ([`shard_of`]): every message of one
//! subscriber is in one database, so a feed page, its counts and its delta
//! sync are each one query on one shard, exactly as without shards.
//!
//! An environment grows by *resharding*: its [`BucketMap`] moves from one
//! count to a larger one a bucket at a time ([`BucketMap::pending`]), each
//! bucket's feed copied, verified and switched while the rest keep serving.

use sha2::{Digest, Sha256};

use crate::subscriber::SubscriberId;

/// The buckets subscribers are hashed into.
pub const BUCKETS: u32 = 256;
/// The most feed shards an environment may have.
pub const MAX_SHARDS: u32 = 64;

/// Why a shard count is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    /// Not a whole number from 1 to [`MAX_SHARDS`].
    #[error("an environment has 1 to {MAX_SHARDS} feed shards")]
    Count,
    /// A move to as many shards as it has, or fewer.
    #[error("an environment's feed moves to more shards than it has ({0}), never fewer")]
    NotGrowing(u32),
    /// A stored set of moved buckets that is not 64 hexadecimal digits.
    #[error("the stored set of moved buckets is unreadable")]
    MovedSet,
}

/// How many feed shards an environment has: 1 to [`MAX_SHARDS`]; 1 keeps
/// the feed in the primary database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardCount(u32);

impl ShardCount {
    /// One shard: the feed in the primary database.
    pub const ONE: Self = Self(1);

    /// The most shards an environment can have ([`MAX_SHARDS`]).
    pub const MAX: Self = Self(MAX_SHARDS);

    /// Checks a requested number of shards.
    pub fn new(count: u64) -> Result<Self, ShardError> {
        match u32::try_from(count) {
            Ok(count) if (1..=MAX_SHARDS).contains(&count) => Ok(Self(count)),
            _ => Err(ShardError::Count),
        }
    }

    /// A count read back from storage: out-of-range values (never written)
    /// read as one shard.
    pub fn from_stored(count: f64) -> Self {
        Self::new(count as u64).unwrap_or(Self::ONE)
    }

    /// The number of shards.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Whether the feed has databases of its own (more than one shard).
    pub fn is_sharded(self) -> bool {
        self.0 > 1
    }
}

/// The bucket of a subscriber: the first bytes of a hash of their id, so
/// subscribers spread evenly whatever their ids look like.
pub fn bucket_of(subscriber: &SubscriberId) -> u32 {
    let digest = Sha256::digest(subscriber.as_str().as_bytes());
    u32::from(u16::from_be_bytes([digest[0], digest[1]])) % BUCKETS
}

/// The shard (`0..count`) holding a subscriber's feed.
pub fn shard_of(subscriber: &SubscriberId, count: ShardCount) -> usize {
    (bucket_of(subscriber) % count.get()) as usize
}

/// The binding name of shard `index` of the environment whose bindings end
/// in `suffix` ([`crate::environment::EnvironmentName::binding_suffix`]):
/// `FEED2_BIG` for shard 2 of `big`.
pub fn binding(suffix: &str, index: usize) -> String {
    format!("FEED{index}_{suffix}")
}

/// The binding names of every shard of an environment with `count` shards;
/// none when it has one (the feed is in the primary).
pub fn bindings(suffix: &str, count: ShardCount) -> Vec<String> {
    if count.is_sharded() {
        (0..count.get() as usize).map(|index| binding(suffix, index)).collect()
    } else {
        Vec::new()
    }
}

/// The database holding one bucket's feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeedHome {
    /// The environment's own database (an environment with one shard).
    Primary,
    /// Feed shard `i`, bound as [`binding`] `FEED<i>_<ENV>`.
    Shard(usize),
}

impl FeedHome {
    /// Where `bucket` lives when the environment has `count` shards.
    pub fn of_bucket(bucket: u32, count: ShardCount) -> Self {
        if count.is_sharded() {
            Self::Shard((bucket % count.get()) as usize)
        } else {
            Self::Primary
        }
    }

    /// The role number a database's identity stamp records: -1 for the
    /// primary, the index for a shard.
    pub const fn role(self) -> i64 {
        match self {
            Self::Primary => -1,
            Self::Shard(index) => index as i64,
        }
    }

    /// The home a stamp's role number names.
    pub fn from_role(role: i64) -> Self {
        usize::try_from(role).map_or(Self::Primary, Self::Shard)
    }
}

/// Which buckets have moved: one bit per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct MovedSet([u64; 4]);

impl MovedSet {
    /// Whether `bucket` has moved.
    pub fn contains(self, bucket: u32) -> bool {
        bucket < BUCKETS && self.0[(bucket / 64) as usize] & (1 << (bucket % 64)) != 0
    }

    /// The set with `bucket` in it too.
    pub fn with(mut self, bucket: u32) -> Self {
        if bucket < BUCKETS {
            self.0[(bucket / 64) as usize] |= 1 << (bucket % 64);
        }
        self
    }

    /// How many buckets have moved.
    pub fn len(self) -> u32 {
        self.0.iter().map(|word| word.count_ones()).sum()
    }

    /// Whether no bucket has moved.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// As stored: 64 hexadecimal digits, bucket 0 in the last bit of the first word.
    pub fn encode(self) -> String {
        self.0.iter().map(|word| format!("{word:016x}")).collect()
    }

    /// Reads [`Self::encode`]'s text back.
    pub fn decode(text: &str) -> Result<Self, ShardError> {
        if text.len() != 64 || !text.is_ascii() {
            return Err(ShardError::MovedSet);
        }
        let mut words = [0u64; 4];
        for (index, word) in words.iter_mut().enumerate() {
            *word = u64::from_str_radix(&text[index * 16..index * 16 + 16], 16).map_err(|_| ShardError::MovedSet)?;
        }
        Ok(Self(words))
    }
}

/// One bucket's move while an environment is resharded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketMove {
    /// The bucket.
    pub bucket: u32,
    /// Where its feed is until the move is switched.
    pub from: FeedHome,
    /// Where it goes.
    pub to: FeedHome,
}

/// Where each bucket's feed lives: an environment settled at one shard
/// count, or moving from one count to a larger one, with the buckets
/// switched to the new count so far. A bucket's home changes only when its
/// move is switched, after its feed was copied and verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BucketMap {
    from: ShardCount,
    to: ShardCount,
    moved: MovedSet,
}

impl BucketMap {
    /// Every bucket at its home among `count` shards.
    pub fn settled(count: ShardCount) -> Self {
        Self { from: count, to: count, moved: MovedSet::default() }
    }

    /// A move from `from` shards to `to` (more) with `moved` switched so far.
    pub fn moving(from: ShardCount, to: ShardCount, moved: MovedSet) -> Result<Self, ShardError> {
        if to <= from {
            return Err(ShardError::NotGrowing(from.get()));
        }
        Ok(Self { from, to, moved }.settling())
    }

    /// The map a registry or primary row describes: `to` shards, moving from
    /// `from` when it is given, with the `moved` set's text.
    pub fn from_stored(to: ShardCount, from: Option<ShardCount>, moved: Option<&str>) -> Result<Self, ShardError> {
        match from {
            Some(from) if from != to => {
                Self::moving(from, to, moved.map(MovedSet::decode).transpose()?.unwrap_or_default())
            }
            _ => Ok(Self::settled(to)),
        }
    }

    /// The count it started from (its count, when settled).
    pub fn from(self) -> ShardCount {
        self.from
    }

    /// The count it is moving to (its count, when settled): how many shard
    /// bindings it needs.
    pub fn to(self) -> ShardCount {
        self.to
    }

    /// The buckets switched so far.
    pub fn moved(self) -> MovedSet {
        self.moved
    }

    /// Whether every bucket is at its home among [`Self::to`] shards.
    pub fn is_settled(self) -> bool {
        self.from == self.to
    }

    /// The shard count that placed `bucket` where its feed is now (its home
    /// is `bucket` mod this count). Counts only grow, so a feed that moved
    /// away and back again was placed by another count: the count names one
    /// stay of a feed in one database ([`placed_bookmark`]).
    pub fn placed_by(self, bucket: u32) -> ShardCount {
        if self.moved.contains(bucket) {
            self.to
        } else {
            self.from
        }
    }

    /// Where `bucket`'s feed is now.
    pub fn home_of(self, bucket: u32) -> FeedHome {
        FeedHome::of_bucket(bucket, self.placed_by(bucket))
    }

    /// Where `subscriber`'s feed is now.
    pub fn home_of_subscriber(self, subscriber: &SubscriberId) -> FeedHome {
        self.home_of(bucket_of(subscriber))
    }

    /// The moves still to make, in bucket order: buckets whose home changes
    /// and that have not been switched.
    pub fn pending(self) -> impl Iterator<Item = BucketMove> {
        (0..BUCKETS).filter(move |bucket| !self.moved.contains(*bucket)).filter_map(move |bucket| {
            let (from, to) = (FeedHome::of_bucket(bucket, self.from), FeedHome::of_bucket(bucket, self.to));
            (from != to).then_some(BucketMove { bucket, from, to })
        })
    }

    /// The map once `bucket`'s move is switched; settled when it was the last.
    pub fn switched(self, bucket: u32) -> Self {
        Self { moved: self.moved.with(bucket), ..self }.settling()
    }

    /// Settled once no move is pending.
    fn settling(self) -> Self {
        if self.pending().next().is_none() {
            Self::settled(self.to)
        } else {
            self
        }
    }
}

/// A read-replica bookmark of the database holding a feed, tagged with the
/// count that placed the feed there ([`BucketMap::placed_by`]):
/// `n<count>:<bookmark>`. A bookmark is a position in one database; once the
/// feed has moved, the worker knows the one a client brings back is another
/// database's and starts its session at the primary instead. Untagged when
/// the tag would make it longer than a bookmark may be.
pub fn placed_bookmark(count: ShardCount, bookmark: &str) -> String {
    let placed = format!("n{}:{bookmark}", count.get());
    if placed.len() <= crate::feed_sync::MAX_BOOKMARK_LEN {
        placed
    } else {
        bookmark.to_owned()
    }
}

/// A bookmark a client brought back: the count its tag names (none for an
/// untagged one, as answered before tags) and the database's own bookmark.
pub fn read_placed_bookmark(text: &str) -> (Option<ShardCount>, &str) {
    let tagged = text.strip_prefix('n').and_then(|rest| rest.split_once(':')).and_then(|(count, bookmark)| {
        let digits = !count.is_empty() && count.len() <= 2 && count.bytes().all(|byte| byte.is_ascii_digit());
        let count = ShardCount::new(count.parse().ok().filter(|_| digits)?).ok()?;
        (!bookmark.is_empty()).then_some((Some(count), bookmark))
    });
    tagged.unwrap_or((None, text))
}

/// Where a feed read's database session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStart<'a> {
    /// Anywhere: a replica of any age (no bookmark to keep up with).
    Anywhere,
    /// At the primary: as new as any bookmark.
    Primary,
    /// At this bookmark of the database holding the feed, or later.
    At(&'a str),
}

/// Where the session of a read of a feed placed by `placed` starts, given
/// the bookmark the client brought: at it when it is a position in that
/// database (tagged with the same count, or untagged as answered before
/// tags), at the primary when it is another database's (the feed has moved
/// since), anywhere without one.
pub fn session_start(bookmark: Option<&str>, placed: ShardCount) -> SessionStart<'_> {
    match bookmark.map(read_placed_bookmark) {
        None => SessionStart::Anywhere,
        Some((Some(tagged), _)) if tagged != placed => SessionStart::Primary,
        Some((_, bookmark)) => SessionStart::At(bookmark),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(text: &str) -> SubscriberId {
        SubscriberId::parse(text).unwrap()
    }

    #[test]
    fn a_bookmark_names_the_count_that_placed_its_feed() {
        let d1 = "00000001-00000002-00004f7e-0123456789abcdef";
        let four = ShardCount::new(4).unwrap();
        assert_eq!(placed_bookmark(four, d1), format!("n4:{d1}"));
        assert_eq!(read_placed_bookmark(&format!("n4:{d1}")), (Some(four), d1));
        // Untagged (answered before tags), or not a tag: the whole text is the database's.
        for text in [d1, "n:abc", "n4:", "n65:abc", "n0:abc", "n004:abc", "nx:abc", "4:abc"] {
            assert_eq!(read_placed_bookmark(text), (None, text), "{text}");
        }
        // A tag never makes a bookmark too long to come back.
        let longest = "a".repeat(crate::feed_sync::MAX_BOOKMARK_LEN);
        assert_eq!(placed_bookmark(four, &longest), longest);
    }

    #[test]
    fn a_bookmark_of_the_database_a_feed_left_starts_at_the_primary() {
        let d1 = "00000001-00000002-00004f7e-0123456789abcdef";
        let [one, two] = [1, 2].map(|count| ShardCount::new(count).unwrap());
        let before = placed_bookmark(one, d1);
        assert_eq!(session_start(Some(&before), one), SessionStart::At(d1));
        assert_eq!(session_start(Some(&before), two), SessionStart::Primary, "the feed moved since");
        assert_eq!(session_start(Some(&placed_bookmark(two, d1)), one), SessionStart::Primary, "nor one from later");
        assert_eq!(session_start(Some(d1), two), SessionStart::At(d1), "untagged, as answered before tags");
        assert_eq!(session_start(None, two), SessionStart::Anywhere);
    }

    #[test]
    fn a_bucket_moved_away_and_back_was_placed_by_another_count() {
        // Bucket 4: shard 0 of 2, shard 1 of 3, shard 0 of 4.
        let [two, three, four] = [2, 3, 4].map(|count| ShardCount::new(count).unwrap());
        let first = BucketMap::settled(two);
        let moving = BucketMap::moving(two, three, MovedSet::default()).unwrap();
        assert_eq!(moving.placed_by(4), two, "not switched yet");
        let back = BucketMap::settled(four);
        assert_eq!(
            (first.home_of(4), moving.switched(4).home_of(4), back.home_of(4)),
            (FeedHome::Shard(0), FeedHome::Shard(1), FeedHome::Shard(0))
        );
        assert_ne!(first.placed_by(4), back.placed_by(4));
    }

    #[test]
    fn counts_outside_one_to_sixty_four_are_refused() {
        assert_eq!(ShardCount::new(0), Err(ShardError::Count));
        assert_eq!(ShardCount::new(65), Err(ShardError::Count));
        assert_eq!(ShardCount::new(u64::MAX), Err(ShardError::Count));
        assert_eq!(ShardCount::new(4).map(ShardCount::get), Ok(4));
        assert_eq!(ShardCount::from_stored(0.0), ShardCount::ONE);
        assert!(!ShardCount::ONE.is_sharded());
    }

    #[test]
    fn one_shard_has_no_bindings_of_its_own() {
        assert!(bindings("BIG", ShardCount::ONE).is_empty());
        assert_eq!(bindings("BIG", ShardCount::new(2).unwrap()), ["FEED0_BIG", "FEED1_BIG"]);
    }

    #[test]
    fn shard_bindings_never_collide_with_an_environments_own() {
        // `big-s0`'s database is DB_BIG_S0: a shard is never called that.
        for index in 0..MAX_SHARDS as usize {
            assert!(!binding("BIG", index).starts_with("DB_"));
            assert!(!binding("BIG", index).starts_with("KV_"));
            assert!(!binding("BIG", index).starts_with("FILES_"));
        }
        // The index comes before the name, so two environments' shards differ.
        assert_ne!(binding("A_1", 1), binding("A", 11));
    }

    #[test]
    fn subscribers_spread_over_every_shard() {
        let count = ShardCount::new(4).unwrap();
        let mut seen = [0u32; 4];
        for n in 0..400 {
            seen[shard_of(&id(&format!("user-{n}")), count)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }

    fn count(n: u64) -> ShardCount {
        ShardCount::new(n).unwrap()
    }

    #[test]
    fn moved_sets_read_back_and_refuse_other_text() {
        let set = MovedSet::default().with(0).with(63).with(64).with(255);
        assert_eq!(MovedSet::decode(&set.encode()), Ok(set));
        assert_eq!(set.len(), 4);
        assert!(set.contains(255) && !set.contains(1));
        assert_eq!(MovedSet::decode("00"), Err(ShardError::MovedSet));
        assert_eq!(MovedSet::decode(&"g".repeat(64)), Err(ShardError::MovedSet));
        assert_eq!(MovedSet::decode(&"é".repeat(32)), Err(ShardError::MovedSet));
    }

    #[test]
    fn a_map_only_grows() {
        assert_eq!(BucketMap::moving(count(4), count(4), MovedSet::default()), Err(ShardError::NotGrowing(4)));
        assert_eq!(BucketMap::moving(count(4), count(2), MovedSet::default()), Err(ShardError::NotGrowing(4)));
        assert!(BucketMap::from_stored(count(4), Some(count(4)), None).unwrap().is_settled());
    }

    #[test]
    fn doubling_moves_half_the_buckets_to_the_new_shards() {
        let map = BucketMap::moving(count(4), count(8), MovedSet::default()).unwrap();
        let moves: Vec<BucketMove> = map.pending().collect();
        assert_eq!(moves.len(), 128);
        assert!(moves
            .iter()
            .all(|step| matches!((step.from, step.to), (FeedHome::Shard(a), FeedHome::Shard(b)) if b == a + 4)));
    }

    #[test]
    fn one_shard_moves_every_bucket_out_of_the_primary() {
        let map = BucketMap::moving(ShardCount::ONE, count(4), MovedSet::default()).unwrap();
        assert_eq!(map.pending().count(), 256);
        assert!(map.pending().all(|step| step.from == FeedHome::Primary));
        assert_eq!(FeedHome::from_role(FeedHome::Primary.role()), FeedHome::Primary);
        assert_eq!(FeedHome::from_role(FeedHome::Shard(3).role()), FeedHome::Shard(3));
    }

    proptest! {
        #[test]
        fn every_bucket_has_one_home_through_a_move(from in 1u64..=16, extra in 1u64..=16, order in proptest::collection::vec(0u32..BUCKETS, 0..300)) {
            let (from, to) = (count(from), count((from + extra).min(64)));
            prop_assume!(to > from);
            let mut map = BucketMap::moving(from, to, MovedSet::default()).unwrap();
            // Switch moves in any order: a bucket is always at its old home or its new one.
            for bucket in order {
                let Some(step) = map.pending().find(|step| step.bucket == bucket) else { continue };
                prop_assert_eq!(map.home_of(bucket), step.from);
                map = map.switched(bucket);
                prop_assert_eq!(map.home_of(bucket), step.to);
            }
            for bucket in 0..BUCKETS {
                let home = map.home_of(bucket);
                prop_assert!(home == FeedHome::of_bucket(bucket, from) || home == FeedHome::of_bucket(bucket, to));
            }
            // Switching every pending move settles the map at the new count.
            let pending: Vec<BucketMove> = map.pending().collect();
            for step in pending {
                map = map.switched(step.bucket);
            }
            prop_assert_eq!(map, BucketMap::settled(to));
            let stored = BucketMap::from_stored(map.to(), Some(map.from()), Some(&map.moved().encode())).unwrap();
            prop_assert_eq!(stored, map);
        }

        #[test]
        fn a_subscriber_always_maps_to_the_same_shard_in_range(text in "[a-zA-Z0-9_-]{1,40}", count in 1u64..=64) {
            let count = ShardCount::new(count).unwrap();
            let subscriber = id(&text);
            let shard = shard_of(&subscriber, count);
            prop_assert!(shard < count.get() as usize);
            prop_assert_eq!(shard, shard_of(&subscriber, count));
            prop_assert!(bucket_of(&subscriber) < BUCKETS);
        }

        #[test]
        fn a_placed_bookmark_reads_back_and_stays_a_bookmark(bookmark in "[A-Za-z0-9_:.-]{1,256}", count in 1u64..=64) {
            let count = ShardCount::new(count).unwrap();
            let placed = placed_bookmark(count, &bookmark);
            prop_assert!(crate::feed_sync::is_bookmark(&placed));
            let (tag, read) = read_placed_bookmark(&placed);
            if placed != bookmark {
                prop_assert_eq!((tag, read), (Some(count), bookmark.as_str()));
            }
        }

        #[test]
        fn one_shard_holds_everyone(text in "[a-zA-Z0-9_-]{1,40}") {
            prop_assert_eq!(shard_of(&id(&text), ShardCount::ONE), 0);
        }
    }
}
