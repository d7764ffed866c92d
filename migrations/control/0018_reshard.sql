-- While an environment's feed moves to more shards (resharding): the count it moves from
-- (NULL: settled at feed_shards, which is the count it moves to) and the buckets switched so
-- far (64 hexadecimal digits, one bit per bucket). A routing copy of the bucket map in the
-- environment's own database (feed_map), written after it, so it never runs ahead of it.
ALTER TABLE environments ADD COLUMN feed_shards_from INTEGER;
ALTER TABLE environments ADD COLUMN feed_moved TEXT;
