-- How many feed shards an environment has, chosen when it is created: 1 keeps its feed
-- (messages, counts, tombstones, the feed clock) in its own database; more puts it in the
-- databases bound as FEED<i>_<NAME>, one per shard.
ALTER TABLE environments ADD COLUMN feed_shards INTEGER NOT NULL DEFAULT 1;
