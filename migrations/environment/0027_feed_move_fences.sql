-- Resharding copies a bucket before fencing its writes, then under the fence only what changed
-- since: when the fence went up, and how many messages and tombstones were copied under it.
ALTER TABLE feed_moves ADD COLUMN fenced_at INTEGER;
ALTER TABLE feed_moves ADD COLUMN fenced_rows INTEGER;
