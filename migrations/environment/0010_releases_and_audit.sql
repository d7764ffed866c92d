-- Releases: the promotions and rollbacks applied to this environment, each
-- with the content of every resource it touched, before and after. A
-- release is written in the same transaction as the content it changes.
CREATE TABLE releases (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('promotion', 'rollback')),
  source TEXT,
  actor TEXT NOT NULL,
  -- Idempotency: a retried promotion finds its release here.
  request_key TEXT UNIQUE,
  changes TEXT NOT NULL,
  reverts TEXT,
  rolled_back_by TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX releases_newest ON releases (created_at DESC, id DESC);

-- This environment's audit trail: who changed what, with a before/after
-- summary (never secrets). The API only ever appends to it.
CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  resource TEXT NOT NULL,
  summary TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_newest ON audit_log (created_at DESC, id DESC);
