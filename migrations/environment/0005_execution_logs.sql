-- Execution logs: one row per recipient and step, or per refused trigger.
CREATE TABLE logs (
  id TEXT PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  workflow TEXT NOT NULL,
  subscriber_id TEXT,
  step TEXT NOT NULL,
  status TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE INDEX logs_by_time ON logs (created_at);
CREATE INDEX logs_by_workflow ON logs (workflow, id);
CREATE INDEX logs_by_subscriber ON logs (subscriber_id, id);
