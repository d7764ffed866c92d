-- Topics: named groups of subscribers a trigger can address as one recipient.
CREATE TABLE topics (
  key TEXT PRIMARY KEY,
  name TEXT,
  members INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE topic_subscribers (
  topic TEXT NOT NULL,
  subscriber_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (topic, subscriber_id)
) WITHOUT ROWID;
CREATE INDEX topic_subscribers_by_subscriber ON topic_subscribers (subscriber_id);
-- A topic's member count, kept in step with its rows, so no read counts them.
CREATE TRIGGER topic_member_added AFTER INSERT ON topic_subscribers BEGIN
  UPDATE topics SET members = members + 1 WHERE key = NEW.topic;
END;
CREATE TRIGGER topic_member_removed AFTER DELETE ON topic_subscribers BEGIN
  UPDATE topics SET members = members - 1 WHERE key = OLD.topic;
END;
-- A trigger that names topics: recorded when accepted, then written page by
-- page by the FANOUTS queue's consumer. `cursor` is the last recipient id
-- written ('' before the first page); a page commits only together with the
-- cursor moving past it, and only if the cursor was where the page began.
-- `workflow` is NOT NULL: the page guard sets it to NULL to abort a stale page.
-- Every page renders `workflow_version`, the version current when it was accepted.
-- `failures` counts the failed attempts at the page after `cursor`; `writer`
-- names the attempt that wrote the last page (so a retried batch knows its own).
CREATE TABLE fanouts (
  transaction_id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  workflow_version INTEGER NOT NULL,
  payload TEXT NOT NULL,
  actor TEXT,
  recipients TEXT NOT NULL,
  topics TEXT NOT NULL,
  status TEXT NOT NULL,
  cursor TEXT NOT NULL DEFAULT '',
  done INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL,
  error TEXT,
  failures INTEGER NOT NULL DEFAULT 0,
  writer TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX fanouts_by_status ON fanouts (status, updated_at);
-- A transaction's log rows, for its progress.
CREATE INDEX logs_by_transaction ON logs (transaction_id);
