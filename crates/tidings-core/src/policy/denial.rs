//! Why the policy refuses an action: each [`Denial`] has its HTTP status,
//! its stable error code and a message for people.

use crate::wire::ErrorCode;

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The environment does not exist for the caller (no access, or no such
    /// environment): the same answer either way.
    EnvironmentHidden(String),
    /// The member does not exist.
    MemberUnknown(String),
    /// The caller's role does not allow it.
    Forbidden(String),
    /// Content of a production environment changes only by promotion.
    ReadOnly(String),
    /// Nobody changes their own grants.
    OwnGrants,
    /// The target is not the environment right after the source in the chain.
    NotAdjacent {
        /// Source.
        from: String,
        /// Target asked for.
        to: String,
        /// The environment after `from`, when the caller may see it.
        next: Option<String>,
    },
    /// The action would leave the deployment without an owner who can sign in.
    LastOwner,
    /// A preview is made from a development or staging environment of the chain only.
    PreviewSource(String),
    /// Nobody approves or rejects their own release request.
    OwnRequest,
    /// The reviewer's token was issued by the requester, who may keep a
    /// copy: the requester's own eyes again.
    TokenOfRequester,
    /// The request was made with a token the reviewer issued, or the request's
    /// token and the reviewer's were issued by the same member, who may keep
    /// copies of both: one pair of eyes.
    RequestWithReviewersToken,
    /// The deployment's admin token reviews no release request: approval
    /// needs a second member.
    ReviewByAdminToken,
    /// The reviewer's member or token was made after the request.
    ReviewerTooNew,
    /// The requester is no longer a member who may do what they asked
    /// (removed or narrowed), or was the admin token.
    RequesterWithoutRight,
    /// The deployment's admin token asks for no release: four-eyes needs
    /// two members, and the admin token could be any owner.
    RequestByAdminToken,
    /// Nothing promotes into a preview environment; a preview promotes only
    /// into the environment it was made from.
    PreviewOffChain {
        /// Source.
        from: String,
        /// Target asked for.
        to: String,
    },
}

impl Denial {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::EnvironmentHidden(_) | Self::MemberUnknown(_) => 404,
            Self::Forbidden(_)
            | Self::ReadOnly(_)
            | Self::OwnGrants
            | Self::OwnRequest
            | Self::TokenOfRequester
            | Self::RequestWithReviewersToken
            | Self::ReviewByAdminToken
            | Self::ReviewerTooNew
            | Self::RequesterWithoutRight
            | Self::RequestByAdminToken => 403,
            Self::NotAdjacent { .. } | Self::PreviewOffChain { .. } => 422,
            Self::PreviewSource(_) => 400,
            Self::LastOwner => 409,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::EnvironmentHidden(_) => ErrorCode::EnvironmentNotFound,
            Self::MemberUnknown(_) => ErrorCode::MemberNotFound,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::ReadOnly(_) => ErrorCode::EnvironmentReadOnly,
            Self::OwnGrants => ErrorCode::OwnGrantsImmutable,
            Self::NotAdjacent { .. } | Self::PreviewOffChain { .. } => ErrorCode::PromotionNotAdjacent,
            Self::PreviewSource(_) => ErrorCode::ValidationFailed,
            Self::LastOwner => ErrorCode::LastOwner,
            Self::OwnRequest | Self::TokenOfRequester | Self::RequestWithReviewersToken => ErrorCode::OwnReleaseRequest,
            Self::ReviewByAdminToken
            | Self::ReviewerTooNew
            | Self::RequesterWithoutRight
            | Self::RequestByAdminToken => ErrorCode::Forbidden,
        }
    }

    /// A message for people.
    pub fn message(&self) -> String {
        match self {
            Self::EnvironmentHidden(name) => format!("there is no environment named {name}"),
            Self::MemberUnknown(id) => format!("there is no member {id}"),
            Self::Forbidden(reason) => reason.clone(),
            Self::ReadOnly(name) => {
                format!("content in {name} changes only by promotion; edit it in a non-production environment")
            }
            Self::OwnGrants => "nobody changes their own role or grants; ask another admin or owner".to_owned(),
            Self::NotAdjacent { from, to, next: Some(next) } => {
                format!("promote one step at a time: {from} promotes into {next}, not {to}")
            }
            Self::NotAdjacent { from, to, next: None } => {
                format!("promote one step at a time: {to} is not the environment right after {from}")
            }
            Self::PreviewSource(from) => {
                format!("previews are made from a development or staging environment of the chain, not {from}")
            }
            Self::PreviewOffChain { from, to } => format!(
                "preview environments are off the promotion chain: a preview promotes only into the environment it \
                 was made from, and nothing promotes into one ({from} → {to})"
            ),
            Self::LastOwner => {
                "the deployment must keep at least one owner who can sign in; make another owner first".to_owned()
            }
            Self::OwnRequest => {
                "nobody approves or rejects their own release request; another member who may promote here must"
                    .to_owned()
            }
            Self::TokenOfRequester => "this token was issued by the member who made the request (who may keep a \
                 copy), so it is their own pair of eyes; review with a token you issued yourself"
                .to_owned(),
            Self::RequestWithReviewersToken => "this request was made with a token issued by you, or by whoever \
                 issued yours (who may keep copies of both); another member must review it"
                .to_owned(),
            Self::ReviewByAdminToken => "the deployment's admin token cannot approve or reject release requests: \
                 a second member who may promote into the environment must"
                .to_owned(),
            Self::ReviewerTooNew => "a member or token created after the request was made cannot review it; \
                 a member who could act before it must"
                .to_owned(),
            Self::RequesterWithoutRight => "the requester may no longer do what this request asks (removed, or \
                 their rights narrowed): reject it, and let a member who may ask again"
                .to_owned(),
            Self::RequestByAdminToken => "the deployment's admin token cannot ask for a release where approval is \
                 required: a member who may do it asks, and a second member approves"
                .to_owned(),
        }
    }
}
