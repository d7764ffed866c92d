-- A preview's lifetime, so a restore after it ended gives it the same again.
ALTER TABLE environments ADD COLUMN preview_ttl_seconds INTEGER;
