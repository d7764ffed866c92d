//! Properties of the control plane's one authorization policy over random
//! members, grants, environments and actions: nobody changes their own
//! grants, nobody grants what they do not hold, a `none` is never lifted by
//! its holder, promotion adjacency follows the whole chain, personal data
//! is never implied by a role, the deployment keeps an owner, and a release
//! request is reviewed only by a second member.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tidings_core::access::{Action, Grants, Role, ROLES};
use tidings_core::environment::EnvironmentType;
use tidings_core::lifecycle::{chain_of, ChainEntry};
use tidings_core::policy::{decide, rank, ControlAction, Decision, MemberState, Subject};

/// Environments a grant may name; `preview` is never in the chain, `pr-1`
/// is a preview environment of `development` (off the chain) when present.
const NAMES: [&str; 6] = ["development", "staging", "qa", "production", "preview", "pr-1"];
const ACTIONS: [Action; 8] = [
    Action::Lock,
    Action::View,
    Action::Configure,
    Action::ManageKeys,
    Action::PromoteInto,
    Action::ReadAudit,
    Action::EditContent,
    Action::ViewPersonalData,
];

fn chain(with_qa: bool) -> Vec<ChainEntry> {
    let mut entries = vec![("development", EnvironmentType::Development), ("staging", EnvironmentType::Staging)];
    if with_qa {
        entries.push(("qa", EnvironmentType::Staging));
    }
    entries.push(("production", EnvironmentType::Production));
    chain_of(&entries)
}

/// The chain, with the preview `pr-1` when `preview` names its source and
/// type: any name (one missing from the chain, production, the preview
/// itself), any type, as a registry after deletions and re-creations may hold.
fn chain_with(with_qa: bool, preview: Option<(&str, EnvironmentType)>) -> Vec<ChainEntry> {
    let mut entries = chain(with_qa);
    if let Some((source, environment_type)) = preview {
        entries.push(ChainEntry {
            name: "pr-1".to_owned(),
            environment_type,
            position: tidings_core::lifecycle::PREVIEW_POSITIONS,
            preview_of: Some(source.to_owned()),
        });
    }
    entries
}

fn preview() -> impl Strategy<Value = Option<(&'static str, EnvironmentType)>> {
    let types = [EnvironmentType::Development, EnvironmentType::Staging, EnvironmentType::Production];
    prop::option::of((prop::sample::select(NAMES.to_vec()), prop::sample::select(types.to_vec())))
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(ROLES.to_vec())
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES.to_vec()).prop_map(str::to_owned)
}

fn grants() -> impl Strategy<Value = Grants> {
    (
        role(),
        prop::collection::btree_map(name(), prop::option::of(role()), 0..3),
        prop::collection::btree_set(name(), 0..3),
        prop::collection::btree_set(name(), 0..3),
    )
        .prop_map(|(role, environments, promote_into, personal_data)| Grants {
            role,
            environments,
            promote_into,
            personal_data,
        })
}

fn members() -> impl Strategy<Value = Vec<MemberState>> {
    prop::collection::vec((grants(), 0u32..3), 1..5).prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(|(index, (grants, live_tokens))| MemberState { id: format!("mem_{index}"), grants, live_tokens })
            .collect()
    })
}

/// An action, with members named by index into the member list.
#[derive(Debug, Clone)]
enum Act {
    In(String, Action),
    Delete(String),
    Archive(String),
    Reshard(String),
    CreatePreview(String),
    WithPersonalData(String, Action),
    Promote(String, String),
    Create(Grants),
    Update(usize, Grants),
    Remove(usize),
    Issue(usize),
    Revoke(usize),
    ConfigureDeployment(bool),
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        (name(), prop::sample::select(ACTIONS.to_vec())).prop_map(|(name, action)| Act::In(name, action)),
        name().prop_map(Act::Delete),
        name().prop_map(Act::Archive),
        name().prop_map(Act::Reshard),
        name().prop_map(Act::CreatePreview),
        (name(), prop::sample::select(ACTIONS.to_vec())).prop_map(|(name, action)| Act::WithPersonalData(name, action)),
        (name(), name()).prop_map(|(from, to)| Act::Promote(from, to)),
        grants().prop_map(Act::Create),
        (0usize..5, grants()).prop_map(|(index, grants)| Act::Update(index, grants)),
        (0usize..5).prop_map(Act::Remove),
        (0usize..5).prop_map(Act::Issue),
        (0usize..5).prop_map(Act::Revoke),
        any::<bool>().prop_map(Act::ConfigureDeployment),
    ]
}

fn id(members: &[MemberState], index: usize) -> String {
    members.get(index).map_or_else(|| "mem_missing".to_owned(), |member| member.id.clone())
}

fn owners_with_access(members: &[MemberState]) -> usize {
    members.iter().filter(|member| member.grants.role == Role::Owner && member.live_tokens > 0).count()
}

/// Every right `after` gives that `before` did not is held by `holder`.
fn held_by(holder: &Grants, chain: &[ChainEntry], before: Option<&Grants>, after: &Grants) -> Result<(), String> {
    let mut concerned: BTreeSet<&str> = NAMES.into_iter().collect();
    concerned.extend(after.environments.keys().map(String::as_str));
    for name in concerned {
        let wanted = after.role_in(name);
        if before.is_some_and(|before| before.role_in(name) == wanted) {
            continue;
        }
        if let Some(wanted) = wanted {
            match holder.role_in(name) {
                Some(held) if rank(held) >= rank(wanted) => {}
                held => return Err(format!("{wanted:?} in {name} granted by a holder of {held:?}")),
            }
        }
    }
    for name in after.personal_data.iter().filter(|name| !before.is_some_and(|b| b.personal_data.contains(*name))) {
        if !holder.personal_data.contains(name) {
            return Err(format!("personal data in {name} granted by someone without it"));
        }
    }
    for name in after.promote_into.iter().filter(|name| !before.is_some_and(|b| b.promote_into.contains(*name))) {
        let environment_type = chain
            .iter()
            .find(|entry| &entry.name == name)
            .map_or(EnvironmentType::Production, |entry| entry.environment_type);
        if !holder.allows(name, environment_type, Action::PromoteInto) {
            return Err(format!("promotion into {name} granted by someone who may not"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn the_policy_holds(members in members(), who in 0usize..5, break_glass in any::<bool>(), with_qa in any::<bool>(), preview in preview(), act in act()) {
        let chain = chain_with(with_qa, preview);
        let admin_grants = Grants::role(Role::Owner);
        let (subject_id, subject_grants) = if break_glass {
            ("admin".to_owned(), admin_grants.clone())
        } else {
            let member = &members[who % members.len()];
            (member.id.clone(), member.grants.clone())
        };
        let subject = Subject { id: &subject_id, grants: &subject_grants, break_glass };
        let ids: Vec<String> = (0..5).map(|index| id(&members, index)).collect();
        let action = match &act {
            Act::In(name, action) => ControlAction::InEnvironment { environment: name, action: *action },
            Act::Delete(name) => ControlAction::DeleteEnvironment { environment: name },
            Act::Archive(name) => ControlAction::ArchiveEnvironment { environment: name },
            Act::Reshard(name) => ControlAction::ReshardEnvironment { environment: name },
            Act::CreatePreview(from) => ControlAction::CreatePreview { from },
            Act::WithPersonalData(name, action) => ControlAction::WithPersonalData { environment: name, action: *action },
            Act::Promote(from, to) => ControlAction::Promote { from, to },
            Act::Create(grants) => ControlAction::CreateMember { grants },
            Act::Update(index, grants) => ControlAction::UpdateMember { member: &ids[*index], after: grants },
            Act::Remove(index) => ControlAction::RemoveMember { member: &ids[*index] },
            Act::Issue(index) => ControlAction::IssueToken { member: &ids[*index] },
            Act::Revoke(index) => ControlAction::RevokeToken { member: &ids[*index] },
            Act::ConfigureDeployment(disables) => ControlAction::ConfigureDeployment { disables_admin_token: *disables },
        };
        let decision = decide(subject, &members, &chain, action);
        if decision != Decision::Allow {
            return Ok(());
        }
        let target = |index: usize| members.iter().find(|member| member.id == ids[index]).unwrap();
        let mut after = members.clone();
        match &act {
            Act::In(name, action) => {
                let entry = chain.iter().find(|entry| &entry.name == name);
                prop_assert!(entry.is_some(), "an action in {name}, which is not in the chain");
                prop_assert!(subject_grants.role_in(name).is_some(), "an action in {name}, hidden from the subject");
                if *action == Action::ViewPersonalData {
                    prop_assert!(subject_grants.personal_data.contains(name), "personal data implied by a role");
                }
                if *action == Action::EditContent {
                    prop_assert_ne!(entry.unwrap().environment_type, EnvironmentType::Production);
                }
                if *action == Action::Lock {
                    prop_assert!(subject_grants.role_in(name).is_some_and(|role| rank(role) >= rank(Role::Admin)), "a lock by a non-admin");
                }
            }
            Act::Delete(name) | Act::Archive(name) | Act::Reshard(name) => {
                prop_assert!(subject_grants.role_in(name).is_some_and(|role| rank(role) >= rank(Role::Admin)));
                prop_assert!(rank(subject_grants.role) >= rank(Role::Admin), "environments removed by a non-admin");
                let production = chain.iter().any(|entry| &entry.name == name && entry.environment_type == EnvironmentType::Production);
                if production && !matches!(act, Act::Reshard(_)) {
                    prop_assert!(break_glass || subject_grants.role == Role::Owner, "a production-type environment removed by a non-owner");
                }
            }
            Act::CreatePreview(from) => {
                let source = chain.iter().find(|entry| &entry.name == from);
                prop_assert!(source.is_some_and(|source| source.on_chain() && source.environment_type != EnvironmentType::Production),
                    "a preview of production, of a preview, or of an environment not in the chain");
                prop_assert!(subject_grants.role_in(from).is_some(), "a preview copies content the subject cannot see");
                prop_assert!(rank(subject_grants.role) >= rank(Role::Admin));
            }
            Act::WithPersonalData(name, action) => {
                prop_assert!(break_glass || subject_grants.personal_data.contains(name), "personal data handed out without the grant");
                let entry = chain.iter().find(|entry| &entry.name == name).unwrap();
                prop_assert!(subject_grants.allows(name, entry.environment_type, *action), "without the action's own right");
            }
            Act::Promote(from, to) => {
                let preview_of = |name: &str| chain.iter().find(|entry| entry.name == name).and_then(|entry| entry.preview_of.clone());
                prop_assert!(preview_of(to).is_none(), "a promotion into a preview environment");
                let on_chain: Vec<&ChainEntry> = chain.iter().filter(|entry| entry.on_chain()).collect();
                let entry = |name: &str| chain.iter().find(|entry| entry.name == name).unwrap();
                match preview_of(from) {
                    Some(source) => {
                        prop_assert_eq!(&source, to, "a preview promoted somewhere other than its source");
                        let (from, to) = (entry(from), entry(to));
                        prop_assert!(to.on_chain(), "into a preview");
                        prop_assert_eq!(from.environment_type, to.environment_type, "a preview into a source of another type");
                        prop_assert_ne!(to.environment_type, EnvironmentType::Production, "a preview straight into production");
                    }
                    None => {
                        let from_at = on_chain.iter().position(|entry| &entry.name == from).unwrap();
                        prop_assert_eq!(on_chain.get(from_at + 1).map(|entry| entry.name.as_str()), Some(to.as_str()), "not adjacent over the full chain");
                    }
                }
                prop_assert!(subject_grants.role_in(from).is_some() && subject_grants.role_in(to).is_some());
            }
            Act::Create(grants) => {
                if !break_glass {
                    let check = held_by(&subject_grants, &chain, None, grants);
                    prop_assert!(check.is_ok(), "{:?}", check);
                }
            }
            Act::Update(index, grants) => {
                let before = target(*index);
                if before.id == subject_id {
                    prop_assert_eq!(&before.grants, grants, "a member changed their own grants");
                }
                if !break_glass {
                    let check = held_by(&subject_grants, &chain, Some(&before.grants), grants);
                    prop_assert!(check.is_ok(), "{:?}", check);
                    prop_assert!(rank(before.grants.role) <= rank(subject_grants.role));
                }
                after.iter_mut().find(|member| member.id == before.id).unwrap().grants = grants.clone();
            }
            Act::Remove(index) => {
                let removed = target(*index).id.clone();
                after.retain(|member| member.id != removed);
            }
            Act::Issue(index) => {
                let holder = target(*index);
                if holder.id != subject_id && !break_glass {
                    let check = held_by(&subject_grants, &chain, None, &holder.grants);
                    prop_assert!(check.is_ok(), "a token hands out rights the issuer lacks: {:?}", check);
                }
            }
            Act::Revoke(index) => {
                let holder = target(*index).id.clone();
                let state = after.iter_mut().find(|member| member.id == holder).unwrap();
                state.live_tokens = state.live_tokens.saturating_sub(1);
            }
            Act::ConfigureDeployment(disables) => {
                prop_assert!(break_glass || subject_grants.role == Role::Owner, "a non-owner changed the deployment");
                // The break-glass token goes only when an owner can still sign in without it.
                if *disables {
                    prop_assert!(owners_with_access(&members) > 0, "the admin token was turned off with no owner to sign in");
                }
            }
        }
        if owners_with_access(&members) > 0 {
            prop_assert!(owners_with_access(&after) > 0, "the deployment lost its last owner");
        }
    }

    #[test]
    fn previews_reach_only_their_source_and_never_production(
        with_qa in any::<bool>(),
        source in prop::sample::select(NAMES.to_vec()),
        preview_type in prop::sample::select(vec![EnvironmentType::Development, EnvironmentType::Staging, EnvironmentType::Production]),
        to in prop::sample::select(NAMES.to_vec()),
    ) {
        let chain = chain_with(with_qa, Some((source, preview_type)));
        let owner = Grants::role(Role::Owner);
        let subject = Subject { id: "admin", grants: &owner, break_glass: true };
        if decide(subject, &[], &chain, ControlAction::Promote { from: "pr-1", to }).is_allowed() {
            let target = chain.iter().find(|entry| entry.name == to).unwrap();
            prop_assert_eq!(to, source);
            prop_assert!(target.on_chain());
            prop_assert_eq!(target.environment_type, preview_type);
            prop_assert_ne!(target.environment_type, EnvironmentType::Production);
        }
        for into_preview in ["development", "staging", "production"] {
            let asked = ControlAction::Promote { from: into_preview, to: "pr-1" };
            prop_assert!(!decide(subject, &[], &chain, asked).is_allowed(), "a promotion into a preview");
        }
    }

    /// Four eyes: a release request is reviewed (and so applied, for an
    /// environment that requires approval) only by a member other than its
    /// requester, never by the admin token, only with a credential that
    /// existed before the request, and only by one who may promote into the
    /// environment themselves.
    #[test]
    fn a_release_request_needs_a_second_member(
        members in members(),
        who in 0usize..5,
        requester in 0usize..6,
        break_glass in any::<bool>(),
        with_qa in any::<bool>(),
        preview in preview(),
        environment in name(),
        requested_at_ms in 1u64..1000,
        reviewer_since_ms in 0u64..1000,
        issued_by in 0usize..7,
        request_issued_by in 0usize..7,
    ) {
        let chain = chain_with(with_qa, preview);
        let subject_state = &members[who % members.len()];
        let subject = Subject { id: &subject_state.id, grants: &subject_state.grants, break_glass };
        // The requester: one of the members, or the admin token (index past the list).
        let requester = if requester < members.len() { members[requester].id.clone() } else { "admin".to_owned() };
        // Who issued the requester's token: a member, the reviewer, or the requester themself.
        let requester_issuer = match request_issued_by {
            index if index < members.len() => members[index].id.clone(),
            5 => subject_state.id.clone(),
            _ => requester.clone(),
        };
        // Who issued the reviewer's token: themself, another member, or the admin token.
        let reviewer_issuer = match issued_by {
            index if index < members.len() => members[index].id.clone(),
            5 => subject_state.id.clone(),
            _ => "admin".to_owned(),
        };
        for approving in [None, Some(Action::PromoteInto), Some(Action::Configure)] {
            let asked = ControlAction::ReviewRelease { environment: &environment, requester: &requester, requested_at_ms, reviewer_since_ms, reviewer_issuer: &reviewer_issuer, requester_issuer: &requester_issuer, approving };
            if decide(subject, &members, &chain, asked).is_allowed() {
                prop_assert_ne!(subject.id, requester.as_str());
                prop_assert_ne!(subject.id, requester_issuer.as_str(), "the member behind the requester's token reviewed their request");
                prop_assert_ne!(reviewer_issuer.as_str(), requester_issuer.as_str(), "one member behind both tokens");
                prop_assert_ne!(reviewer_issuer.as_str(), requester.as_str(), "a token the requester issued reviewed their request");
                prop_assert!(reviewer_since_ms < requested_at_ms, "a credential made after the request reviewed it");
                prop_assert!(!subject.break_glass);
                let promote = ControlAction::InEnvironment { environment: &environment, action: Action::PromoteInto };
                prop_assert!(decide(subject, &members, &chain, promote).is_allowed());
                if approving == Some(Action::Configure) {
                    let configure = ControlAction::InEnvironment { environment: &environment, action: Action::Configure };
                    prop_assert!(decide(subject, &members, &chain, configure).is_allowed(), "approval turned off by a reviewer who may not configure");
                }
                // An approval: the requester is still a member who may do what they asked.
                if let Some(needed) = approving {
                    let them = members.iter().find(|member| member.id == requester);
                    prop_assert!(them.is_some(), "the admin token's request, or a removed member's, was approved");
                    let them = them.unwrap();
                    let subject = Subject { id: &them.id, grants: &them.grants, break_glass: false };
                    let right = ControlAction::InEnvironment { environment: &environment, action: needed };
                    prop_assert!(decide(subject, &members, &chain, right).is_allowed(), "a narrowed requester's request was approved");
                }
            }
            // Whoever asks about their own request is refused, whatever they hold.
            let own = ControlAction::ReviewRelease { environment: &environment, requester: subject.id, requested_at_ms, reviewer_since_ms: 0, reviewer_issuer: subject.id, requester_issuer: subject.id, approving };
            prop_assert!(!decide(subject, &members, &chain, own).is_allowed());
            // Nor with another member's token they issued.
            let through_token = ControlAction::ReviewRelease { environment: &environment, requester: &requester, requested_at_ms, reviewer_since_ms: 0, reviewer_issuer: &requester, requester_issuer: &requester, approving };
            prop_assert!(!decide(subject, &members, &chain, through_token).is_allowed());
            // Nor one made with a token they issued to the requester.
            let via_them = ControlAction::ReviewRelease { environment: &environment, requester: &requester, requested_at_ms, reviewer_since_ms: 0, reviewer_issuer: subject.id, requester_issuer: subject.id, approving };
            prop_assert!(!decide(subject, &members, &chain, via_them).is_allowed());
            // The admin token, as owner of everything, is still refused.
            let owner = Grants::role(Role::Owner);
            let admin = Subject { id: "admin", grants: &owner, break_glass: true };
            let by_admin = ControlAction::ReviewRelease { environment: &environment, requester: &requester, requested_at_ms, reviewer_since_ms: 0, reviewer_issuer: "admin", requester_issuer: &requester, approving };
            prop_assert!(!decide(admin, &members, &chain, by_admin).is_allowed());
            // Nor does it ask for one: it could be the owner who then approves.
            let request = ControlAction::RequestRelease { environment: &environment, action: Action::PromoteInto };
            prop_assert!(!decide(admin, &members, &chain, request).is_allowed());
            if decide(subject, &members, &chain, request).is_allowed() {
                prop_assert!(!subject.break_glass);
            }
        }
    }

    #[test]
    fn nobody_lifts_their_own_none(members in members(), who in 0usize..5, environment in name(), after in grants()) {
        let subject = &members[who % members.len()];
        let mut kept_out = subject.grants.clone();
        kept_out.environments.insert(environment.clone(), None);
        let mut members = members.clone();
        let index = who % members.len();
        members[index].grants = kept_out.clone();
        let subject = Subject { id: &members[index].id, grants: &kept_out, break_glass: false };
        let update = ControlAction::UpdateMember { member: subject.id, after: &after };
        let decision = decide(subject, &members, &chain(true), update);
        if decision == Decision::Allow {
            prop_assert_eq!(after.role_in(&environment), None);
            prop_assert_eq!(&after, &kept_out);
        }
    }
}

#[test]
fn every_role_in_every_environment_is_decided() {
    // No combination panics or allows an action in an environment outside the chain.
    let chain = chain(false);
    for role in ROLES {
        let grants = Grants { environments: BTreeMap::new(), ..Grants::role(role) };
        let subject = Subject { id: "mem_x", grants: &grants, break_glass: false };
        for action in ACTIONS {
            let outside = ControlAction::InEnvironment { environment: "preview", action };
            assert_ne!(decide(subject, &[], &chain, outside), Decision::Allow);
        }
    }
}
