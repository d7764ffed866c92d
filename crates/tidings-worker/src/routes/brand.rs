//! Brand settings: `GET /v1/brand` (with the logo's signed URL) and `GET
//! /v1/brand/logo` (any key, so inboxes can show them); the logo is the
//! brand asset `brand/<sha-256>` of the environment's files, `PUT /v1/brand` and `PUT /v1/brand/logo` (secret
//! key; content, so refused in production, where it arrives by promotion).

use tidings_core::brand::{self, BrandError};
use tidings_core::files::{FilePath, BRAND_PREFIX, DEFAULT_URL_TTL_SECONDS};
use tidings_core::key_scope::KeyScope;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{BrandInput, LogoInfo};
use worker::{Headers, ResponseBuilder};

use crate::auth::{authenticate, authenticate_secret};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, json, read_body, read_json};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::store::{Environment, Platform};

/// The brand settings; the logo with a short-lived signed URL an `<img>` can load.
pub async fn get(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate(request, env, KeyScope::ContentRead).await?;
    answer(&caller.scope).await
}

/// The brand settings as every brand route answers them: the logo with its signed URL.
async fn answer(scope: &Environment) -> ApiResult {
    let mut brand = scope.brand().await?.ok_or_else(not_set)?;
    if let Some(logo) = &mut brand.logo {
        let path =
            FilePath::parse(&format!("{BRAND_PREFIX}{}", logo.id)).map_err(|_| ApiError::internal("logo", "id"))?;
        // A logo stored before logos moved to the bucket has no file to sign: `GET /v1/brand/logo` serves it.
        if scope.file(&path).await?.is_some() {
            logo.url = Some(scope.signed_file_url(&path, now_ms(), DEFAULT_URL_TTL_SECONDS));
        }
    }
    json(&brand, 200)
}

/// Saves the brand settings (the logo is kept).
pub async fn put(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentWrite).await?;
    caller.require_content_writable("brand settings")?;
    let input: BrandInput = read_json(request).await?;
    brand::validate(&input).map_err(invalid)?;
    caller.scope.save_brand(&caller.scope.unlocked(env).await?, &input, now_ms()).await?;
    answer(&caller.scope).await
}

/// Uploads the logo: the body is the image, `Content-Type` its type.
pub async fn put_logo(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentWrite).await?;
    caller.require_content_writable("brand settings")?;
    let content_type = header(request, "Content-Type").unwrap_or_default().trim().to_ascii_lowercase();
    let bytes = read_body(request).await?;
    let logo = LogoInfo { id: brand::logo_id(&content_type, &bytes).map_err(invalid)?, content_type, url: None };
    if !caller.scope.save_logo(&caller.scope.unlocked(env).await?, env, &logo, &bytes, now_ms()).await? {
        return Err(not_set());
    }
    answer(&caller.scope).await
}

/// The logo's bytes.
pub async fn get_logo(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate(request, env, KeyScope::ContentRead).await?;
    let (content_type, bytes) = caller
        .scope
        .logo(env)
        .await?
        .ok_or_else(|| ApiError::new(404, ErrorCode::LogoNotFound, "this environment has no logo"))?;
    let headers = Headers::new();
    let _ = headers.set("Content-Type", &content_type);
    let _ = headers.set("Cache-Control", "private, max-age=300");
    // The same URL answers each environment's key with its own logo.
    let _ = headers.set("Vary", "Authorization, X-API-Key");
    // Opened as a document (an SVG can be), the logo runs nothing and loads nothing.
    let _ = headers.set("X-Content-Type-Options", "nosniff");
    let _ = headers.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    let _ = headers.set("Content-Disposition", "inline; filename=\"logo\"");
    Ok(ResponseBuilder::new().with_status(200).with_headers(headers).fixed(bytes))
}

fn not_set() -> ApiError {
    ApiError::new(404, ErrorCode::BrandNotFound, "this environment has no brand settings yet; PUT /v1/brand first")
}

fn invalid(error: BrandError) -> ApiError {
    let status = if matches!(error, BrandError::LogoType) { 415 } else { 400 };
    let code = if status == 415 { ErrorCode::UnsupportedMediaType } else { ErrorCode::ValidationFailed };
    ApiError::new(status, code, error.to_string()).with_field(error.field())
}
