//! Who may do what in which environment: members' roles, per-environment
//! grants, and the permission each control-plane action needs.
//!
//! A member has a role for the whole deployment, and may have a different
//! role in any environment, or none (the environment is then invisible to
//! them). Promoting *into* an environment is its own permission: admins and
//! owners have it everywhere, developers into non-production environments,
//! and anyone may be granted it for a named environment.

use std::collections::{BTreeMap, BTreeSet};

use crate::environment::EnvironmentType;

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Everything, including managing owners.
    Owner,
    /// Everything but managing owners.
    Admin,
    /// Writes content in development environments, reads elsewhere.
    Developer,
    /// Reads.
    Viewer,
    /// Reads; the role to give, with a personal-data grant, to people who help subscribers.
    Support,
}

/// Every role.
pub const ROLES: [Role; 5] = [Role::Owner, Role::Admin, Role::Developer, Role::Viewer, Role::Support];

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Developer => "developer",
            Self::Viewer => "viewer",
            Self::Support => "support",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        ROLES.into_iter().find(|role| role.as_str() == text)
    }

    fn is_admin(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// What a control-plane request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See an environment, its settings, pending changes and releases.
    View,
    /// Change an environment's settings, rotate its signing secret.
    Configure,
    /// List, issue, regenerate or revoke its keys.
    ManageKeys,
    /// Promote into it, or roll back one of its releases.
    PromoteInto,
    /// Read its audit log.
    ReadAudit,
    /// Write its content (workflows) and send test notifications: never in
    /// production, where content arrives by promotion; developers only in
    /// development environments.
    EditContent,
    /// See subscribers' personal data and message contents where the
    /// environment hides them: only with an explicit grant, whatever the role.
    ViewPersonalData,
    /// Lock or unlock its content (a change freeze): owners and admins.
    Lock,
}

/// Deployment-wide actions, on no environment in particular.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentAction {
    /// Create or delete environments.
    ManageEnvironments,
    /// Invite, change or remove members; grant roles.
    ManageMembers,
}

/// A member's roles and grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// The role wherever no per-environment grant says otherwise.
    pub role: Role,
    /// Per environment: another role, or `None` for no access at all.
    pub environments: BTreeMap<String, Option<Role>>,
    /// Environments the member may promote into whatever their role.
    pub promote_into: BTreeSet<String>,
    /// Environments where the member sees personal data whatever their role.
    pub personal_data: BTreeSet<String>,
}

impl Grants {
    /// Grants of a member with one role everywhere.
    pub fn role(role: Role) -> Self {
        Self { role, environments: BTreeMap::new(), promote_into: BTreeSet::new(), personal_data: BTreeSet::new() }
    }

    /// The member's role in an environment; `None` when it is invisible to them.
    pub fn role_in(&self, environment: &str) -> Option<Role> {
        match self.environments.get(environment) {
            Some(granted) => *granted,
            None => Some(self.role),
        }
    }

    /// Whether the member may do `action` in the environment `name` of type `environment_type`.
    pub fn allows(&self, name: &str, environment_type: EnvironmentType, action: Action) -> bool {
        let Some(role) = self.role_in(name) else { return false };
        let production = environment_type == EnvironmentType::Production;
        match action {
            Action::View => true,
            Action::Configure | Action::ManageKeys | Action::ReadAudit | Action::Lock => role.is_admin(),
            Action::PromoteInto => {
                role.is_admin() || self.promote_into.contains(name) || (role == Role::Developer && !production)
            }
            Action::EditContent => match environment_type {
                EnvironmentType::Production => false,
                EnvironmentType::Development => role.is_admin() || role == Role::Developer,
                EnvironmentType::Staging => role.is_admin(),
            },
            // Never by role alone: only an explicit grant for the environment.
            Action::ViewPersonalData => self.personal_data.contains(name),
        }
    }

    /// Whether the member may do a deployment-wide action.
    pub fn allows_deployment(&self, action: DeploymentAction) -> bool {
        match action {
            DeploymentAction::ManageEnvironments | DeploymentAction::ManageMembers => self.role.is_admin(),
        }
    }

    /// Whether the member may give `role` to someone: only owners make owners.
    pub fn may_grant(&self, role: Role) -> bool {
        self.allows_deployment(DeploymentAction::ManageMembers) && (role != Role::Owner || self.role == Role::Owner)
    }
}

/// The prefix of member tokens (`mt_…`), so they are never mistaken for API keys.
pub const MEMBER_TOKEN_PREFIX: &str = "mt_";

/// A member's personal access token: `mt_` and 52 base32 symbols (32 random bytes).
pub fn member_token(random: [u8; 32]) -> String {
    format!("{MEMBER_TOKEN_PREFIX}{}", crate::base32::encode(&random))
}

/// Whether `text` has the shape of a member token (checked before any storage read).
pub fn is_member_token(text: &str) -> bool {
    text.strip_prefix(MEMBER_TOKEN_PREFIX).is_some_and(|rest| rest.len() >= 52 && crate::base32::is_valid(rest))
}

/// What is stored of a member token: its SHA-256, as for API keys.
pub fn member_token_hash(token: &str) -> String {
    crate::key::hash(token)
}

/// A member id: `mem_` and a time-ordered id.
pub fn member_id(now_ms: u64, random: [u8; crate::message::ID_RANDOM_BYTES]) -> String {
    format!("mem_{}", crate::message::MessageId::generate(now_ms, random))
}

#[cfg(test)]
mod tests {
    use super::*;

    use EnvironmentType::{Development, Production, Staging};

    #[test]
    fn the_default_matrix_follows_knock() {
        // (role, type, action) → allowed
        let expected = [
            (Role::Developer, Development, Action::PromoteInto, true),
            (Role::Developer, Staging, Action::PromoteInto, true),
            (Role::Developer, Production, Action::PromoteInto, false),
            (Role::Developer, Development, Action::ManageKeys, false),
            (Role::Developer, Production, Action::View, true),
            (Role::Viewer, Development, Action::PromoteInto, false),
            (Role::Viewer, Production, Action::ViewPersonalData, false),
            (Role::Support, Production, Action::ViewPersonalData, false),
            (Role::Owner, Production, Action::ViewPersonalData, false),
            (Role::Support, Production, Action::Configure, false),
            (Role::Admin, Production, Action::PromoteInto, true),
            (Role::Admin, Production, Action::ManageKeys, true),
            (Role::Owner, Production, Action::ReadAudit, true),
            (Role::Developer, Development, Action::EditContent, true),
            (Role::Developer, Staging, Action::EditContent, false),
            (Role::Admin, Staging, Action::EditContent, true),
            (Role::Owner, Production, Action::EditContent, false),
            (Role::Viewer, Development, Action::EditContent, false),
            (Role::Admin, Production, Action::Lock, true),
            (Role::Owner, Staging, Action::Lock, true),
            (Role::Developer, Development, Action::Lock, false),
            (Role::Support, Production, Action::Lock, false),
        ];
        for (role, environment_type, action, allowed) in expected {
            assert_eq!(
                Grants::role(role).allows("x", environment_type, action),
                allowed,
                "{role:?} {environment_type:?} {action:?}"
            );
        }
    }

    #[test]
    fn per_environment_grants_and_promotion_rights() {
        let mut grants = Grants::role(Role::Developer);
        grants.environments.insert("production".to_owned(), None);
        grants.environments.insert("staging".to_owned(), Some(Role::Viewer));
        assert_eq!(grants.role_in("production"), None);
        assert!(!grants.allows("production", Production, Action::View));
        assert!(!grants.allows("staging", Staging, Action::PromoteInto));
        grants.promote_into.insert("staging".to_owned());
        assert!(grants.allows("staging", Staging, Action::PromoteInto));
        assert!(!grants.allows("staging", Staging, Action::ViewPersonalData));
        grants.personal_data.insert("staging".to_owned());
        assert!(grants.allows("staging", Staging, Action::ViewPersonalData));
        assert!(grants.allows("development", Development, Action::PromoteInto));
    }

    #[test]
    fn member_tokens_are_recognisable_and_stored_hashed() {
        let token = member_token([7; 32]);
        assert!(is_member_token(&token));
        assert!(!is_member_token("sk_development_abc"));
        assert!(!is_member_token("mt_short"));
        assert_eq!(member_token_hash(&token).len(), 64);
        assert_ne!(member_token([8; 32]), token);
    }

    #[test]
    fn only_owners_make_owners() {
        assert!(Grants::role(Role::Owner).may_grant(Role::Owner));
        assert!(!Grants::role(Role::Admin).may_grant(Role::Owner));
        assert!(Grants::role(Role::Admin).may_grant(Role::Developer));
        assert!(!Grants::role(Role::Developer).may_grant(Role::Viewer));
        for role in ROLES {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
