-- Subscriber preferences: channel on/off, globally (workflow '') or per workflow.
CREATE TABLE preferences (
  subscriber_id TEXT NOT NULL,
  workflow TEXT NOT NULL,
  channel TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (subscriber_id, workflow, channel)
);
