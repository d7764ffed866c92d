//! The one authorization policy of the control plane.
//!
//! Every control-plane action, on an environment, on the promotion chain or
//! on members, is decided here by [`decide`], a pure function of who asks,
//! the members of the deployment, the full promotion chain and the action.
//! The worker's only way to obtain its `Authorized` proof is through this
//! function, so a rule written here holds for every route.
//!
//! Rules beyond the role matrix of [`crate::access`]:
//! - nobody changes their own grants (a `none` is never lifted by its holder);
//! - a member grants, creates or hands a token for only what they hold
//!   themselves, in every environment concerned;
//! - personal data is granted only by someone who holds it there (or the
//!   deployment's break-glass admin token);
//! - promotion adjacency is computed over the whole chain, whatever the
//!   caller can see;
//! - the deployment keeps at least one owner who can sign in: the last one
//!   can neither be removed nor demoted, nor lose their last token;
//! - a release request into an environment that requires approval is
//!   approved or rejected only by another member allowed to promote into
//!   it: never by its requester, never by the deployment's admin token.

use std::collections::BTreeSet;

use crate::access::{Action, DeploymentAction, Grants, Role};
use crate::environment::EnvironmentType;
use crate::lifecycle::ChainEntry;

mod denial;

pub use denial::Denial;

/// Who asks: a member, or the holder of the deployment's admin token.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Member id (`mem_…`), or `admin` for the admin token.
    pub id: &'a str,
    /// Their roles and grants.
    pub grants: &'a Grants,
    /// The deployment's admin token: the root of trust, which may grant
    /// anything (it is how the first personal-data grant is made).
    pub break_glass: bool,
}

/// A member of the deployment as the policy needs to see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    /// `mem_…`.
    pub id: String,
    /// Their roles and grants.
    pub grants: Grants,
    /// How many of their tokens work now.
    pub live_tokens: u32,
}

/// A control-plane action.
#[derive(Debug, Clone, Copy)]
pub enum ControlAction<'a> {
    /// An action inside one environment.
    InEnvironment {
        /// The environment's name.
        environment: &'a str,
        /// What is done there.
        action: Action,
    },
    /// An action that would hand out what the environment's masking hides
    /// (turning masking off, a secret key, the signing secret, feeds without
    /// credentials, a test send rendering profiles): the action's own right
    /// and a personal-data grant there (or the break-glass token).
    WithPersonalData {
        /// The environment's name.
        environment: &'a str,
        /// What is done there.
        action: Action,
    },
    /// Create an environment (the deployment's right to manage them).
    CreateEnvironment,
    /// Place a new environment on the promotion chain, after `after` or by
    /// default before the first production environment: creating
    /// environments, and configuring the environments on either side of its
    /// place, whose promotions it changes (what the next one promotes from).
    PlaceEnvironment {
        /// The environment it goes after, as the request names it.
        after: Option<&'a str>,
    },
    /// Delete an environment, or purge an archived one (a production-type
    /// one, whatever its name: an owner only).
    DeleteEnvironment {
        /// The environment's name.
        environment: &'a str,
    },
    /// Archive an environment (keys refused, data kept): the same rights as
    /// deleting it.
    ArchiveEnvironment {
        /// The environment's name.
        environment: &'a str,
    },
    /// Restore an archived environment (its keys work again, its data as it
    /// was): creating environments and configuring this one, as archiving
    /// it but for production's owner-only rule, since nothing is lost.
    RestoreEnvironment {
        /// The environment's name.
        environment: &'a str,
    },
    /// Move an environment's feed to more shards (its storage layout): the
    /// same rights as deleting it.
    ReshardEnvironment {
        /// The environment's name.
        environment: &'a str,
    },
    /// Create a preview environment seeded with the content of `from`:
    /// creating environments, and seeing `from`.
    CreatePreview {
        /// The environment whose content it starts with.
        from: &'a str,
    },
    /// See what promoting `from` into `to` would change.
    PreviewPromotion {
        /// Source.
        from: &'a str,
        /// Target.
        to: &'a str,
    },
    /// Promote `from` into `to`.
    Promote {
        /// Source.
        from: &'a str,
        /// Target.
        to: &'a str,
    },
    /// Approve or reject a release request into `environment` made by
    /// `requester`: the right to promote into it, held by a member who is
    /// not the requester (the admin token is nobody's second pair of eyes).
    ReviewRelease {
        /// The request's target.
        environment: &'a str,
        /// Who made the request (member id, or `admin`).
        requester: &'a str,
        /// When the request was made (Unix ms).
        requested_at_ms: u64,
        /// Since when the reviewer's credential could act: the later of the
        /// member's creation and their token's issue. A member or token made
        /// after the request (a second identity made for the occasion) is
        /// nobody's second pair of eyes for it.
        reviewer_since_ms: u64,
        /// Who stands behind the reviewer's credential: the reviewer, or
        /// whoever issued their token (who may keep a copy). A token the
        /// requester issued is the requester's own pair of eyes.
        reviewer_issuer: &'a str,
        /// Who stands behind the credential the request was made with: the
        /// requester, or whoever issued their token. That member may have
        /// made the request with their copy, so they review none of it.
        requester_issuer: &'a str,
        /// For an approval, what the requester must still be allowed to do
        /// there (promote into it; configure it, to turn approval off): a
        /// request outlives neither its requester nor their right, and the
        /// admin token's is nobody's. `None` for a rejection, which anyone
        /// who may review gives.
        approving: Option<Action>,
    },
    /// Ask for a release into an environment that requires approval (a
    /// promotion, import or rollback, with `action`'s right there, or turning
    /// approval off, with `Configure`): a member's only. The admin token acts
    /// as any owner, so its request would be approved by the one holding it.
    RequestRelease {
        /// The environment.
        environment: &'a str,
        /// The right the request itself needs there.
        action: Action,
    },
    /// List members, read the deployment's audit log.
    ReadMembers,
    /// Add a member with these grants.
    CreateMember {
        /// The new member's grants.
        grants: &'a Grants,
    },
    /// Change a member's grants (or only their name: `after` equal to theirs).
    UpdateMember {
        /// The member's id.
        member: &'a str,
        /// Their grants after the change.
        after: &'a Grants,
    },
    /// Remove a member.
    RemoveMember {
        /// The member's id.
        member: &'a str,
    },
    /// Issue a personal access token to a member.
    IssueToken {
        /// The member's id.
        member: &'a str,
    },
    /// Revoke one of a member's live tokens.
    RevokeToken {
        /// The member's id.
        member: &'a str,
    },
    /// Change the deployment's settings: owners only. Turning the
    /// break-glass admin token off needs an owner who can sign in without it.
    ConfigureDeployment {
        /// Whether the change turns the admin token off.
        disables_admin_token: bool,
    },
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused, and why.
    Deny(Denial),
}

impl Decision {
    /// Whether the action is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// Decides whether `subject` may do `action`, given every member of the
/// deployment and the full promotion chain (every live environment).
pub fn decide(
    subject: Subject<'_>,
    members: &[MemberState],
    chain: &[ChainEntry],
    action: ControlAction<'_>,
) -> Decision {
    match check(subject, members, chain, action) {
        Ok(()) => Decision::Allow,
        Err(denial) => Decision::Deny(denial),
    }
}

fn check(
    subject: Subject<'_>,
    members: &[MemberState],
    chain: &[ChainEntry],
    action: ControlAction<'_>,
) -> Result<(), Denial> {
    let grants = subject.grants;
    match action {
        ControlAction::InEnvironment { environment, action } => in_environment(grants, chain, environment, action),
        ControlAction::WithPersonalData { environment, action } => {
            in_environment(grants, chain, environment, action)?;
            if subject.break_glass || grants.personal_data.contains(environment) {
                Ok(())
            } else {
                Err(Denial::Forbidden(format!(
                    "{environment} masks personal data, and this would show it; it needs a personal-data grant there"
                )))
            }
        }
        ControlAction::CreateEnvironment => deployment(grants, DeploymentAction::ManageEnvironments),
        ControlAction::PlaceEnvironment { after } => {
            deployment(grants, DeploymentAction::ManageEnvironments)?;
            if let Some(after) = after.filter(|after| entry(chain, after).is_some()) {
                visible(grants, chain, after)?;
            }
            // A place that cannot be had (after production, after a preview, after nothing
            // known) is the lifecycle's typed refusal, not the policy's.
            let Ok(position) = crate::lifecycle::insert_position(chain, after) else { return Ok(()) };
            // The environments on either side: the one before the place, and the one now at it.
            configures_neighbours(grants, chain, |entry| entry.position + 1 == position || entry.position == position)
        }
        ControlAction::DeleteEnvironment { environment } | ControlAction::ArchiveEnvironment { environment } => {
            let environment_type = visible(grants, chain, environment)?;
            deployment(grants, DeploymentAction::ManageEnvironments)?;
            in_environment(grants, chain, environment, Action::Configure)?;
            // A deletion closes the gap: the environments on either side then promote into each other.
            if let (ControlAction::DeleteEnvironment { .. }, Some(gone)) = (action, entry(chain, environment)) {
                if gone.on_chain() {
                    let (before, after) = (gone.position.checked_sub(1), gone.position + 1);
                    configures_neighbours(grants, chain, |entry| {
                        Some(entry.position) == before || entry.position == after
                    })?;
                }
            }
            // Whatever its name: a production-type environment's keys and subscribers end only
            // by an owner's hand (or the break-glass token's).
            if environment_type == EnvironmentType::Production && grants.role != Role::Owner && !subject.break_glass {
                return Err(Denial::Forbidden(format!(
                    "{environment} is a production environment: only an owner may archive, delete or purge it"
                )));
            }
            Ok(())
        }
        ControlAction::ReshardEnvironment { environment } | ControlAction::RestoreEnvironment { environment } => {
            visible(grants, chain, environment)?;
            deployment(grants, DeploymentAction::ManageEnvironments)?;
            in_environment(grants, chain, environment, Action::Configure)
        }
        ControlAction::CreatePreview { from } => {
            deployment(grants, DeploymentAction::ManageEnvironments)?;
            in_environment(grants, chain, from, Action::View)?;
            match entry(chain, from) {
                Some(source) if source.on_chain() && source.environment_type != EnvironmentType::Production => Ok(()),
                _ => Err(Denial::PreviewSource(from.to_owned())),
            }
        }
        ControlAction::PreviewPromotion { from, to } => promotion(grants, chain, from, to, Action::View),
        ControlAction::Promote { from, to } => promotion(grants, chain, from, to, Action::PromoteInto),
        ControlAction::ReviewRelease {
            environment,
            requester,
            requested_at_ms,
            reviewer_since_ms,
            reviewer_issuer,
            requester_issuer,
            approving,
        } => {
            in_environment(grants, chain, environment, Action::PromoteInto)?;
            // Approving a change of the environment's settings (approval turned off) is a
            // change of its settings: the reviewer needs that right too.
            if approving == Some(Action::Configure) {
                in_environment(grants, chain, environment, Action::Configure)?;
            }
            if subject.break_glass {
                return Err(Denial::ReviewByAdminToken);
            }
            if subject.id == requester {
                return Err(Denial::OwnRequest);
            }
            if reviewer_issuer == requester {
                return Err(Denial::TokenOfRequester);
            }
            // Nor one whose token and the request's were issued by the same member: they may
            // hold copies of both.
            if subject.id == requester_issuer || reviewer_issuer == requester_issuer {
                return Err(Denial::RequestWithReviewersToken);
            }
            if reviewer_since_ms >= requested_at_ms {
                return Err(Denial::ReviewerTooNew);
            }
            if let Some(needed) = approving {
                let still_allowed = members
                    .iter()
                    .find(|member| member.id == requester)
                    .is_some_and(|member| in_environment(&member.grants, chain, environment, needed).is_ok());
                if !still_allowed {
                    return Err(Denial::RequesterWithoutRight);
                }
            }
            Ok(())
        }
        ControlAction::RequestRelease { environment, action } => {
            in_environment(grants, chain, environment, action)?;
            if subject.break_glass {
                return Err(Denial::RequestByAdminToken);
            }
            Ok(())
        }
        ControlAction::ReadMembers => deployment(grants, DeploymentAction::ManageMembers),
        ControlAction::CreateMember { grants: wanted } => {
            deployment(grants, DeploymentAction::ManageMembers)?;
            covers(subject, chain, None, wanted)?;
            Ok(())
        }
        ControlAction::UpdateMember { member, after } => {
            if member == subject.id {
                if find(members, member)?.grants != *after {
                    return Err(Denial::OwnGrants);
                }
                return deployment(grants, DeploymentAction::ManageMembers);
            }
            deployment(grants, DeploymentAction::ManageMembers)?;
            let target = find(members, member)?;
            dominates(subject, &target.grants)?;
            covers(subject, chain, Some(&target.grants), after)?;
            keeps_an_owner(members, member, |state| {
                state.grants = after.clone();
            })
        }
        ControlAction::RemoveMember { member } => {
            deployment(grants, DeploymentAction::ManageMembers)?;
            let target = find(members, member)?;
            dominates(subject, &target.grants)?;
            keeps_an_owner(members, member, |state| state.live_tokens = 0)
        }
        ControlAction::IssueToken { member } => {
            if member == subject.id {
                return find(members, member).map(|_| ());
            }
            // A token acts as its member: handing one out hands out their rights.
            deployment(grants, DeploymentAction::ManageMembers)?;
            let target = find(members, member)?;
            dominates(subject, &target.grants)?;
            covers(subject, chain, None, &target.grants)
        }
        ControlAction::ConfigureDeployment { disables_admin_token } => {
            if !subject.break_glass && grants.role != Role::Owner {
                return Err(Denial::Forbidden("only owners change the deployment's settings".to_owned()));
            }
            let owner_can_sign_in =
                members.iter().any(|state| state.grants.role == Role::Owner && state.live_tokens > 0);
            if disables_admin_token && !owner_can_sign_in {
                return Err(Denial::LastOwner);
            }
            Ok(())
        }
        ControlAction::RevokeToken { member } => {
            if member != subject.id {
                deployment(grants, DeploymentAction::ManageMembers)?;
                dominates(subject, &find(members, member)?.grants)?;
            }
            find(members, member)?;
            keeps_an_owner(members, member, |state| state.live_tokens = state.live_tokens.saturating_sub(1))
        }
    }
}

fn entry<'c>(chain: &'c [ChainEntry], name: &str) -> Option<&'c ChainEntry> {
    chain.iter().find(|entry| entry.name == name)
}

/// The environment's type, when it exists and the caller may see it.
fn visible(grants: &Grants, chain: &[ChainEntry], name: &str) -> Result<EnvironmentType, Denial> {
    match entry(chain, name) {
        Some(entry) if grants.role_in(name).is_some() => Ok(entry.environment_type),
        _ => Err(Denial::EnvironmentHidden(name.to_owned())),
    }
}

/// Refuses a change to the promotion chain around the environments `around`
/// picks (on the chain) unless the caller may configure each of them: what
/// they promote from and into changes. The refusal names none of them.
fn configures_neighbours(
    grants: &Grants,
    chain: &[ChainEntry],
    around: impl Fn(&ChainEntry) -> bool,
) -> Result<(), Denial> {
    let neighbours = chain.iter().filter(|entry| entry.on_chain() && around(entry));
    for neighbour in neighbours {
        if in_environment(grants, chain, &neighbour.name, Action::Configure).is_err() {
            return Err(Denial::Forbidden(
                "this changes what the environments on either side of it on the promotion chain promote from and \
                 into: it needs the right to configure both"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}

fn in_environment(grants: &Grants, chain: &[ChainEntry], name: &str, action: Action) -> Result<(), Denial> {
    let environment_type = visible(grants, chain, name)?;
    if action == Action::EditContent && environment_type == EnvironmentType::Production {
        return Err(Denial::ReadOnly(name.to_owned()));
    }
    if grants.allows(name, environment_type, action) {
        return Ok(());
    }
    let role = grants.role_in(name).map_or("member", Role::as_str);
    Err(Denial::Forbidden(format!("a {role} in {name} may not {}", describe(action))))
}

fn deployment(grants: &Grants, action: DeploymentAction) -> Result<(), Denial> {
    if grants.allows_deployment(action) {
        return Ok(());
    }
    let what = match action {
        DeploymentAction::ManageEnvironments => "create or delete environments",
        DeploymentAction::ManageMembers => "manage members",
    };
    Err(Denial::Forbidden(format!("a {} may not {what}", grants.role.as_str())))
}

fn promotion(grants: &Grants, chain: &[ChainEntry], from: &str, to: &str, action: Action) -> Result<(), Denial> {
    visible(grants, chain, from)?;
    visible(grants, chain, to)?;
    let preview = entry(chain, from).filter(|entry| !entry.on_chain());
    let target = entry(chain, to);
    let target_is_preview = target.is_some_and(|entry| !entry.on_chain());
    // A preview promotes into its source only while the source is what it was made from:
    // on the chain, of the preview's type, never production (a name re-created as
    // production is not the source any more).
    let into_source = |preview: &ChainEntry| {
        preview.preview_of.as_deref() == Some(to)
            && target.is_some_and(|target| {
                target.on_chain()
                    && target.environment_type == preview.environment_type
                    && target.environment_type != EnvironmentType::Production
            })
    };
    if target_is_preview || preview.is_some_and(|preview| !into_source(preview)) {
        return Err(Denial::PreviewOffChain { from: from.to_owned(), to: to.to_owned() });
    }
    let source = preview.and_then(|preview| preview.preview_of.as_deref());
    if source.is_some() {
        in_environment(grants, chain, from, Action::View)?;
        return in_environment(grants, chain, to, action);
    }
    // Adjacency over the whole chain, hidden environments included.
    let mut ordered: Vec<&ChainEntry> = chain.iter().filter(|entry| entry.on_chain()).collect();
    ordered.sort_by_key(|entry| entry.position);
    let source = ordered.iter().position(|entry| entry.name == from);
    let next = source.and_then(|index| ordered.get(index + 1));
    if next.is_none_or(|next| next.name != to) {
        return Err(Denial::NotAdjacent {
            from: from.to_owned(),
            to: to.to_owned(),
            next: next.filter(|next| grants.role_in(&next.name).is_some()).map(|next| next.name.clone()),
        });
    }
    in_environment(grants, chain, from, Action::View)?;
    in_environment(grants, chain, to, action)
}

fn find<'m>(members: &'m [MemberState], id: &str) -> Result<&'m MemberState, Denial> {
    members.iter().find(|member| member.id == id).ok_or_else(|| Denial::MemberUnknown(id.to_owned()))
}

/// How much a role may do; a member may only grant roles at most their own.
pub fn rank(role: Role) -> u8 {
    match role {
        Role::Owner => 4,
        Role::Admin => 3,
        Role::Developer => 2,
        Role::Viewer | Role::Support => 1,
    }
}

/// Whether `after` gives anything `before` did not: a role that rises or
/// changes sideways (viewer to support), where the deployment role or an
/// environment's says so, an environment that was invisible, a promotion or
/// a personal-data grant. A member's tokens are revoked when their grants
/// widen: whoever issued a token may hold a copy, and may not hold what is
/// granted after it.
pub fn widens(before: &Grants, after: &Grants) -> bool {
    let rises = |from: Role, to: Role| from != to && rank(to) >= rank(from);
    if rises(before.role, after.role) {
        return true;
    }
    let named = before.environments.keys().chain(after.environments.keys());
    let environment_widens = named.into_iter().any(|name| match (before.role_in(name), after.role_in(name)) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(from), Some(to)) => rises(from, to),
    });
    environment_widens
        || !after.promote_into.is_subset(&before.promote_into)
        || !after.personal_data.is_subset(&before.personal_data)
}

/// Only owners manage owners; admins manage admins and below.
fn dominates(subject: Subject<'_>, target: &Grants) -> Result<(), Denial> {
    if subject.break_glass || rank(target.role) <= rank(subject.grants.role) {
        return Ok(());
    }
    Err(Denial::Forbidden(format!(
        "a {} may not manage a member whose role is {}",
        subject.grants.role.as_str(),
        target.role.as_str()
    )))
}

/// Checks that every right `after` gives that `before` did not give (all of
/// `after` when there is no `before`) is one the subject holds.
fn covers(subject: Subject<'_>, chain: &[ChainEntry], before: Option<&Grants>, after: &Grants) -> Result<(), Denial> {
    if subject.break_glass {
        return Ok(());
    }
    let mine = subject.grants;
    let refuse = |what: String| Err(Denial::Forbidden(format!("you may only grant what you hold yourself: {what}")));
    if before.is_none_or(|before| before.role != after.role) && rank(after.role) > rank(mine.role) {
        return refuse(format!("the role {}", after.role.as_str()));
    }
    let mut concerned: BTreeSet<&str> = chain.iter().map(|entry| entry.name.as_str()).collect();
    concerned.extend(after.environments.keys().map(String::as_str));
    concerned.extend(mine.environments.keys().map(String::as_str));
    if let Some(before) = before {
        concerned.extend(before.environments.keys().map(String::as_str));
    }
    for name in concerned {
        let wanted = after.role_in(name);
        if before.is_some_and(|before| before.role_in(name) == wanted) {
            continue;
        }
        let Some(wanted) = wanted else { continue };
        match mine.role_in(name) {
            Some(held) if rank(wanted) <= rank(held) => {}
            _ => return refuse(format!("{} in {name}", wanted.as_str())),
        }
    }
    for name in &after.promote_into {
        if before.is_some_and(|before| before.promote_into.contains(name)) {
            continue;
        }
        // An environment not yet in the chain is judged as the strictest type.
        let environment_type = entry(chain, name).map_or(EnvironmentType::Production, |entry| entry.environment_type);
        if !mine.allows(name, environment_type, Action::PromoteInto) {
            return refuse(format!("promoting into {name}"));
        }
    }
    for name in &after.personal_data {
        if before.is_some_and(|before| before.personal_data.contains(name)) {
            continue;
        }
        if !mine.personal_data.contains(name) {
            return refuse(format!("personal data in {name}"));
        }
    }
    Ok(())
}

/// Members who are owners and can sign in.
fn owners_with_access(members: &[MemberState]) -> usize {
    members.iter().filter(|member| member.grants.role == Role::Owner && member.live_tokens > 0).count()
}

/// Refuses a change to `member` that leaves no owner able to sign in where there was one.
fn keeps_an_owner(members: &[MemberState], member: &str, change: impl FnOnce(&mut MemberState)) -> Result<(), Denial> {
    let before = owners_with_access(members);
    let mut after: Vec<MemberState> = members.to_vec();
    if let Some(state) = after.iter_mut().find(|state| state.id == member) {
        change(state);
    }
    if before > 0 && owners_with_access(&after) == 0 {
        return Err(Denial::LastOwner);
    }
    Ok(())
}

/// What an action is, for messages.
fn describe(action: Action) -> &'static str {
    match action {
        Action::View => "see it",
        Action::Configure => "change its settings",
        Action::ManageKeys => "manage its keys",
        Action::PromoteInto => "promote into it or roll it back",
        Action::ReadAudit => "read its audit log",
        Action::ViewPersonalData => "see personal data",
        Action::EditContent => "edit its workflows or send test notifications",
        Action::Lock => "lock or unlock it",
    }
}

#[cfg(test)]
mod tests;
