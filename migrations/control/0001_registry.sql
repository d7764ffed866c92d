-- The registry of environments and the hashes of their API keys.
CREATE TABLE environments (
  name TEXT PRIMARY KEY,
  type TEXT NOT NULL CHECK (type IN ('development', 'staging', 'production')),
  status TEXT NOT NULL,
  position INTEGER NOT NULL UNIQUE,
  db_binding TEXT NOT NULL UNIQUE,
  kv_binding TEXT NOT NULL UNIQUE,
  requires_subscriber_credential INTEGER NOT NULL,
  allowed_origins TEXT NOT NULL DEFAULT '[]',
  subscriber_signing_secret TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  environment TEXT NOT NULL REFERENCES environments (name),
  kind TEXT NOT NULL CHECK (kind IN ('publishable', 'secret')),
  hash TEXT NOT NULL UNIQUE,
  masked TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);

CREATE INDEX api_keys_by_environment ON api_keys (environment);
