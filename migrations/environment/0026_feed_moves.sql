-- Resharding: moving buckets of subscribers' feeds from one database to another while the
-- environment keeps serving.
--
-- In every database: the buckets it no longer serves. 'writes': being copied away, still
-- readable; 'all': moved away. Every feed statement checks its bucket here first, so a worker
-- routing with an older bucket map is refused and reads the map again. owner: the lease of the
-- call that set it (only that call lifts it).
CREATE TABLE feed_fences (
  bucket INTEGER PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('writes', 'all')),
  owner TEXT
);
-- A subscriber's bucket (0-255, a hash of their id), filled in when a move needs it.
ALTER TABLE subscribers ADD COLUMN bucket INTEGER;
CREATE INDEX subscribers_bucket ON subscribers (bucket);
-- In the environment's own database: the bucket map, the authority (no row: settled at the
-- registry's count), the lease of the one call moving buckets now, and each bucket's move
-- (from and to: -1 for this database, else the shard).
CREATE TABLE feed_map (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  shards_from INTEGER NOT NULL,
  shards_to INTEGER NOT NULL,
  moved TEXT NOT NULL,
  lease_id TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE feed_moves (
  bucket INTEGER PRIMARY KEY,
  from_role INTEGER NOT NULL,
  to_role INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('copying', 'switched', 'done')),
  subscribers INTEGER,
  messages INTEGER,
  started_at INTEGER NOT NULL,
  switched_at INTEGER
);
