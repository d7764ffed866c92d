-- When a member's role or grants last changed: a release request made
-- before that is not theirs to review (no reviewer is made for the occasion).
ALTER TABLE members ADD COLUMN grants_changed_at INTEGER;
