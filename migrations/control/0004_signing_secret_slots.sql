-- Two slots for the subscriber signing secret: the current one (named by
-- signing_key_id in tokens) and, during a rotation's grace period, the
-- previous one, which verifies until previous_signing_expires_at.
ALTER TABLE environments ADD COLUMN signing_key_id TEXT NOT NULL DEFAULT 's1';
ALTER TABLE environments ADD COLUMN previous_signing_secret TEXT;
ALTER TABLE environments ADD COLUMN previous_signing_key_id TEXT;
ALTER TABLE environments ADD COLUMN previous_signing_expires_at INTEGER;
