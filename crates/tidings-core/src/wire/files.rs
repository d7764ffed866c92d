use serde::{Deserialize, Serialize};

/// A file of the environment (`PUT /v1/files/{path}`, `GET /v1/files`).
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Its path, e.g. `avatars/ada.png` or `brand/<sha-256>`.
    pub path: String,
    /// Bytes.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub size: u64,
    /// Its media type.
    pub content_type: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// A short-lived signed URL a browser reads it through (relative to the API's origin), where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `GET /v1/files`: in path order.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileList {
    /// The files.
    pub items: Vec<FileInfo>,
    /// Pass as `after` for the next page; null on the last.
    pub next_after: Option<String>,
}

/// `POST /v1/files/urls`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignFilesRequest {
    /// The files (1 to 100 paths of this environment).
    pub paths: Vec<String>,
    /// How long the URLs live, 60 to 3600 seconds (default 900); expiries fall on five-minute boundaries.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional, type = "number"))]
    pub ttl_seconds: Option<u64>,
}

/// A signed URL per path.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedFileUrls {
    /// Path → URL (relative to the API's origin).
    pub urls: std::collections::BTreeMap<String, String>,
}

/// A file an in-app message carries, as the feed shows it.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The file's path in the environment.
    pub path: String,
    /// The name to show (the path's last segment).
    pub name: String,
    /// A short-lived signed URL (relative to the API's origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}
