//! The fan-outs queue: a trigger to topics hands its fan-out to the queue
//! once recorded (and the sweep again when it stalls); each message asks for
//! the fan-out's next page. The consumer opens an environment only from a
//! message sealed by this deployment, for the environment the seal names.

use tidings_core::environment::EnvironmentName;
use tidings_core::topic::FanoutHandOff;
use tidings_core::wire::FanoutHandOffMessage;

use super::delivery_queue::Refusal;
use super::faults::HandOffFault;
use super::{deployment, secrets, Environment, Platform};
use crate::error::ApiError;

/// The queue binding (wrangler.toml `[[queues.producers]]`).
pub const QUEUE: &str = "FANOUTS";
/// The name of the queue it sends to, for the consumer to tell its batches apart.
pub const QUEUE_NAME: &str = "tidings-fanouts";

/// A fan-out message whose seal this deployment made: the only way to open
/// an environment for a fan-out's page. Made by [`verify_fanout`] alone.
pub struct VerifiedFanout {
    environment: EnvironmentName,
    transaction_id: String,
}

impl VerifiedFanout {
    /// The fan-out's transaction id.
    pub fn transaction_id(&self) -> &str {
        &self.transaction_id
    }
}

/// Checks a fan-out message's body and seal.
pub fn verify_fanout(env: &Platform, body: &str) -> Result<VerifiedFanout, Refusal> {
    let message: FanoutHandOffMessage = serde_json::from_str(body).map_err(|_| Refusal::Malformed)?;
    if message.v != 1 || message.kind != "fanout" {
        return Err(Refusal::Malformed);
    }
    let key = secrets::encryption_key(env).map_err(|_| Refusal::BadSeal)?;
    let hand_off = FanoutHandOff { environment: message.environment, transaction_id: message.transaction_id };
    if !hand_off.verify(&key, &message.seal) {
        return Err(Refusal::BadSeal);
    }
    let environment = EnvironmentName::parse(&hand_off.environment).map_err(|_| Refusal::NotServed)?;
    deployment::ensure_served(env, &environment).map_err(|_| Refusal::NotServed)?;
    Ok(VerifiedFanout { environment, transaction_id: hand_off.transaction_id })
}

impl Environment {
    /// Opens the environment a verified fan-out message names.
    pub async fn open_for_fanout(env: &Platform, verified: &VerifiedFanout) -> Result<Self, ApiError> {
        Self::open_named(env, &verified.environment).await
    }

    /// Asks the queue for the next page of a fan-out. A message that cannot
    /// be sent is an error; the sweep hands a stalled fan-out off again.
    pub async fn hand_off_fanout(&self, env: &Platform, transaction_id: &str) -> Result<(), ApiError> {
        if self.hand_off_fault() == HandOffFault::Drop {
            return Ok(());
        }
        let key = secrets::encryption_key(env)?;
        let hand_off =
            FanoutHandOff { environment: self.name().to_string(), transaction_id: transaction_id.to_owned() };
        let message = FanoutHandOffMessage {
            v: 1,
            kind: "fanout".to_owned(),
            seal: hand_off.seal(&key),
            environment: hand_off.environment,
            transaction_id: hand_off.transaction_id,
        };
        let queue = env
            .queue(QUEUE)
            .map_err(|error| ApiError::unavailable("fan-out queue", format!("no {QUEUE} binding: {error}")))?;
        queue.send(message).await.map_err(|error| ApiError::unavailable("fan-out queue", error.to_string()))
    }
}
