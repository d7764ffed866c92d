//! The control plane's one gate. [`authorize`] reads the full promotion
//! chain (and, for member management, every member), asks the core's one
//! policy ([`tidings_core::policy::decide`]) and answers an [`Authorized`]
//! proof. Nothing else builds one, and the control plane's store functions
//! and [`super::Environment::open_authorized`] take it instead of a name, so
//! no route can reach an environment's registry row or storage without the
//! policy's yes.

use serde::Deserialize;
use tidings_core::access::{Action, Grants};
use tidings_core::environment::EnvironmentName;
use tidings_core::lifecycle::ChainEntry;
use tidings_core::policy::{self, ControlAction, Decision, Denial, MemberState, Subject};

use super::platform::Platform;
use super::{control_db, number, registry, statement, storage_error};
use crate::error::ApiError;
use crate::runtime::SweepTick;

/// Who is using the control plane: a member, or the holder of the
/// deployment's admin token (who acts as an owner, as `admin`).
pub struct Actor {
    /// Member id, or `admin`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Roles and grants.
    pub grants: Grants,
    /// The deployment's admin token, not a member.
    pub break_glass: bool,
    /// Since when this credential could act (Unix ms): the later of the
    /// member's creation and their token's issue; 0 for the admin token.
    pub since_ms: u64,
    /// Who stands behind the credential: the member, whoever issued the
    /// member's token when someone else did (they may keep a copy), or
    /// `admin`. Tokens it issues are recorded as theirs.
    pub issuer: String,
}

impl Actor {
    fn subject(&self) -> Subject<'_> {
        Subject { id: &self.id, grants: &self.grants, break_glass: self.break_glass }
    }
}

/// What an [`Authorized`] proof is about.
enum Target {
    Deployment,
    Environment(EnvironmentName),
    Pair(EnvironmentName, EnvironmentName),
}

/// Proof that the policy allowed an actor an action, and on what.
pub struct Authorized {
    actor: Actor,
    chain: Vec<ChainEntry>,
    target: Target,
    /// The action allowed inside the environment, when the proof is for one.
    action: Option<Action>,
    /// For a change to the deployment's settings: whether it may turn the admin token off.
    deployment_change: Option<bool>,
    /// Whether the proof allows deleting the environment.
    deletion: bool,
    /// Whether the proof allows archiving the environment.
    archive: bool,
    /// Whether the proof allows restoring the environment.
    restore: bool,
    /// Whether the proof allows making a preview of the environment.
    preview: bool,
    /// Whether the proof allows moving the environment's feed to more shards.
    reshard: bool,
    /// For a review of a release request: whose request it may review.
    review: Option<String>,
    /// For an action on a member (a change, a removal, a token): their
    /// grants as the policy judged them, which the write checks are still
    /// theirs.
    member: Option<Grants>,
}

impl Authorized {
    /// Who was allowed.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The grants the policy judged the action's member to hold, for an
    /// action on a member; a write about them holds only while these are
    /// still theirs ([`super::members`]).
    pub fn judged_member(&self) -> Option<&Grants> {
        self.member.as_ref()
    }

    /// Who was allowed, to ask the policy about a further action.
    pub fn into_actor(self) -> Actor {
        self.actor
    }

    /// The one environment the proof is about.
    pub fn environment(&self) -> Result<&EnvironmentName, ApiError> {
        match &self.target {
            Target::Environment(name) => Ok(name),
            _ => Err(ApiError::internal("authorization", "this proof names no single environment")),
        }
    }

    /// Checks that the proof was given for `action` in its environment, so a store function
    /// that changes something cannot be reached with a proof for less (e.g. a `View`).
    pub(super) fn require(&self, action: Action) -> Result<&EnvironmentName, ApiError> {
        if self.action == Some(action) {
            return self.environment();
        }
        Err(ApiError::internal("authorization", format!("this proof does not allow {action:?}")))
    }

    /// Checks that the proof allows deleting its environment.
    pub(super) fn require_deletion(&self) -> Result<&EnvironmentName, ApiError> {
        if self.deletion {
            return self.environment();
        }
        Err(ApiError::internal("authorization", "this proof does not allow a deletion"))
    }

    /// Checks that the proof allows resharding its environment.
    pub(super) fn require_reshard(&self) -> Result<&EnvironmentName, ApiError> {
        if self.reshard {
            return self.environment();
        }
        Err(ApiError::internal("authorization", "this proof does not allow resharding"))
    }

    /// Checks that the proof allows archiving its environment.
    pub(super) fn require_archive(&self) -> Result<&EnvironmentName, ApiError> {
        if self.archive {
            return self.environment();
        }
        Err(ApiError::internal("authorization", "this proof does not allow archiving"))
    }

    /// Checks that the proof allows restoring its environment.
    pub(super) fn require_restore(&self) -> Result<&EnvironmentName, ApiError> {
        if self.restore {
            return self.environment();
        }
        Err(ApiError::internal("authorization", "this proof does not allow restoring"))
    }

    /// The environment whose release request by `requester` the proof
    /// allows reviewing (the policy's `ReviewRelease`).
    pub(super) fn require_review(&self, requester: &str) -> Result<&EnvironmentName, ApiError> {
        if self.review.as_deref() == Some(requester) {
            return self.environment();
        }
        Err(ApiError::internal("authorization", "this proof does not allow reviewing this request"))
    }

    /// The chain as the policy judged it.
    pub(super) fn chain(&self) -> &[ChainEntry] {
        &self.chain
    }

    /// The environment a preview may be made from, when the proof allows one.
    pub(super) fn preview_source(&self) -> Result<&EnvironmentName, ApiError> {
        if self.preview {
            return self.environment();
        }
        Err(ApiError::internal("authorization", "this proof does not allow a preview"))
    }

    /// Checks that the proof allows changing the deployment's settings (and
    /// turning the admin token off, when `disables_admin_token`).
    pub(super) fn require_deployment_configuration(&self, disables_admin_token: bool) -> Result<(), ApiError> {
        match self.deployment_change {
            Some(allowed) if allowed || !disables_admin_token => Ok(()),
            _ => Err(ApiError::internal("authorization", "this proof does not allow this deployment change")),
        }
    }

    /// The source and target of an allowed promotion.
    pub(super) fn pair(&self) -> Result<(&EnvironmentName, &EnvironmentName), ApiError> {
        match &self.target {
            Target::Pair(from, to) => Ok((from, to)),
            _ => Err(ApiError::internal("authorization", "this proof names no promotion")),
        }
    }

    /// Whether the policy allows `action` in another environment of the chain read for this
    /// proof (e.g. whether a release's source may be named to the caller).
    pub fn permits_in(&self, environment: &str, action: Action) -> bool {
        let asked = ControlAction::InEnvironment { environment, action };
        policy::decide(self.actor.subject(), &[], &self.chain, asked).is_allowed()
    }

    /// Whether the policy allows `action` in `environment` with its personal
    /// data shown ([`ControlAction::WithPersonalData`]: a personal-data grant there).
    pub fn permits_with_personal_data(&self, environment: &str, action: Action) -> bool {
        let asked = ControlAction::WithPersonalData { environment, action };
        policy::decide(self.actor.subject(), &[], &self.chain, asked).is_allowed()
    }

    /// Refuses a release request the policy would not let this caller make
    /// ([`ControlAction::RequestRelease`]: a member's, never the admin
    /// token's), in `environment` with `action`'s right there.
    pub fn may_request_release(&self, environment: &str, action: Action) -> Result<(), ApiError> {
        let asked = ControlAction::RequestRelease { environment, action };
        match policy::decide(self.actor.subject(), &[], &self.chain, asked) {
            Decision::Allow => Ok(()),
            Decision::Deny(denial) => Err(refusal(&denial)),
        }
    }

    /// Whether the policy also allows `action` on the same environment
    /// (e.g. seeing personal data where the route only needed to look).
    pub fn permits(&self, action: Action) -> bool {
        let Ok(name) = self.environment() else { return false };
        let asked = ControlAction::InEnvironment { environment: name.as_str(), action };
        policy::decide(self.actor.subject(), &[], &self.chain, asked).is_allowed()
    }
}

/// Asks the policy whether `actor` may do `action`; the only way to an [`Authorized`].
pub async fn authorize(env: &Platform, actor: Actor, action: ControlAction<'_>) -> Result<Authorized, ApiError> {
    let chain = registry::chain(env).await?;
    let members = match action {
        ControlAction::UpdateMember { .. }
        | ControlAction::RemoveMember { .. }
        | ControlAction::IssueToken { .. }
        | ControlAction::RevokeToken { .. }
        | ControlAction::ConfigureDeployment { .. }
        | ControlAction::ReviewRelease { approving: Some(_), .. } => {
            member_states(env, crate::platform::now_ms()).await?
        }
        _ => Vec::new(),
    };
    let action_asked = action;
    if let Decision::Deny(denial) = policy::decide(actor.subject(), &members, &chain, action) {
        return Err(refusal(&denial));
    }
    let name = |text: &str| EnvironmentName::parse(text).map_err(|error| ApiError::internal("authorize", error));
    let target = match action {
        ControlAction::InEnvironment { environment, .. }
        | ControlAction::DeleteEnvironment { environment }
        | ControlAction::ArchiveEnvironment { environment }
        | ControlAction::RestoreEnvironment { environment }
        | ControlAction::ReshardEnvironment { environment }
        | ControlAction::WithPersonalData { environment, .. }
        | ControlAction::ReviewRelease { environment, .. }
        | ControlAction::RequestRelease { environment, .. } => Target::Environment(name(environment)?),
        ControlAction::CreatePreview { from } => Target::Environment(name(from)?),
        ControlAction::Promote { from, to } | ControlAction::PreviewPromotion { from, to } => {
            Target::Pair(name(from)?, name(to)?)
        }
        _ => Target::Deployment,
    };
    let (action, deletion) = match action {
        ControlAction::InEnvironment { action, .. } | ControlAction::WithPersonalData { action, .. } => {
            (Some(action), false)
        }
        ControlAction::DeleteEnvironment { .. } => (None, true),
        _ => (None, false),
    };
    let deployment_change = match action_asked {
        ControlAction::ConfigureDeployment { disables_admin_token } => Some(disables_admin_token),
        _ => None,
    };
    let archive = matches!(action_asked, ControlAction::ArchiveEnvironment { .. });
    let restore = matches!(action_asked, ControlAction::RestoreEnvironment { .. });
    let preview = matches!(action_asked, ControlAction::CreatePreview { .. });
    let reshard = matches!(action_asked, ControlAction::ReshardEnvironment { .. });
    let review = match action_asked {
        ControlAction::ReviewRelease { requester, .. } => Some(requester.to_owned()),
        _ => None,
    };
    let member = match action_asked {
        ControlAction::UpdateMember { member, .. }
        | ControlAction::RemoveMember { member }
        | ControlAction::IssueToken { member }
        | ControlAction::RevokeToken { member } => {
            members.iter().find(|state| state.id == member).map(|state| state.grants.clone())
        }
        _ => None,
    };
    Ok(Authorized {
        actor,
        chain,
        target,
        action,
        deletion,
        deployment_change,
        archive,
        restore,
        preview,
        reshard,
        review,
        member,
    })
}

/// The proof the scheduled sweep acts with on one environment that is due:
/// archiving an expired preview (`archive`) or purging an environment past
/// its purge date (`delete`). Only the runtime's scheduled event holds a
/// [`SweepTick`]; the actor is `system`, and the proof allows nothing else.
pub(super) async fn for_sweep(
    env: &Platform,
    _tick: &SweepTick,
    name: &EnvironmentName,
    step: SweepStep,
) -> Result<Authorized, ApiError> {
    let chain = registry::chain(env).await?;
    let actor = Actor {
        id: "system".to_owned(),
        name: "Tidings".to_owned(),
        grants: Grants::role(tidings_core::access::Role::Owner),
        break_glass: false,
        since_ms: 0,
        issuer: "system".to_owned(),
    };
    Ok(Authorized {
        actor,
        chain,
        target: Target::Environment(name.clone()),
        action: None,
        deployment_change: None,
        deletion: matches!(step, SweepStep::Purge | SweepStep::Discard),
        archive: step == SweepStep::Archive,
        restore: false,
        preview: false,
        reshard: false,
        review: None,
        member: None,
    })
}

/// What the sweep does to a due environment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SweepStep {
    /// A preview whose lifetime ended: archive it.
    Archive,
    /// An archived environment past its purge date: remove everything.
    Purge,
    /// An expired preview whose storage never became ready: delete it.
    Discard,
}

/// The API error of a denial.
pub fn refusal(denial: &Denial) -> ApiError {
    let error = ApiError::new(denial.status(), denial.code(), denial.message());
    match denial {
        Denial::NotAdjacent { .. } => error.with_field("to"),
        Denial::PreviewSource(_) => error.with_field("from"),
        _ => error,
    }
}

/// Every live member with their grants and how many of their tokens work now.
async fn member_states(env: &Platform, now_ms: u64) -> Result<Vec<MemberState>, ApiError> {
    #[derive(Deserialize)]
    struct TokenCount {
        member_id: String,
        live: f64,
    }
    let counts: Vec<TokenCount> = statement(
        &control_db(env)?,
        "SELECT member_id, COUNT(*) AS live FROM member_tokens WHERE revoked_at IS NULL AND expires_at > ?1 \
         GROUP BY member_id",
        &[number(now_ms)],
    )?
    .all()
    .await
    .and_then(|result| result.results())
    .map_err(|error| storage_error("count member tokens", error))?;
    Ok(super::members(env)
        .await?
        .into_iter()
        .map(|(member, grants)| {
            let live_tokens =
                counts.iter().find(|count| count.member_id == member.id).map_or(0, |count| count.live as u32);
            MemberState { id: member.id, grants, live_tokens }
        })
        .collect())
}
