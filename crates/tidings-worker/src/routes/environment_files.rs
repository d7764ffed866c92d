//! Environments as code: `GET /v1/environments/{name}/export` writes an
//! environment's promotable content as a file; `POST
//! /v1/environments/{name}/import` applies one as a release (a dry run by
//! default), through the same diff, preflight and release as a promotion.

use tidings_core::access::Action;
use tidings_core::base64;
use tidings_core::environment_file;
use tidings_core::files::FilePath;
use tidings_core::privacy;
use tidings_core::promotion;
use tidings_core::release_request::RequestKind;
use tidings_core::wire::FileAsset;
use tidings_core::wire::{ImportRequest, PendingChange, PromotionResponse};

use crate::auth::authorize_in;
use crate::error::{ApiError, ApiResult};
use crate::http::{header, json, json_text, parse_json, read_body};
use crate::request::IncomingRequest;
use crate::routes::environments::parse_name;
use crate::routes::promotions::{
    as_seen_by, hide_urls_unless_admin, open_for_releases, refuse_rerouting, replayed, request_as_seen_by,
    write_release, ReleaseOrigin, Written,
};
use crate::store::Platform;

/// The environment's workflows, integrations (without secrets), variable
/// names and default preferences, as a stable, pretty-printed file.
pub async fn export(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::View).await?;
    let environment = open_for_releases(env, &authorized).await?;
    let state = environment.content().await?;
    let mut file = environment_file::export(&state.snapshot, name.as_str());
    // A webhook's URL can be its credential: whole only for those who administer the environment.
    if !authorized.permits(Action::Configure) {
        privacy::hide_file_urls(&mut file);
    }
    // The brand assets the content names travel with it (a missing one is left out; an
    // import then reports it).
    for path in environment_file::referenced_assets(&state.snapshot) {
        let Ok(parsed) = FilePath::parse(&path) else { continue };
        if let Some((content_type, bytes)) = environment.asset(&parsed).await? {
            file.assets.insert(path, FileAsset { content_type, base64: base64::encode(&bytes) });
        }
    }
    let text = serde_json::to_string_pretty(&file).map_err(|error| ApiError::internal("export", error))?;
    let mut response = json_text(format!("{text}\n"), 200);
    let disposition = format!("attachment; filename=\"{name}.tidings.json\"");
    let _ = response.headers_mut().set("Content-Disposition", &disposition);
    Ok(response)
}

/// Applies a file to a non-production environment: answers the typed diff
/// and its problems, and unless `dry_run` (the default) writes it as one
/// release of kind `import`. A retried request with the same
/// `Idempotency-Key` gets its release again.
pub async fn import(request: &mut IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    // Production answers `environment_read_only` before the role is considered.
    let authorized = authorize_in(request, env, &name, Action::EditContent).await?;
    let idempotency_key = header(request, "Idempotency-Key");
    let bytes = read_body(request).await?;
    let body: ImportRequest = parse_json(&bytes)?;
    let target = open_for_releases(env, &authorized).await?;
    let identity = promotion::import_identity(idempotency_key.as_deref(), name.as_str(), &bytes);
    if let Some(replay) = replayed(&authorized, &target, body.dry_run, &identity).await? {
        return Ok(replay);
    }
    let state = target.content().await?;
    let wanted = environment_file::desired(&body.file, &state.snapshot, body.prune)
        .map_err(|error| ApiError::validation(format!("file.{}", error.field), error.to_string()))?;
    let assets = environment_file::assets(&body.file)
        .map_err(|error| ApiError::validation(format!("file.{}", error.field), error.to_string()))?;
    let changes = promotion::diff(&wanted, &state.snapshot);
    let problems = promotion::problems(&changes, &state.snapshot, &state.facts)
        .iter()
        .map(|problem| promotion::problem_to_wire(problem, false))
        .collect();
    refuse_rerouting(&authorized, &target, &changes, Action::EditContent)?;
    let mut listed: Vec<PendingChange> = changes.iter().map(promotion::to_wire).collect();
    hide_urls_unless_admin(&authorized, &[name.as_str()], &mut listed);
    if body.dry_run || changes.is_empty() {
        let answer = PromotionResponse {
            dry_run: body.dry_run,
            changes: listed,
            problems,
            release: None,
            release_request: None,
        };
        return json(&answer, 200);
    }
    // Brand assets first (content-addressed), then every asset the new content names must be there.
    // Only what the new content names is stored: a file cannot fill the bucket with anything else.
    let referenced = environment_file::referenced_assets(&wanted);
    let assets: Vec<_> = assets.into_iter().filter(|(path, _, _)| referenced.contains(path.as_str())).collect();
    let carried: std::collections::BTreeSet<String> =
        assets.iter().map(|(path, _, _)| path.as_str().to_owned()).collect();
    target.store_assets(&target.unlocked(env).await?, assets).await?;
    let named = referenced.into_iter().filter(|path| !carried.contains(path));
    let missing = target.missing_assets(named).await?;
    if !missing.is_empty() {
        return Err(ApiError::validation(
            "file.assets",
            format!("the file names brand assets it does not carry and {name} lacks: {}", missing.join(", ")),
        ));
    }
    let origin = ReleaseOrigin { kind: RequestKind::Import, source: None, requester: &authorized, identity: &identity };
    let answer = |release, release_request| PromotionResponse {
        dry_run: false,
        changes: listed,
        problems: problems.clone(),
        release,
        release_request,
    };
    match write_release(env, &target, origin, &changes, &problems, &state).await? {
        Written::Release(release) => json(&answer(Some(as_seen_by(&authorized, release)), None), 201),
        Written::Request(mut request) => {
            request_as_seen_by(&authorized, &mut request);
            json(&answer(None, Some(request)), 202)
        }
    }
}
