-- Channel integrations (webhook endpoints; secrets sealed with the deployment's key)
-- and the webhook deliveries triggers produce.
CREATE TABLE integrations (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  secret TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  workflow TEXT NOT NULL,
  subscriber_id TEXT NOT NULL,
  integration TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX deliveries_by_transaction ON deliveries (transaction_id);
CREATE INDEX deliveries_pending ON deliveries (status, created_at);
