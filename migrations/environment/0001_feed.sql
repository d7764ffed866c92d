-- One environment's notification data. Every environment has its own database.
CREATE TABLE workflows (
  key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE subscribers (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);

CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
  workflow TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  seen_at INTEGER,
  read_at INTEGER,
  archived_at INTEGER
);

-- Newest-first pages of one subscriber's feed.
CREATE INDEX messages_feed ON messages (subscriber_id, id DESC);
