//! The deliveries queue: webhook deliveries handed off after their trigger
//! committed (and again by the sweep, or for a retry), and the consumer's
//! side, which opens an environment only from a hand-off sealed by this
//! deployment and only for the environment the seal names.

use serde::Deserialize;
use tidings_core::delivery::{HandOff, MAX_QUEUE_DELAY_SECS};
use tidings_core::environment::EnvironmentName;
use tidings_core::lifecycle::Status;
use tidings_core::wire::DeliveryHandOffMessage;
use worker::{BatchMessageBuilder, SendMessage};

use super::faults::HandOffFault;
use super::{deployment, secrets, Environment, Platform};
use crate::error::ApiError;
use crate::runtime::SweepTick;

/// The queue binding (wrangler.toml `[[queues.producers]]`).
const QUEUE: &str = "DELIVERIES";
/// Cloudflare Queues take at most 100 messages per batch.
const BATCH: usize = 100;

/// A hand-off whose seal this deployment made: the only way to open an
/// environment for its deliveries. Made by [`verify_hand_off`] alone.
pub struct VerifiedHandOff {
    hand_off: HandOff,
    environment: EnvironmentName,
}

impl VerifiedHandOff {
    /// What was handed off.
    pub fn hand_off(&self) -> &HandOff {
        &self.hand_off
    }
}

/// Why the consumer refused a queue message.
#[derive(Debug)]
pub enum Refusal {
    /// Not a hand-off message.
    Malformed,
    /// Not sealed by this deployment, or altered.
    BadSeal,
    /// Names an environment this deployment does not serve, or no valid name.
    NotServed,
}

/// Checks a queue message's body and seal.
pub fn verify_hand_off(env: &Platform, body: &str) -> Result<VerifiedHandOff, Refusal> {
    let message: DeliveryHandOffMessage = serde_json::from_str(body).map_err(|_| Refusal::Malformed)?;
    if message.v != 1 {
        return Err(Refusal::Malformed);
    }
    let key = secrets::encryption_key(env).map_err(|_| Refusal::BadSeal)?;
    let hand_off = HandOff {
        environment: message.environment,
        delivery: message.delivery,
        attempts: message.attempts,
        at_ms: message.at,
    };
    if !hand_off.verify(&key, &message.seal) {
        return Err(Refusal::BadSeal);
    }
    let environment = EnvironmentName::parse(&hand_off.environment).map_err(|_| Refusal::NotServed)?;
    deployment::ensure_served(env, &environment).map_err(|_| Refusal::NotServed)?;
    Ok(VerifiedHandOff { hand_off, environment })
}

impl Environment {
    /// Opens the environment a verified hand-off names.
    pub async fn open_for_hand_off(env: &Platform, verified: &VerifiedHandOff) -> Result<Self, ApiError> {
        Self::open_named(env, &verified.environment).await
    }

    /// Opens a ready environment for the scheduled sweep.
    pub async fn open_for_sweep(env: &Platform, _tick: &SweepTick, name: &EnvironmentName) -> Result<Self, ApiError> {
        deployment::ensure_served(env, name)?;
        Self::open_named(env, name).await
    }

    /// Hands deliveries of this environment to the queue, each to claim the
    /// attempt after `attempts`, not before `at_ms`, and delivered by the
    /// queue after `delay_secs` (at most the queue's 12 hours). A failure is logged: the sweep finds every
    /// pending delivery whose hand-off did not arrive.
    pub async fn hand_off(&self, env: &Platform, deliveries: &[(String, u32)], at_ms: u64, delay_secs: u32) {
        self.hand_off_as(env, deliveries, at_ms, delay_secs, HandOffFault::None).await;
    }

    /// [`Self::hand_off`], with a test's injected fault.
    pub async fn hand_off_as(
        &self,
        env: &Platform,
        deliveries: &[(String, u32)],
        at_ms: u64,
        delay_secs: u32,
        fault: HandOffFault,
    ) {
        if deliveries.is_empty() || fault == HandOffFault::Drop {
            return;
        }
        // A later due time comes back early and is handed off again for the rest.
        let delay_secs = delay_secs.min(MAX_QUEUE_DELAY_SECS);
        let key = match secrets::encryption_key(env) {
            Ok(key) => key,
            Err(error) => {
                worker::console_error!("deliveries not handed off (the sweep will): {error:?}");
                return;
            }
        };
        let environment = if fault == HandOffFault::Misroute {
            other_environment(self.name().as_str())
        } else {
            self.name().to_string()
        };
        let messages: Vec<DeliveryHandOffMessage> = deliveries
            .iter()
            .map(|(delivery, attempts)| {
                let hand_off = HandOff {
                    environment: environment.clone(),
                    delivery: delivery.clone(),
                    attempts: *attempts,
                    at_ms,
                };
                let seal = if fault == HandOffFault::Forge { hand_off.seal(&[0; 32]) } else { hand_off.seal(&key) };
                DeliveryHandOffMessage {
                    v: 1,
                    environment: hand_off.environment,
                    delivery: hand_off.delivery,
                    attempts: hand_off.attempts,
                    at: hand_off.at_ms,
                    seal,
                }
            })
            .collect();
        let queue = match env.queue(QUEUE) {
            Ok(queue) => queue,
            Err(error) => {
                worker::console_error!("no {QUEUE} queue binding; deliveries wait for the sweep: {error}");
                return;
            }
        };
        for chunk in messages.chunks(BATCH) {
            let batch = BatchMessageBuilder::new()
                .messages(chunk.iter().cloned().map(SendMessage::from))
                .delay_seconds(delay_secs)
                .build();
            if let Err(error) = queue.send_batch(batch).await {
                worker::console_error!("deliveries of {} not handed off (the sweep will): {error}", self.name());
            }
        }
    }
}

/// An environment of the registry, for the sweep's list.
#[derive(Deserialize)]
struct Listed {
    name: String,
    status: String,
}

/// The names of the environments this deployment serves that are ready.
pub async fn sweepable_environments(env: &Platform, _tick: &SweepTick) -> Result<Vec<EnvironmentName>, ApiError> {
    let rows: Vec<Listed> = super::statement(&super::control_db(env)?, "SELECT name, status FROM environments", &[])?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| super::storage_error("list environments", error))?;
    Ok(rows
        .into_iter()
        .filter(|row| Status::parse(&row.status).is_some_and(Status::accepts_new_keys))
        .filter_map(|row| EnvironmentName::parse(&row.name).ok())
        .filter(|name| deployment::ensure_served(env, name).is_ok())
        .collect())
}

/// Another environment's name for a misrouted test hand-off.
fn other_environment(name: &str) -> String {
    if name == "staging" { "development" } else { "staging" }.to_owned()
}
