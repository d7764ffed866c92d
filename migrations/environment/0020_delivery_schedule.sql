-- Deliveries that survive: a schedule of attempts (next_attempt_at), a dead
-- state, replays (a new series starts at series_start), when the sweep last
-- handed one off (handed_off_at), every attempt kept, and each integration's
-- health for its circuit breaker. Deliveries still pending from before are
-- marked failed (replayable), not sent late by the first sweep.
CREATE TABLE deliveries_scheduled (
  id TEXT PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  workflow TEXT NOT NULL,
  subscriber_id TEXT NOT NULL,
  integration TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  series_start INTEGER NOT NULL DEFAULT 0,
  replays INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  handed_off_at INTEGER,
  last_status INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
INSERT INTO deliveries_scheduled (id, transaction_id, workflow, subscriber_id, integration, body, status, attempts,
  next_attempt_at, last_status, last_error, created_at, updated_at)
  SELECT id, transaction_id, workflow, subscriber_id, integration, body,
    CASE status WHEN 'pending' THEN 'failed' ELSE status END, attempts, created_at, last_status,
    CASE status WHEN 'pending' THEN COALESCE(last_error, 'not_sent_before_upgrade') ELSE last_error END,
    created_at, updated_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_scheduled RENAME TO deliveries;
CREATE INDEX deliveries_by_transaction ON deliveries (transaction_id);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_integration ON deliveries (integration, status);
CREATE INDEX deliveries_by_subscriber ON deliveries (subscriber_id);
CREATE INDEX deliveries_by_update ON deliveries (status, updated_at);

CREATE TABLE delivery_attempts (
  delivery_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  status_code INTEGER,
  latency_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retryable', 'final')),
  error TEXT,
  PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE integration_health (
  integration TEXT PRIMARY KEY,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  open_until INTEGER NOT NULL DEFAULT 0,
  last_failure_at INTEGER,
  last_success_at INTEGER,
  updated_at INTEGER NOT NULL
);
