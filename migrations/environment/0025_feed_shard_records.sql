-- What a feed shard database knows of itself and of its subscribers (unused in an
-- environment's own database, which has the same schema).
-- Which environment and shard it belongs to, stamped when the environment is provisioned:
-- a database bound as another environment's shard is refused, never used or wiped.
CREATE TABLE feed_shard (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  environment TEXT NOT NULL,
  shard INTEGER NOT NULL
);
-- When each subscriber was deleted: a trigger that read their profile before then writes
-- nothing into their feed after it.
CREATE TABLE subscriber_deletions (
  subscriber_id TEXT PRIMARY KEY,
  deleted_at INTEGER NOT NULL
);
