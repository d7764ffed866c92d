//! Webhook deliveries after the trigger has answered: which outcomes are
//! retried and when, when a delivery is dead, the per-integration circuit
//! breaker, and the hand-off that puts a delivery on the queue.
//!
//! A delivery is stored `pending` in the trigger's transaction, handed to a
//! queue after the commit, and sent by the queue's consumer. Each attempt is
//! claimed in the database first (`attempts` must still be what the hand-off
//! says), so a hand-off that arrives twice, late, or after a sweep already
//! re-sent it claims nothing: every attempt is recorded exactly once, and the
//! receiver sees the same `Tidings-Delivery-Id` on every attempt to
//! deduplicate the at-least-once sends.

use crate::derive::{self, Purpose};

mod query;
pub use query::{CheckedReplayFilter, DeliveryQuery, DeliveryQueryError, DeliveryStatus};

/// Waits before the 2nd, 3rd, … attempt, in seconds (±10 % jitter each):
/// about 32 hours from the first attempt to the last.
pub const RETRY_DELAYS_SECS: [u32; 8] = [10, 60, 300, 1_800, 7_200, 21_600, 43_200, 43_200];
/// Attempts in one series (from the trigger, or from a replay) before `dead`.
pub const MAX_ATTEMPTS: u32 = RETRY_DELAYS_SECS.len() as u32 + 1;
/// The longest delay a queue message can carry (Cloudflare Queues: 12 hours).
pub const MAX_QUEUE_DELAY_SECS: u32 = 43_200;
/// A pending delivery due longer ago than this lost its hand-off (the
/// isolate ended between the commit and the queue, or during an attempt):
/// the sweep hands it off again.
pub const HANDOFF_GRACE_MS: u64 = 60_000;
/// How long after the sweep handed a delivery off it may hand it off again
/// (while a lagging queue still holds the first hand-off).
pub const SWEEP_REHAND_MS: u64 = 5 * 60_000;
/// How long a claimed attempt may take before the sweep counts it lost.
pub const ATTEMPT_LEASE_MS: u64 = 60_000;
/// How long one attempt waits for the receiver's answer.
pub const REQUEST_TIMEOUT_MS: u64 = 15_000;
/// Consecutive failures of one integration that open its circuit breaker.
pub const BREAKER_THRESHOLD: u32 = 5;
/// The longest an open breaker holds an integration's deliveries.
pub const BREAKER_MAX_HOLD_SECS: u32 = 3_600;
/// Attempts to one integration in flight at once, per consumer invocation.
pub const MAX_IN_FLIGHT_PER_INTEGRATION: usize = 4;
/// Deliveries one sweep hands off per environment; the next sweep takes the rest.
pub const SWEEP_LIMIT: u32 = 500;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptClass {
    /// The receiver accepted it (2xx).
    Delivered,
    /// Worth another attempt: no answer, 408, 429 or 5xx.
    Retryable,
    /// Another attempt would fail the same way: a redirect or another 4xx.
    Final,
}

/// Classifies an answer (`None`: no answer came: connection refused, reset, timeout).
pub fn classify(status: Option<u16>) -> AttemptClass {
    match status {
        None => AttemptClass::Retryable,
        Some(200..=299) => AttemptClass::Delivered,
        Some(status) if crate::webhook::is_retryable(status) => AttemptClass::Retryable,
        Some(_) => AttemptClass::Final,
    }
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after this many seconds.
    RetryIn(u32),
    /// The series is over: the delivery is `dead`.
    Dead,
}

/// After the `made`-th attempt of a series failed retryably: when to try
/// again. `retry_after` (the receiver's `Retry-After`, in seconds) is
/// honoured up to the queue's longest delay; `jitter` is any random number.
pub fn after_failure(made: u32, retry_after: Option<u32>, jitter: u32) -> Next {
    let Some(&base) = made.checked_sub(1).and_then(|index| RETRY_DELAYS_SECS.get(index as usize)) else {
        return Next::Dead;
    };
    let spread = base / 10;
    let jittered = base - spread + jitter % (2 * spread + 1);
    Next::RetryIn(jittered.max(retry_after.unwrap_or(0)).min(MAX_QUEUE_DELAY_SECS))
}

/// A `Retry-After` header in delay-seconds form; HTTP dates are ignored
/// (the schedule's own delay applies).
pub fn parse_retry_after(value: &str) -> Option<u32> {
    let value = value.trim();
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// How long an integration's breaker holds its deliveries after
/// `consecutive_failures` failures in a row: nothing below the threshold,
/// then 30 s doubling per further failure, at most an hour.
pub fn breaker_hold_secs(consecutive_failures: u32) -> Option<u32> {
    let beyond = consecutive_failures.checked_sub(BREAKER_THRESHOLD)?;
    Some(30u32.saturating_mul(1 << beyond.min(16)).min(BREAKER_MAX_HOLD_SECS))
}

/// A delivery put on the queue: which environment and delivery, how many
/// attempts had been made when it was handed off (the attempt it may
/// claim), and the clock it was handed off at (the consumer never runs
/// earlier than that; a sweep fired with a given time runs the schedule at
/// that time). Sealed with a key derived from the deployment's encryption
/// key for this purpose only, so a message cannot be made elsewhere, nor
/// moved to another environment or delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOff {
    /// The environment's name.
    pub environment: String,
    /// The delivery's id.
    pub delivery: String,
    /// Attempts made so far; the consumer claims attempt `attempts + 1`.
    pub attempts: u32,
    /// When it was handed off (ms since the epoch).
    pub at_ms: u64,
}

impl HandOff {
    fn signed_text(&self) -> String {
        format!("v1\n{}\n{}\n{}\n{}", self.environment, self.delivery, self.attempts, self.at_ms)
    }

    /// The hex seal of this hand-off.
    pub fn seal(&self, encryption_key: &[u8; 32]) -> String {
        derive::seal(encryption_key, Purpose::DeliveryHandOff, &self.signed_text())
    }

    /// Whether `seal` is this hand-off's, in constant time.
    pub fn verify(&self, encryption_key: &[u8; 32], seal: &str) -> bool {
        derive::verify_seal(encryption_key, Purpose::DeliveryHandOff, &self.signed_text(), seal)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_schedule_spans_more_than_a_day() {
        let shortest: u64 = RETRY_DELAYS_SECS.iter().map(|&delay| u64::from(delay - delay / 10)).sum();
        assert!(shortest >= 24 * 3600, "{shortest} s");
        assert_eq!(MAX_ATTEMPTS, 9);
        assert!(RETRY_DELAYS_SECS.windows(2).all(|pair| pair[0] <= pair[1]));
    }

    #[test]
    fn classifies_answers() {
        assert_eq!(classify(Some(204)), AttemptClass::Delivered);
        for status in [None, Some(408), Some(429), Some(500), Some(503)] {
            assert_eq!(classify(status), AttemptClass::Retryable, "{status:?}");
        }
        for status in [301, 302, 400, 401, 404, 410, 422] {
            assert_eq!(classify(Some(status)), AttemptClass::Final, "{status}");
        }
    }

    #[test]
    fn retry_after_in_seconds_only() {
        assert_eq!(parse_retry_after(" 120 "), Some(120));
        for text in ["", "-1", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", "9999999999"] {
            assert_eq!(parse_retry_after(text), None, "{text}");
        }
    }

    #[test]
    fn the_breaker_opens_at_the_threshold_and_backs_off() {
        assert_eq!(breaker_hold_secs(BREAKER_THRESHOLD - 1), None);
        assert_eq!(breaker_hold_secs(BREAKER_THRESHOLD), Some(30));
        assert_eq!(breaker_hold_secs(BREAKER_THRESHOLD + 1), Some(60));
        assert_eq!(breaker_hold_secs(u32::MAX), Some(BREAKER_MAX_HOLD_SECS));
    }

    #[test]
    fn a_seal_binds_every_field() {
        let key = [7u8; 32];
        let handoff = HandOff { environment: "development".into(), delivery: "d1".into(), attempts: 2, at_ms: 5 };
        let seal = handoff.seal(&key);
        assert!(handoff.verify(&key, &seal));
        assert!(!handoff.verify(&[8u8; 32], &seal));
        assert!(!handoff.verify(&key, "zz"));
        let moved = [
            HandOff { environment: "staging".into(), ..handoff.clone() },
            HandOff { delivery: "d2".into(), ..handoff.clone() },
            HandOff { attempts: 3, ..handoff.clone() },
            HandOff { at_ms: 6, ..handoff.clone() },
        ];
        for other in moved {
            assert!(!other.verify(&key, &seal), "{other:?}");
        }
    }

    proptest! {
        #[test]
        fn every_attempt_before_the_last_retries_within_the_queue_limit(
            made in 1u32..MAX_ATTEMPTS,
            retry_after in proptest::option::of(0u32..200_000),
            jitter in any::<u32>(),
        ) {
            let Next::RetryIn(delay) = after_failure(made, retry_after, jitter) else {
                return Err(TestCaseError::fail("a series ended early"));
            };
            let base = RETRY_DELAYS_SECS[made as usize - 1];
            prop_assert!(delay <= MAX_QUEUE_DELAY_SECS);
            prop_assert!(delay >= (base - base / 10).min(MAX_QUEUE_DELAY_SECS));
            prop_assert!(delay <= (base + base / 10).max(retry_after.unwrap_or(0)).min(MAX_QUEUE_DELAY_SECS));
            if let Some(wanted) = retry_after {
                prop_assert!(delay >= wanted.min(MAX_QUEUE_DELAY_SECS), "Retry-After {wanted} not honoured: {delay}");
            }
        }

        #[test]
        fn the_series_ends_after_the_last_attempt(made in MAX_ATTEMPTS..u32::MAX, jitter in any::<u32>()) {
            prop_assert_eq!(after_failure(made, Some(1), jitter), Next::Dead);
        }
    }
}
