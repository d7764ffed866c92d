-- Files of this environment: their bytes live in its R2 bucket, and this
-- table lists them (sizes for the quota, types, SHA-256 for brand assets).
CREATE TABLE files (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
-- The file paths an in-app step attached to a message: `[{"path": …, "name": …}]`.
ALTER TABLE messages ADD COLUMN attachments TEXT;
