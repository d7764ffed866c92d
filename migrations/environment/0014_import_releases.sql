-- Imports (environments as code) are releases too: reviewed as a diff,
-- recorded with each resource before and after, and undone by a rollback.
-- SQLite cannot change a CHECK constraint, so the table is rebuilt.
CREATE TABLE releases_next (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('promotion', 'rollback', 'import')),
  source TEXT,
  actor TEXT NOT NULL,
  request_key TEXT UNIQUE,
  changes TEXT NOT NULL,
  reverts TEXT,
  rolled_back_by TEXT,
  created_at INTEGER NOT NULL
);
INSERT INTO releases_next (id, kind, source, actor, request_key, changes, reverts, rolled_back_by, created_at)
  SELECT id, kind, source, actor, request_key, changes, reverts, rolled_back_by, created_at FROM releases;
DROP TABLE releases;
ALTER TABLE releases_next RENAME TO releases;
CREATE INDEX releases_newest ON releases (created_at DESC, id DESC);
