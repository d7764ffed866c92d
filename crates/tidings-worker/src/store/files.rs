//! One environment's files: bytes in its own R2 bucket (`FILES_<NAME>`),
//! listed in its database's `files` table (sizes for the quota, types,
//! SHA-256). An object is written before its row, and a row removed before
//! its object, so a listed file always has its bytes.

use serde::Deserialize;
use tidings_core::files::{self, FilePath, SignedUrl, UrlRefusal};
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::{ErrorCode, FileInfo};
use worker::Bucket;

use super::lock::Unlocked;
use super::platform::Platform;
use super::{number, statement, storage_error, text, Environment};
use crate::error::ApiError;

/// A file's row.
#[derive(Clone, Deserialize)]
pub struct FileRow {
    /// Its path.
    pub path: String,
    /// Bytes.
    pub size: f64,
    /// Its media type.
    pub content_type: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    created_at: f64,
    updated_at: f64,
}

const COLUMNS: &str = "path, size, content_type, sha256, created_at, updated_at";

/// A file to store, checked with [`files::check`].
pub struct NewFile<'a> {
    /// Where.
    pub path: &'a FilePath,
    /// Its media type.
    pub content_type: &'a str,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// SHA-256 of the bytes, hex.
    pub sha256: &'a str,
}

impl Environment {
    /// Stores a file (its bytes checked by the caller with [`files::check`]),
    /// within the environment's quota; answers its row and whether it is new.
    pub async fn put_file(
        &self,
        env: &Platform,
        unlocked: Option<&Unlocked>,
        file: NewFile<'_>,
        now_ms: u64,
    ) -> Result<(FileRow, bool), ApiError> {
        let NewFile { path, content_type, bytes, sha256 } = file;
        brand_asset_unlocked(self, unlocked, path)?;
        let size = bytes.len() as u64;
        let used: f64 = statement(
            &self.db,
            "SELECT COALESCE(SUM(size), 0) - COALESCE((SELECT size FROM files WHERE path = ?1), 0) AS used FROM files",
            &[text(path.as_str())],
        )?
        .first(Some("used"))
        .await
        .map_err(|error| storage_error("read file quota", error))?
        .unwrap_or(0.0);
        if used as u64 + size > files::ENVIRONMENT_QUOTA_BYTES {
            return Err(ApiError::new(
                413,
                ErrorCode::StorageQuotaExceeded,
                format!(
                    "this environment stores {} bytes of files; this one would pass its quota of {} bytes",
                    used as u64,
                    files::ENVIRONMENT_QUOTA_BYTES
                ),
            ));
        }
        let existing = self.file(path).await?;
        // A brand asset is named by its bytes: the first one stored stays as it is (type included).
        if let (true, Some(row)) = (path.is_brand_asset(), &existing) {
            return Ok((row.clone(), false));
        }
        let existed = existing.is_some();
        self.bucket(env)?
            .put(path.as_str(), bytes)
            .execute()
            .await
            .map_err(|error| ApiError::unavailable("store file", error))?;
        self.write_one(
            "record file",
            statement(
                &self.db,
                "INSERT INTO files (path, size, content_type, sha256, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (path) DO UPDATE SET size = excluded.size, \
                 content_type = excluded.content_type, sha256 = excluded.sha256, updated_at = excluded.updated_at",
                &[text(path.as_str()), number(size), text(content_type), text(sha256), number(now_ms)],
            )?,
        )
        .await?;
        let row = self.file(path).await?.ok_or_else(|| ApiError::internal("store file", "vanished"))?;
        Ok((row, !existed))
    }

    /// A file's row, if it exists.
    pub async fn file(&self, path: &FilePath) -> Result<Option<FileRow>, ApiError> {
        statement(&self.db, &format!("SELECT {COLUMNS} FROM files WHERE path = ?1"), &[text(path.as_str())])?
            .first(None)
            .await
            .map_err(|error| storage_error("read file", error))
    }

    /// A file's row and bytes, if it exists.
    pub async fn file_bytes(&self, env: &Platform, path: &FilePath) -> Result<Option<(FileRow, Vec<u8>)>, ApiError> {
        let Some(row) = self.file(path).await? else { return Ok(None) };
        let object = self
            .bucket(env)?
            .get(path.as_str())
            .execute()
            .await
            .map_err(|error| ApiError::unavailable("read file", error))?;
        let Some(object) = object else { return Ok(None) };
        let Some(body) = object.body() else { return Ok(None) };
        let bytes = body.bytes().await.map_err(|error| ApiError::unavailable("read file", error))?;
        Ok(Some((row, bytes)))
    }

    /// Removes a file (its row, then its bytes); false when there was none.
    pub async fn delete_file(
        &self,
        env: &Platform,
        unlocked: Option<&Unlocked>,
        path: &FilePath,
    ) -> Result<bool, ApiError> {
        brand_asset_unlocked(self, unlocked, path)?;
        let result = self
            .write_one("delete file", statement(&self.db, "DELETE FROM files WHERE path = ?1", &[text(path.as_str())])?)
            .await?;
        let deleted = result.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) > 0;
        self.bucket(env)?.delete(path.as_str()).await.map_err(|error| ApiError::unavailable("delete file", error))?;
        Ok(deleted)
    }

    /// Files whose path starts with `prefix`, after `after` (a path), in path order: up to `limit + 1`.
    pub async fn files(&self, prefix: &str, after: Option<&str>, limit: u32) -> Result<Vec<FileRow>, ApiError> {
        statement(
            &self.db,
            &format!(
                "SELECT {COLUMNS} FROM files WHERE substr(path, 1, length(?1)) = ?1 AND (?2 IS NULL OR path > ?2) \
                 ORDER BY path LIMIT ?3"
            ),
            &[text(prefix), after.map_or(wasm_bindgen::JsValue::NULL, text), number(u64::from(limit) + 1)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("list files", error))
    }

    /// A short-lived URL through which a browser reads `path`, signed with
    /// the current signing secret's file-URL key; relative to the API's origin.
    pub fn signed_file_url(&self, path: &FilePath, now_ms: u64, ttl_seconds: u64) -> String {
        let current = &self.signing().current;
        let expires_at = files::url_expiry(now_ms, ttl_seconds);
        let signed =
            files::sign_url(current.secret.as_bytes(), &current.key_id, self.name().as_str(), path, expires_at);
        files::url_path(self.name().as_str(), path, &signed)
    }

    /// Checks a signed URL against the slot it names (current, or previous
    /// within its grace period): 403 `signed_url_expired` or `signed_url_invalid`.
    pub fn verify_file_url(&self, path: &FilePath, signed: &SignedUrl, now_ms: u64) -> Result<(), ApiError> {
        let signing = self.signing();
        let slot = std::iter::once(&signing.current)
            .chain(signing.previous.iter().filter(|(_, until)| *until > now_ms).map(|(secret, _)| secret))
            .find(|secret| secret.key_id == signed.key_id);
        let outcome = match slot {
            Some(secret) => files::verify_url(secret.secret.as_bytes(), self.name().as_str(), path, signed, now_ms),
            None => Err(UrlRefusal::Invalid),
        };
        outcome.map_err(|refusal| match refusal {
            UrlRefusal::Expired => {
                ApiError::new(403, ErrorCode::SignedUrlExpired, "this file URL has expired; ask for a fresh one")
            }
            UrlRefusal::Invalid => ApiError::new(
                403,
                ErrorCode::SignedUrlInvalid,
                "this file URL is not valid for this environment and file",
            ),
        })
    }

    fn bucket(&self, env: &Platform) -> Result<Bucket, ApiError> {
        env.environment_files(&self.bindings)
            .map_err(|_| super::scope::missing_binding(self.name(), self.bindings.files()))
    }
}

/// Brand assets are content: written only with the lock's proof for this environment.
fn brand_asset_unlocked(scope: &Environment, unlocked: Option<&Unlocked>, path: &FilePath) -> Result<(), ApiError> {
    match (path.is_brand_asset(), unlocked) {
        (false, _) => Ok(()),
        (true, Some(unlocked)) => unlocked.check(scope.name()),
        (true, None) => Err(ApiError::internal("files", "a brand asset written without the lock's proof")),
    }
}

impl FileRow {
    /// The row as the API describes it, with a signed URL when given.
    pub fn to_wire(&self, url: Option<String>) -> FileInfo {
        FileInfo {
            path: self.path.clone(),
            size: self.size as u64,
            content_type: self.content_type.clone(),
            sha256: self.sha256.clone(),
            created_at: rfc3339(self.created_at as u64),
            updated_at: rfc3339(self.updated_at as u64),
            url,
        }
    }
}

impl Environment {
    /// Opens the environment a signed file URL names, only when the URL's
    /// signature is this environment's for this file and still valid: the
    /// handle's sixth constructor, for browsers that hold no key. An
    /// environment that is not served, not ready or archived answers as an
    /// invalid URL would, so the URL tells nothing about it.
    pub async fn open_for_signed_file(
        env: &Platform,
        name: &tidings_core::environment::EnvironmentName,
        path: &FilePath,
        signed: &SignedUrl,
        now_ms: u64,
    ) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::new(403, ErrorCode::SignedUrlInvalid, "this file URL is not valid for this environment and file")
        };
        super::deployment::ensure_served(env, name).map_err(|_| invalid())?;
        let scope = match Self::open_named(env, name).await {
            Ok(scope) => scope,
            Err(error) if error.status() >= 500 => return Err(error),
            Err(_) => return Err(invalid()),
        };
        scope.verify_file_url(path, signed, now_ms)?;
        Ok(scope)
    }
}
