-- Resharding copies a bucket before fencing its writes, then under the fence only what changed
-- since: when the fence went up, and how many messages and tombstones were copied under it.
ALTER TABLE feed_moves ADD COLUMN fenced_at INTEGER;
ALTER TABLE feed_moves ADD COLUMN fenced_rows INTEGER;
-- In a move's new home: the call that owns the bucket's copy into it (its lease). Every write of
-- the copy checks it, so a call that lost its lease with a write in flight changes nothing.
CREATE TABLE feed_copies (
  bucket INTEGER PRIMARY KEY,
  owner TEXT NOT NULL,
  epoch INTEGER NOT NULL
);
-- Each taking of the lease raises the map's epoch; a fence and a copy's claim carry the epoch of
-- the call that wrote it, and never give way to one of an earlier epoch (a call that lost its
-- lease, with a write still in flight).
ALTER TABLE feed_map ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feed_fences ADD COLUMN epoch INTEGER;
