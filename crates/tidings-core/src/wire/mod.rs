//! The HTTP API's request and response bodies, version 1.
//!
//! These are the only serde types of the crate. The worker renders them and
//! the SDK reads them, so the two cannot drift apart. Domain types convert
//! to and from them explicitly. Request types refuse unknown fields, so a
//! misspelt field is reported instead of silently ignored.

mod control;
mod deliveries;
mod environment;
mod environment_file;
mod error;
mod feed;
mod feed_text;
mod files;
mod integrations;
mod logs;
mod members;
mod preferences;
mod promotion;
mod subscribers;
mod topics;
mod trigger;
mod workflows;

pub use control::{
    ArchiveRequest, CreateEnvironmentRequest, CreateKeyRequest, CreatedEnvironment, DeletedEnvironment,
    EnvironmentDetails, EnvironmentList, EnvironmentLock, EnvironmentPatch, IssuedKey, KeyInfo, KeyList, LockRequest,
    RegenerateKeyRequest, RegeneratedKey, ReshardProgress, ReshardRequest, RotateSigningSecretRequest,
    RotatedSigningSecret,
};
pub use deliveries::{
    Delivery, DeliveryAttempt, DeliveryDetail, DeliveryHandOffMessage, DeliveryList, ReplayFilter, ReplayResult,
};
pub use environment::{BootstrapResponse, EnvironmentInfo, IssuedEnvironment, IssuedOwner};
pub use environment_file::{EnvironmentFile, FileAsset, ImportRequest};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use feed::{
    FeedActionRequest, FeedActionResponse, FeedChange, FeedChangesResponse, FeedCounts, FeedCountsList,
    FeedFilterInput, FeedItem, FeedResponse, PageInfo, RemovalReason,
};
pub use feed_text::{assemble_page, feed_response_json, PageText, PageTextError, ITEM_SEPARATOR};
pub use files::{Attachment, FileInfo, FileList, SignFilesRequest, SignedFileUrls};
pub use integrations::{Integration, IntegrationHealth, IntegrationInput, IntegrationList};
pub use logs::{LogEntry, LogList};
pub use members::{
    BootstrapRequest, DeploymentPatch, DeploymentSettings, EnvironmentAccess, IssuedMemberToken, Me, Member,
    MemberInput, MemberList, MemberPatch, MemberTokenRequest, OwnerInput,
};
pub use preferences::{ChannelSettings, PreferencesInput};
pub use promotion::{
    ApprovedRequest, AuditEntry, AuditLog, Brand, BrandInput, ChangeList, ChangeSelection, FieldDiff, LogoInfo,
    PendingChange, PromotionProblem, PromotionRequest, PromotionResponse, Release, ReleaseList, ReleaseRequest,
    ReleaseRequestList, ReviewRequest, Variable, VariableInput, VariableList,
};
pub use subscribers::{
    BulkSubscribersRequest, BulkSubscribersResponse, StreamTicketResponse, Subscriber, SubscriberInput, SubscriberList,
    SubscriberPageInfo, TokenRequest, TokenResponse, TokenRevocation,
};
pub use topics::{
    FanoutHandOffMessage, Topic, TopicInput, TopicList, TopicMemberList, TopicMembersRequest, TopicMembersResponse,
    Transaction, TransactionProgress,
};
pub use trigger::{
    BulkTriggerRequest, BulkTriggerResponse, BulkTriggerResult, Recipient, Recipients, TopicRecipient, TriggerRequest,
    TriggerResponse, TriggeredDelivery, TriggeredMessage,
};
pub use workflows::{ActionInput, StepInput, WorkflowInput, WorkflowList, WorkflowResponse};
