-- Four-eyes approval: a promotion, import or rollback into an environment
-- that requires approval (or turning its approval off) waits here, with the
-- exact changes it would apply (the wire form, content before and after),
-- for a second member's review.
CREATE TABLE release_requests (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('promotion', 'rollback', 'import', 'approval_off')),
  source TEXT,
  reverts TEXT,
  requested_by TEXT NOT NULL,
  changes TEXT NOT NULL,
  problems TEXT NOT NULL,
  -- A digest of the target's promotable content when the request was made:
  -- approval applies only over the same content.
  target_fingerprint TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
  reviewed_by TEXT,
  reviewed_at INTEGER,
  comment TEXT,
  release_id TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX release_requests_newest ON release_requests (created_at DESC, id DESC);
