//! One environment's files: bytes in its own R2 bucket (`FILES_<NAME>`),
//! listed in its database's `files` table (sizes for the quota, types,
//! SHA-256). An object is written before its row, and a row removed before
//! its object, so a listed file always has its bytes.

use serde::Deserialize;
use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use tidings_core::files::{self, FilePath, Inspector, SignedUrl, UrlRefusal};
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::{ErrorCode, FileInfo};
use worker::worker_sys::web_sys;
use worker::{Bucket, ByteStream, Data, FixedLengthStream};

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

/// A file to store: where, and its body with the [`Inspector`] that checks
/// it as it streams into the bucket.
pub struct NewFile<'a> {
    /// Where.
    pub path: &'a FilePath,
    /// The body.
    pub body: Body,
    /// Checks the body (type, size, bytes, hash) as it passes.
    pub inspector: Inspector,
}

/// A file's body.
pub enum Body {
    /// Bytes at hand (a logo, a brand asset of an environment file).
    Bytes(Vec<u8>),
    /// A request's body of the declared length, streamed into the bucket without being held.
    Stream(web_sys::ReadableStream, u64),
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Self::Bytes(bytes) => bytes.len() as u64,
            Self::Stream(_, length) => *length,
        }
    }
}

impl Environment {
    /// Stores a file (its bytes checked on the way by its [`Inspector`]),
    /// within the environment's quota; answers its row and whether it is new.
    pub async fn put_file(
        &self,
        env: &Platform,
        unlocked: Option<&Unlocked>,
        file: NewFile<'_>,
        now_ms: u64,
    ) -> Result<(FileRow, bool), ApiError> {
        let NewFile { path, body, inspector } = file;
        let content_type = inspector.content_type().to_owned();
        brand_asset_unlocked(self, unlocked, path)?;
        // A key validated from a cache may outlive its environment by a few seconds: the bucket
        // is written only while the registry says the environment serves, so nothing lands in
        // it after a deletion (or an archive) has begun; and the upload is looked at again once
        // written (below), as a slow one may outlast a deletion that began meanwhile.
        let incarnation = self.serving_since(env).await?.ok_or_else(no_longer_serving)?;
        let existing = self.file(path).await?;
        // A brand asset is named by its bytes: the first one stored stays as it is (type included).
        if let (true, Some(row)) = (path.is_brand_asset(), &existing) {
            return Ok((row.clone(), false));
        }
        let existed = existing.is_some();
        let room = self.take_room(env, path, body.len(), now_ms).await?;
        let stored = self.stream_into_bucket(env, path, body, inspector).await;
        let (sha256, size) = match stored {
            Ok(stored) => stored,
            Err(error) => {
                self.release_room(&room).await;
                return Err(error);
            }
        };
        // The row and the room's release in one transaction: the bytes are counted once, always.
        let recorded = self
            .write_batch(
                "record file",
                vec![
                    statement(
                        &self.db,
                        "INSERT INTO files (path, size, content_type, sha256, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (path) DO UPDATE SET size = excluded.size, \
                         content_type = excluded.content_type, sha256 = excluded.sha256, \
                         updated_at = excluded.updated_at",
                        &[text(path.as_str()), number(size), text(&content_type), text(&sha256), number(now_ms)],
                    )?,
                    statement(
                        &self.db,
                        "DELETE FROM file_reservations WHERE id = ?1 OR expires_at <= ?2",
                        &[text(&room), number(now_ms)],
                    )?,
                ],
            )
            .await;
        if let Err(error) = recorded {
            self.release_room(&room).await;
            return Err(error);
        }
        // A deletion that began while the bytes streamed has wiped (or is wiping) what was there
        // before this row: this upload takes itself back, or an environment made again under the
        // name would find it. (An archive keeps its data, this file included.)
        if !self.still_kept(env, incarnation).await? {
            if let Err(error) = self.remove_file(env, path).await {
                worker::console_error!(
                    "an upload that outlasted its environment was not taken back: {}",
                    error.message()
                );
            }
            return Err(no_longer_serving());
        }
        let row = self.file(path).await?.ok_or_else(|| ApiError::internal("store file", "vanished"))?;
        Ok((row, !existed))
    }

    /// Whether the environment created at `incarnation` still keeps its data
    /// (serving, or archived): not being deleted, deleted, or made again.
    async fn still_kept(&self, env: &Platform, incarnation: u64) -> Result<bool, ApiError> {
        let kept = self.created_while(env, "'ready', 'active', 'archived'").await?;
        Ok(kept == Some(incarnation))
    }

    /// When the environment of this name that serves keys now was created
    /// (its incarnation); `None` while it does not (archived, being deleted,
    /// deleted).
    async fn serving_since(&self, env: &Platform) -> Result<Option<u64>, ApiError> {
        self.created_while(env, "'ready', 'active'").await
    }

    /// When the environment of this name was created, if its status is one of
    /// `statuses` (an SQL list of literals).
    async fn created_while(&self, env: &Platform, statuses: &str) -> Result<Option<u64>, ApiError> {
        let created_at: Option<f64> = statement(
            &super::control_db(env)?,
            &format!("SELECT created_at FROM environments WHERE name = ?1 AND status IN ({statuses})"),
            &[text(self.name().as_str())],
        )?
        .first(Some("created_at"))
        .await
        .map_err(|error| storage_error("read environment status", error))?;
        Ok(created_at.map(|created_at| created_at as u64))
    }

    /// Takes room for `size` bytes at `path` within the environment's quota,
    /// answering the reservation's id; 413 when the files kept (the path's own
    /// bytes aside, which the upload replaces) and the room other uploads
    /// hold leave too little. The sum is read in the insert itself, so
    /// uploads sent at once never pass the quota together.
    async fn take_room(&self, env: &Platform, path: &FilePath, size: u64, now_ms: u64) -> Result<String, ApiError> {
        let quota = super::deployment::file_quota(env)?;
        let id = files::reservation_id(crate::platform::random()?);
        let taken = statement(
            &self.db,
            "INSERT INTO file_reservations (id, path, size, expires_at) SELECT ?1, ?2, ?3, ?4 \
             WHERE (SELECT COALESCE(SUM(size), 0) FROM files WHERE path != ?2) \
             + (SELECT COALESCE(SUM(size), 0) FROM file_reservations WHERE expires_at > ?5) + ?3 <= ?6",
            &[
                text(&id),
                text(path.as_str()),
                number(size),
                number(now_ms + files::RESERVATION_LIFETIME_MS),
                number(now_ms),
                number(quota),
            ],
        )?
        .run()
        .await
        .map_err(|error| storage_error("reserve file quota", error))?;
        if taken.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) > 0 {
            return Ok(id);
        }
        let used: f64 = statement(
            &self.db,
            "SELECT (SELECT COALESCE(SUM(size), 0) FROM files WHERE path != ?1) \
             + (SELECT COALESCE(SUM(size), 0) FROM file_reservations WHERE expires_at > ?2) AS used",
            &[text(path.as_str()), number(now_ms)],
        )?
        .first(Some("used"))
        .await
        .map_err(|error| storage_error("read file quota", error))?
        .unwrap_or(0.0);
        Err(ApiError::new(
            413,
            ErrorCode::StorageQuotaExceeded,
            format!(
                "this environment stores or is receiving {} bytes of files; this one would pass its quota of {quota} bytes",
                used as u64
            ),
        ))
    }

    /// Gives back room an upload took and did not use, with any room whose
    /// upload died (past its lifetime). Best effort: room not given back
    /// lapses by itself.
    async fn release_room(&self, id: &str) {
        let now = crate::platform::now_ms();
        let Ok(release) = statement(
            &self.db,
            "DELETE FROM file_reservations WHERE id = ?1 OR expires_at <= ?2",
            &[text(id), number(now)],
        ) else {
            return;
        };
        if let Err(error) = release.run().await {
            worker::console_warn!("room for an upload not given back (it lapses): {error}");
        }
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
        self.remove_file(env, path).await
    }

    /// [`Self::delete_file`] without its checks: the row, then the bytes.
    async fn remove_file(&self, env: &Platform, path: &FilePath) -> Result<bool, ApiError> {
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

impl Environment {
    /// Streams a body into the bucket at `path` through `inspector`. Each
    /// chunk is held back until the next one arrives, and the last one is
    /// passed on only once the whole body has passed the check: a body that
    /// fails never completes the upload, so whatever the path held before
    /// stays as it was.
    async fn stream_into_bucket(
        &self,
        env: &Platform,
        path: &FilePath,
        body: Body,
        inspector: Inspector,
    ) -> Result<(String, u64), ApiError> {
        let bucket = self.bucket(env)?;
        let (data, state) = match body {
            Body::Bytes(bytes) => {
                let mut inspector = inspector;
                inspector.feed(&bytes).map_err(file_error)?;
                let checked = inspector.finish().map_err(file_error)?;
                (Data::Bytes(bytes), Rc::new(RefCell::new(Checked::Passed(checked))))
            }
            Body::Stream(stream, length) => {
                let state = Rc::new(RefCell::new(Checked::Running(inspector)));
                let checked = held_back(ByteStream::from(stream), Rc::clone(&state));
                (Data::Stream(FixedLengthStream::wrap(checked, length)), state)
            }
        };
        let stored = bucket.put(path.as_str(), data).execute().await;
        let state = std::mem::replace(&mut *state.borrow_mut(), Checked::Taken);
        match (state, stored) {
            (Checked::Refused(error), _) => Err(file_error(error)),
            (_, Err(error)) => Err(ApiError::validation(
                "body",
                format!("the body did not arrive whole (its Content-Length must be its size): {error}"),
            )),
            (Checked::Passed(checked), Ok(_)) => Ok(checked),
            (Checked::Running(_) | Checked::Taken, Ok(_)) => {
                Err(ApiError::internal("store file", "the upload completed before its check"))
            }
        }
    }
}

/// `chunks`, checked by the inspector in `state`, each chunk passed on when
/// the next arrives and the last only after the check of the whole body
/// passed; a failed check ends the stream with an error instead.
fn held_back(
    chunks: ByteStream,
    state: Rc<RefCell<Checked>>,
) -> impl futures_util::Stream<Item = worker::Result<Vec<u8>>> + 'static {
    futures_util::stream::unfold(Some((chunks, None::<Vec<u8>>, state)), |step| async move {
        let (mut chunks, held, state) = step?;
        let refuse = |error: files::FileError| {
            let message = error.to_string();
            *state.borrow_mut() = Checked::Refused(error);
            worker::Error::RustError(message)
        };
        match chunks.next().await {
            Some(Ok(chunk)) => {
                let fed = match &mut *state.borrow_mut() {
                    Checked::Running(inspector) => inspector.feed(&chunk),
                    _ => Ok(()),
                };
                if let Err(error) = fed {
                    return Some((Err(refuse(error)), None));
                }
                // The chunk before goes on (nothing, for the first); this one waits.
                Some((Ok(held.unwrap_or_default()), Some((chunks, Some(chunk), state))))
            }
            Some(Err(error)) => Some((Err(error), None)),
            None => {
                let taken = std::mem::replace(&mut *state.borrow_mut(), Checked::Taken);
                let Checked::Running(inspector) = taken else { return None };
                match inspector.finish() {
                    Ok(checked) => {
                        *state.borrow_mut() = Checked::Passed(checked);
                        // The last chunk, now that the whole body passed; then the end.
                        held.map(|chunk| (Ok(chunk), None))
                    }
                    Err(error) => Some((Err(refuse(error)), None)),
                }
            }
        }
    })
}

/// Where the check of a body stands.
enum Checked {
    Running(Inspector),
    Refused(files::FileError),
    /// The whole body passed: its SHA-256 and size.
    Passed((String, u64)),
    Taken,
}

/// The API error of a refused file.
pub fn file_error(error: files::FileError) -> ApiError {
    let (status, code) = match error {
        files::FileError::Type => (415, ErrorCode::UnsupportedMediaType),
        files::FileError::Size => (413, ErrorCode::FileTooLarge),
        _ => (400, ErrorCode::ValidationFailed),
    };
    ApiError::new(status, code, error.to_string()).with_field(error.field())
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

/// The answer to a write for an environment that no longer serves its keys.
fn no_longer_serving() -> ApiError {
    ApiError::new(401, ErrorCode::KeyRevoked, "this environment no longer serves its keys (archived or deleted)")
}
