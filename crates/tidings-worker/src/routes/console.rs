//! What members read of an environment's data in the console:
//! `GET /v1/environments/{name}/subscribers`, `…/subscribers/{id}/messages`
//! and `…/logs`, through [`MemberView`], which applies the environment's
//! privacy settings for members whose role there does not include seeing
//! personal data (subscriber ids included: those members see and send
//! handles).

use tidings_core::access::Action;
use tidings_core::query::decode_segment;

use super::environments::parse_name;
use crate::auth::authorize_in;
use crate::error::ApiResult;
use crate::http::{json, query_pairs};
use crate::request::IncomingRequest;
use crate::services::member_view::MemberView;
use crate::store::Platform;

/// Opens an environment the member may see, as they see it.
pub(super) async fn open(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult<MemberView> {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::View).await?;
    MemberView::open(env, &authorized).await
}

/// Subscribers, ordered by id.
pub async fn subscribers(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let view = open(request, env, raw_name).await?;
    json(&view.subscribers(&query_pairs(request)?).await?, 200)
}

/// A subscriber's messages (archived included), newest first.
pub async fn messages(request: &IncomingRequest, env: &Platform, raw_name: &str, raw_subscriber: &str) -> ApiResult {
    let view = open(request, env, raw_name).await?;
    let subscriber = view.subscriber("subscriber_id", &decode_segment(raw_subscriber)?)?;
    json(&view.messages(&subscriber, &query_pairs(request)?).await?, 200)
}

/// Execution logs.
pub async fn logs(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let view = open(request, env, raw_name).await?;
    json(&view.logs(&query_pairs(request)?).await?, 200)
}
