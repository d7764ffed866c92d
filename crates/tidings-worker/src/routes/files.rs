//! Files of an environment, in its own R2 bucket: `PUT|GET|DELETE
//! /v1/files/{path}`, `GET /v1/files?prefix=&after=&limit=` and `POST
//! /v1/files/urls` with a secret key; `GET /v1/signed-files/{environment}/{path}`
//! with a short-lived signed URL instead of a key, for browsers.
//!
//! Files under `brand/` are brand assets: content-addressed, promoted with
//! the content that names them, so written only where content may be
//! (never in production, never while the environment is locked).

use tidings_core::files::{self, FileError, FilePath, Inspector, SignedUrl};
use tidings_core::key_scope::KeyScope;
use tidings_core::query::decode_segment;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{FileList, SignFilesRequest, SignedFileUrls};
use worker::{Headers, ResponseBuilder};

use crate::auth::{authenticate_secret, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, json, query_pairs, read_json};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::routes::environments::parse_name;
use crate::store::{file_error, Body, Environment, NewFile, Platform};

/// The most files one listing returns.
const MAX_PAGE: u32 = 100;

/// Stores the body as the file at `segments`: `Content-Type` must be an
/// accepted type, and the bytes must be what it says (at most 10 MiB).
pub async fn put(request: &mut IncomingRequest, env: &Platform, segments: &[&str]) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::FilesWrite).await?;
    let path = file_path(segments)?;
    // The length comes first, so a body larger than a file may be is never read.
    let declared = header(request, "Content-Length")
        .and_then(|length| length.parse::<u64>().ok())
        .ok_or_else(|| ApiError::validation("Content-Length", "send the file with its Content-Length"))?;
    if declared > files::MAX_FILE_BYTES {
        return Err(too_large());
    }
    let content_type = header(request, "Content-Type").unwrap_or_default();
    // The declared type is refused before a byte is read.
    let inspector = Inspector::new(&path, &content_type).map_err(file_error)?;
    let unlocked = brand_write(&caller, env, &path).await?;
    let stream = request
        .body_stream()
        .map_err(|error| ApiError::validation("body", format!("unreadable body: {error}")))?
        .ok_or_else(|| file_error(FileError::Size))?;
    let now = now_ms();
    let file = NewFile { path: &path, body: Body::Stream(stream, declared), inspector };
    let (row, created) = caller.scope.put_file(env, unlocked.as_ref(), file, now).await?;
    let url = caller.scope.signed_file_url(&path, now, files::DEFAULT_URL_TTL_SECONDS);
    json(&row.to_wire(Some(url)), if created { 201 } else { 200 })
}

/// The file's bytes, with headers that keep a browser from running it.
pub async fn get(request: &IncomingRequest, env: &Platform, segments: &[&str]) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::FilesRead).await?;
    let path = file_path(segments)?;
    serve(&caller.scope, env, &path, "private, no-store").await
}

/// Removes the file.
pub async fn delete(request: &IncomingRequest, env: &Platform, segments: &[&str]) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::FilesWrite).await?;
    let path = file_path(segments)?;
    let unlocked = brand_write(&caller, env, &path).await?;
    if !caller.scope.delete_file(env, unlocked.as_ref(), &path).await? {
        return Err(not_found(&path));
    }
    json(&serde_json::json!({ "path": path.as_str(), "deleted": true }), 200)
}

/// Files in path order: `prefix` narrows, `after` (a path) pages, `limit` 1–100 (default 50).
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::FilesRead).await?;
    let (mut prefix, mut after, mut limit) = (String::new(), None, 50);
    for (name, value) in query_pairs(request)? {
        match name.as_str() {
            "prefix" if files::valid_prefix(&value) => prefix = value,
            "prefix" => return Err(ApiError::validation("prefix", "a prefix is the beginning of a file path")),
            "after" => {
                after = Some(FilePath::parse(&value).map_err(|error| ApiError::validation("after", error.to_string()))?)
            }
            "limit" => {
                limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE).contains(limit))
                    .ok_or_else(|| ApiError::validation("limit", format!("limit is 1 to {MAX_PAGE}")))?
            }
            _ => return Err(ApiError::validation(name.clone(), format!("unknown query parameter {name:?}"))),
        }
    }
    let mut rows = caller.scope.files(&prefix, after.as_ref().map(FilePath::as_str), limit).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_after = if more { rows.last().map(|row| row.path.clone()) } else { None };
    json(&FileList { items: rows.iter().map(|row| row.to_wire(None)).collect(), next_after }, 200)
}

/// Signed URLs for existing files, for a server to hand to browsers (avatars, downloads).
pub async fn sign(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::FilesRead).await?;
    let body: SignFilesRequest = read_json(request).await?;
    if body.paths.is_empty() || body.paths.len() > 100 {
        return Err(ApiError::validation("paths", "name 1 to 100 files"));
    }
    let ttl = body.ttl_seconds.unwrap_or(files::DEFAULT_URL_TTL_SECONDS);
    if !(60..=files::MAX_URL_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::validation("ttl_seconds", "a signed URL lives 60 to 3600 seconds"));
    }
    let now = now_ms();
    let mut urls = std::collections::BTreeMap::new();
    for (index, raw) in body.paths.iter().enumerate() {
        let path =
            FilePath::parse(raw).map_err(|error| ApiError::validation(format!("paths.{index}"), error.to_string()))?;
        if caller.scope.file(&path).await?.is_none() {
            return Err(not_found(&path).with_field(format!("paths.{index}")));
        }
        urls.insert(raw.clone(), caller.scope.signed_file_url(&path, now, ttl));
    }
    json(&SignedFileUrls { urls }, 200)
}

/// A file through its signed URL: no key, the signature is the credential.
/// A refusal says only that the URL is not valid, or has expired; a URL
/// of a file removed since answers 404.
pub async fn signed(request: &IncomingRequest, env: &Platform, environment: &str, segments: &[&str]) -> ApiResult {
    let invalid =
        || ApiError::new(403, ErrorCode::SignedUrlInvalid, "this file URL is not valid for this environment and file");
    let name = parse_name(environment).map_err(|_| invalid())?;
    let path = file_path(segments).map_err(|_| invalid())?;
    let (mut expires_at, mut key_id, mut signature) = (None, None, None);
    for (key, value) in query_pairs(request).map_err(|_| invalid())? {
        match key.as_str() {
            "exp" => expires_at = value.parse::<u64>().ok(),
            "kid" => key_id = Some(value),
            "sig" => signature = Some(value),
            _ => {}
        }
    }
    let (Some(expires_at), Some(key_id), Some(signature)) = (expires_at, key_id, signature) else {
        return Err(invalid());
    };
    let now = now_ms();
    // What needs no storage is checked first: the shape of the signature and the expiry's range.
    let well_formed = signature.len() == 64 && signature.bytes().all(|byte| byte.is_ascii_hexdigit());
    if !well_formed || expires_at > now / 1000 + files::MAX_URL_TTL_SECONDS + 300 {
        return Err(invalid());
    }
    if expires_at <= now / 1000 {
        return Err(ApiError::new(403, ErrorCode::SignedUrlExpired, "this file URL has expired; ask for a fresh one"));
    }
    let signed = SignedUrl { expires_at, key_id, signature };
    let scope = Environment::open_for_signed_file(env, &name, &path, &signed, now).await?;
    let remaining = expires_at.saturating_sub(now / 1000);
    serve(&scope, env, &path, &format!("private, max-age={remaining}")).await
}

async fn serve(scope: &Environment, env: &Platform, path: &FilePath, cache: &str) -> ApiResult {
    let (row, bytes) = scope.file_bytes(env, path).await?.ok_or_else(|| not_found(path))?;
    let headers = Headers::new();
    // Text is stored only when it is UTF-8, and says so.
    let content_type = if row.content_type.starts_with("text/") {
        format!("{}; charset=utf-8", row.content_type)
    } else {
        row.content_type.clone()
    };
    let _ = headers.set("Content-Type", &content_type);
    let _ = headers.set("Cache-Control", cache);
    for (name, value) in files::SAFE_HEADERS {
        let _ = headers.set(name, value);
    }
    let disposition = if files::inline(&row.content_type) { "inline" } else { "attachment" };
    let _ = headers.set("Content-Disposition", &format!("{disposition}; filename=\"{}\"", path.file_name()));
    Ok(ResponseBuilder::new().with_status(200).with_headers(headers).fixed(bytes))
}

/// The lock proof a brand asset's write needs (and production's refusal); none for other files.
async fn brand_write(caller: &Caller, env: &Platform, path: &FilePath) -> ApiResult<Option<crate::store::Unlocked>> {
    if !path.is_brand_asset() {
        return Ok(None);
    }
    caller.require_content_writable("brand assets")?;
    // Brand assets are content: a restricted key needs content:write as well as files:write.
    caller.require_scope(KeyScope::ContentWrite)?;
    Ok(Some(caller.scope.unlocked(env).await?))
}

/// A file path from the URL's segments, each percent-decoded.
fn file_path(segments: &[&str]) -> ApiResult<FilePath> {
    let decoded = segments.iter().map(|segment| decode_segment(segment)).collect::<Result<Vec<_>, _>>()?;
    FilePath::parse(&decoded.join("/")).map_err(file_error)
}

fn too_large() -> ApiError {
    ApiError::new(413, ErrorCode::FileTooLarge, "a file is at most 10 MiB").with_field("body")
}

fn not_found(path: &FilePath) -> ApiError {
    ApiError::new(404, ErrorCode::FileNotFound, format!("there is no file {}", path.as_str()))
}
