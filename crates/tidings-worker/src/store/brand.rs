//! Brand settings of one environment: a D1 row, and the logo's bytes as the
//! brand asset `brand/<sha-256>` in the environment's bucket of files
//! (content-addressed, so never overwritten; logos stored earlier are read
//! from its KV namespace).

use serde::Deserialize;
use tidings_core::brand::logo_kv_key;
use tidings_core::files::{FilePath, BRAND_PREFIX};
use tidings_core::wire::{Brand, BrandInput, LogoInfo};
use wasm_bindgen::JsValue;
use worker::kv::KvStore;

use super::lock::Unlocked;
use super::platform::Platform;
use super::{number, statement, storage_error, text, Environment};
use crate::error::ApiError;

#[derive(Deserialize)]
pub(super) struct BrandRow {
    pub name: String,
    pub primary_colour: String,
    pub accent_colour: Option<String>,
    pub logo_id: Option<String>,
    pub logo_type: Option<String>,
    pub updated_at: f64,
}

impl BrandRow {
    pub(super) fn to_wire(&self) -> Brand {
        Brand {
            name: self.name.clone(),
            primary_colour: self.primary_colour.clone(),
            accent_colour: self.accent_colour.clone(),
            logo: self.logo_id.clone().zip(self.logo_type.clone()).map(|(id, content_type)| LogoInfo {
                id,
                content_type,
                url: None,
            }),
        }
    }
}

pub(super) const SELECT_BRAND: &str =
    "SELECT name, primary_colour, accent_colour, logo_id, logo_type, updated_at FROM brand WHERE id = 1";

/// The brand asset a logo is stored as: `brand/<its id>`.
pub(super) fn logo_path(id: &str) -> Result<FilePath, ApiError> {
    FilePath::parse(&format!("{BRAND_PREFIX}{id}")).map_err(|_| ApiError::internal("logo", "stored logo id is invalid"))
}

/// A logo's bytes stored in KV before logos moved to the environment's bucket, if any.
pub(super) async fn get_logo(kv: &KvStore, id: &str) -> Result<Option<Vec<u8>>, ApiError> {
    kv.get(&logo_kv_key(id)).bytes().await.map_err(|error| ApiError::unavailable("read logo", error))
}

impl Environment {
    /// The brand settings, if set.
    pub async fn brand(&self) -> Result<Option<Brand>, ApiError> {
        let row: Option<BrandRow> = statement(&self.db, SELECT_BRAND, &[])?
            .first(None)
            .await
            .map_err(|error| storage_error("read brand", error))?;
        Ok(row.map(|row| row.to_wire()))
    }

    /// Saves the brand settings, keeping the logo.
    pub async fn save_brand(&self, unlocked: &Unlocked, input: &BrandInput, now_ms: u64) -> Result<(), ApiError> {
        unlocked.check(self.name())?;
        statement(
            &self.db,
            "INSERT INTO brand (id, name, primary_colour, accent_colour, updated_at) VALUES (1, ?1, ?2, ?3, ?4) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, primary_colour = excluded.primary_colour, \
             accent_colour = excluded.accent_colour, updated_at = excluded.updated_at",
            &[
                text(&input.name),
                text(&input.primary_colour),
                input.accent_colour.as_deref().map_or(JsValue::NULL, text),
                number(now_ms),
            ],
        )?
        .run()
        .await
        .map_err(|error| storage_error("save brand", error))?;
        Ok(())
    }

    /// Stores a logo (bytes in KV first, then the settings point at it);
    /// false when no brand settings exist yet.
    pub async fn save_logo(
        &self,
        unlocked: &Unlocked,
        env: &Platform,
        logo: &LogoInfo,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<bool, ApiError> {
        unlocked.check(self.name())?;
        // The bytes first, as the brand asset `brand/<id>`; then the settings point at it.
        let path = logo_path(&logo.id)?;
        let inspector =
            tidings_core::files::Inspector::new(&path, &logo.content_type).map_err(super::files::file_error)?;
        let file = super::NewFile { path: &path, body: super::Body::Bytes(bytes.to_vec()), inspector };
        self.put_file(env, Some(unlocked), file, now_ms).await?;
        let result = statement(
            &self.db,
            "UPDATE brand SET logo_id = ?1, logo_type = ?2, updated_at = ?3 WHERE id = 1",
            &[text(&logo.id), text(&logo.content_type), number(now_ms)],
        )?
        .run()
        .await
        .map_err(|error| storage_error("save logo", error))?;
        Ok(result.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) > 0)
    }

    /// The current logo's type and bytes.
    pub async fn logo(&self, env: &Platform) -> Result<Option<(String, Vec<u8>)>, ApiError> {
        let Some(LogoInfo { id, content_type, .. }) = self.brand().await?.and_then(|brand| brand.logo) else {
            return Ok(None);
        };
        if let Some((_, bytes)) = self.file_bytes(env, &logo_path(&id)?).await? {
            return Ok(Some((content_type, bytes)));
        }
        // A logo stored before files moved to the environment's bucket.
        Ok(get_logo(&self.kv(env)?, &id).await?.map(|bytes| (content_type, bytes)))
    }

    fn kv(&self, env: &Platform) -> Result<KvStore, ApiError> {
        env.environment_kv(&self.bindings).map_err(|error| ApiError::unavailable("environment KV binding", error))
    }
}
