-- Messages keep their workflow's tags, so feeds can filter on them.
ALTER TABLE messages ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
