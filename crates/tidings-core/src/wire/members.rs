use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /v1/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    /// Display name.
    pub name: String,
    /// Unique per deployment.
    pub email: String,
    /// `owner`, `admin`, `developer`, `viewer` or `support`.
    pub role: String,
    /// Per environment: another role, or `none` (invisible).
    #[serde(default)]
    pub environments: BTreeMap<String, String>,
    /// Environments the member may promote into whatever their role.
    #[serde(default)]
    pub promote_into: Vec<String>,
    /// Environments where the member sees personal data whatever their role.
    #[serde(default)]
    pub personal_data_in: Vec<String>,
}

/// `PATCH /v1/members/{id}`: what is given changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The deployment-wide role.
    #[serde(default)]
    pub role: Option<String>,
    /// Per environment: a role, `none`, or null to fall back to the deployment role.
    #[serde(default)]
    pub environments: Option<BTreeMap<String, Option<String>>>,
    /// Replaces the environments the member may promote into.
    #[serde(default)]
    pub promote_into: Option<Vec<String>>,
    /// Replaces the environments where the member sees personal data.
    #[serde(default)]
    pub personal_data_in: Option<Vec<String>>,
}

/// A member as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// `mem_…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// The deployment-wide role.
    pub role: String,
    /// Per-environment grants (a role or `none`).
    pub environments: BTreeMap<String, String>,
    /// Environments the member may promote into whatever their role.
    pub promote_into: Vec<String>,
    /// Environments where the member sees personal data whatever their role.
    pub personal_data_in: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// `GET /v1/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberList {
    /// By creation.
    pub items: Vec<Member>,
}

/// `POST /v1/members/{id}/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberTokenRequest {
    /// What the token is for, e.g. `laptop`.
    pub name: String,
    /// Days until it expires (1–365; default 90).
    #[serde(default)]
    pub ttl_days: Option<u32>,
}

/// A new personal access token, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedMemberToken {
    /// `mtk_…`, to revoke it.
    pub id: String,
    /// `mt_…`: send as `Authorization: Bearer <token>`.
    pub token: String,
    /// What it is for.
    pub name: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// `GET /v1/me`: who the credential is, and what they see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// The member id, or `admin` for the deployment's admin token.
    pub id: String,
    /// Whether the credential is the deployment's break-glass admin token
    /// (every use of it is in the audit log), not a member token.
    pub break_glass: bool,
    /// Display name.
    pub name: String,
    /// The deployment-wide role.
    pub role: String,
    /// Each environment the member can see, with their role there.
    pub environments: Vec<EnvironmentAccess>,
}

/// A member's access to one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentAccess {
    /// The environment.
    pub name: String,
    /// The member's role there.
    pub role: String,
    /// Whether they may promote into it.
    pub may_promote: bool,
    /// Whether they may manage its keys.
    pub may_manage_keys: bool,
    /// Whether they may edit its workflows and send test notifications.
    pub may_edit_content: bool,
    /// Whether they may lock or unlock its content.
    #[serde(default)]
    pub may_lock: bool,
}

/// `POST /v1/bootstrap` body: optionally, the first owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRequest {
    /// Creates this owner with a personal access token.
    #[serde(default)]
    pub owner: Option<OwnerInput>,
    /// Whether `production` starts with four-eyes approval (default: yes).
    /// Chosen once, here: turning it off later needs a second member.
    #[serde(default = "yes")]
    pub production_requires_approval: bool,
    /// Feed shards of the first environments, by name (1 to 64; those not
    /// named have one: their feed in their own database), e.g.
    /// `{"production": 4}`. Each shard is a D1 database bound as `FEED<i>_<NAME>`.
    #[serde(default)]
    pub shards: std::collections::BTreeMap<String, u64>,
}

fn yes() -> bool {
    true
}

impl Default for BootstrapRequest {
    fn default() -> Self {
        BootstrapRequest { owner: None, production_requires_approval: true, shards: Default::default() }
    }
}

/// The first owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerInput {
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// `GET|PATCH /v1/deployment`: deployment-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSettings {
    /// Whether the break-glass `TIDINGS_ADMIN_TOKEN` opens the control plane.
    pub admin_token_enabled: bool,
}

/// `PATCH /v1/deployment`: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentPatch {
    /// Turn the admin token on or off (off needs an owner who can sign in).
    #[serde(default)]
    pub admin_token_enabled: Option<bool>,
}
