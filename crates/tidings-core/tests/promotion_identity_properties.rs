//! Properties of promotion request identity: a retry replays only the
//! release it made while that release is still the target's state; after a
//! rollback the same request applies again; an `Idempotency-Key` replays
//! only for the same body.

#![allow(clippy::unwrap_used, missing_docs)]

use proptest::prelude::*;
use tidings_core::promotion::{replay, request_identity, EarlierRelease, Replay, RequestIdentity};
use tidings_core::wire::ChangeSelection;

/// A target's releases, newest last, as the worker stores them.
#[derive(Default)]
struct Target {
    releases: Vec<EarlierRelease>,
}

impl Target {
    fn earlier(&self, identity: &RequestIdentity) -> Option<EarlierRelease> {
        match identity {
            RequestIdentity::Keyed { key, .. } => {
                self.releases.iter().find(|release| release.request_key.as_deref() == Some(key)).cloned()
            }
            _ => self.releases.last().cloned(),
        }
    }

    /// Sends a promotion; answers what the worker would do, and records a release when it applies.
    fn promote(&mut self, key: Option<&str>, ids: &[&str]) -> Replay {
        let selection = ChangeSelection::Ids(ids.iter().map(|id| (*id).to_owned()).collect());
        let identity = request_identity(key, "development", "staging", &selection);
        let decision = replay(&identity, self.earlier(&identity).as_ref());
        if decision == Replay::Apply {
            let id = format!("rel_{}", self.releases.len());
            self.releases.push(EarlierRelease {
                request_key: identity.stored_key(&id),
                fingerprint: identity.fingerprint().map(str::to_owned),
                rolled_back: false,
            });
        }
        decision
    }

    fn roll_back_latest(&mut self) {
        if let Some(latest) = self.releases.iter_mut().rev().find(|release| !release.rolled_back) {
            latest.rolled_back = true;
        }
        self.releases.push(EarlierRelease { request_key: None, fingerprint: None, rolled_back: false });
    }
}

#[test]
fn promote_roll_back_promote_applies_again() {
    let mut target = Target::default();
    assert_eq!(target.promote(None, &["chg_a"]), Replay::Apply);
    assert_eq!(target.promote(None, &["chg_a"]), Replay::Replay, "a retry replays");
    target.roll_back_latest();
    assert_eq!(target.promote(None, &["chg_a"]), Replay::Apply, "after a rollback the change applies again");
    assert_eq!(target.promote(None, &["chg_a"]), Replay::Replay);
}

#[test]
fn a_key_replays_only_its_own_body() {
    let mut target = Target::default();
    assert_eq!(target.promote(Some("k1"), &["chg_a"]), Replay::Apply);
    assert_eq!(target.promote(Some("k1"), &["chg_a"]), Replay::Replay);
    assert_eq!(target.promote(Some("k1"), &["chg_b"]), Replay::KeyReused);
    assert_eq!(target.promote(Some("k2"), &["chg_b"]), Replay::Apply);
}

#[derive(Debug, Clone)]
enum Step {
    Promote(Option<u8>, u8),
    RollBack,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![(prop::option::of(0u8..3), 0u8..3).prop_map(|(key, ids)| Step::Promote(key, ids)), Just(Step::RollBack),]
}

const SELECTIONS: [&[&str]; 3] = [&["chg_a"], &["chg_b"], &["chg_a", "chg_b"]];

proptest! {
    #[test]
    fn after_a_rollback_the_same_request_applies_again(history in prop::collection::vec(step(), 0..12), chosen in 0usize..3) {
        let mut target = Target::default();
        for step in history {
            match step {
                Step::Promote(key, ids) => {
                    let key = key.map(|key| format!("key-{key}"));
                    target.promote(key.as_deref(), SELECTIONS[ids as usize]);
                }
                Step::RollBack => target.roll_back_latest(),
            }
        }
        // Applied, or a retry of the history's last request.
        prop_assert_ne!(target.promote(None, SELECTIONS[chosen]), Replay::KeyReused);
        prop_assert_eq!(target.promote(None, SELECTIONS[chosen]), Replay::Replay);
        target.roll_back_latest();
        prop_assert_eq!(target.promote(None, SELECTIONS[chosen]), Replay::Apply);
    }

    #[test]
    fn a_key_never_replays_another_body(first in 0usize..3, second in 0usize..3) {
        let mut target = Target::default();
        target.promote(Some("same"), SELECTIONS[first]);
        let expected = if first == second { Replay::Replay } else { Replay::KeyReused };
        prop_assert_eq!(target.promote(Some("same"), SELECTIONS[second]), expected);
    }
}
