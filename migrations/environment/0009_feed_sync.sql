-- Delta sync: every write to messages takes the next value of the feed clock
-- and stamps it on the rows it changes; deletions leave tombstones, so a
-- client can ask for everything that changed after a watermark.
CREATE TABLE feed_clock (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL,
  -- Tombstones up to this version have been forgotten; older watermarks must resync.
  purged_through INTEGER NOT NULL
);
INSERT INTO feed_clock (id, version, purged_through) VALUES (1, 0, 0);

ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_changes ON messages (subscriber_id, version, id);

CREATE TABLE message_tombstones (
  id TEXT PRIMARY KEY,
  subscriber_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  deleted_at INTEGER NOT NULL
);
CREATE INDEX message_tombstones_changes ON message_tombstones (subscriber_id, version, id);
CREATE INDEX message_tombstones_age ON message_tombstones (deleted_at);
