-- What a database knows of itself and, as a feed shard, of its subscribers.
-- Which environment it belongs to, and as what (shard = -1: the environment's own database;
-- 0 and up: that feed shard), stamped when the environment is provisioned; created_at is the
-- environment's, so an earlier environment of the same name is another one. A database
-- stamped as another is refused, never used or wiped.
CREATE TABLE feed_shard (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  environment TEXT NOT NULL,
  shard INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
-- When each subscriber was deleted (in a feed shard): a trigger that read their profile
-- before then writes nothing into their feed after it.
CREATE TABLE subscriber_deletions (
  subscriber_id TEXT PRIMARY KEY,
  deleted_at INTEGER NOT NULL
);
