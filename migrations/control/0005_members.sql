-- Members: people who use the control plane, each with a deployment-wide
-- role, per-environment grants, and personal access tokens (stored hashed).
CREATE TABLE members (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer', 'support')),
  created_at INTEGER NOT NULL,
  removed_at INTEGER
);

-- Per-environment access: another role, 'none' (the environment is
-- invisible), or NULL (the deployment role); promote = may promote into it.
CREATE TABLE member_grants (
  member_id TEXT NOT NULL REFERENCES members (id),
  environment TEXT NOT NULL,
  role TEXT CHECK (role IN ('owner', 'admin', 'developer', 'viewer', 'support', 'none')),
  promote INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (member_id, environment)
);

CREATE TABLE member_tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  member_id TEXT NOT NULL REFERENCES members (id),
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX member_tokens_by_member ON member_tokens (member_id);

-- Control-plane writes: who did what to which environment (NULL: the
-- deployment), with a before/after summary that never holds secrets.
CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  environment TEXT,
  resource TEXT NOT NULL,
  summary TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_by_environment ON audit_log (environment, created_at DESC, id DESC);
