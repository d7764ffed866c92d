-- Lock, archive and preview environments.
-- A lock freezes content (workflows, integrations, variables, brand, default
-- preferences, releases): `locked_reason` set means locked.
ALTER TABLE environments ADD COLUMN locked_reason TEXT;
ALTER TABLE environments ADD COLUMN locked_at INTEGER;
ALTER TABLE environments ADD COLUMN locked_by TEXT;
-- An archived environment (status 'archived') keeps its data until purge_at;
-- a restore puts back the status it had.
ALTER TABLE environments ADD COLUMN archived_at INTEGER;
ALTER TABLE environments ADD COLUMN purge_at INTEGER;
ALTER TABLE environments ADD COLUMN status_before_archive TEXT;
-- A preview environment: made from `preview_of` (the only environment it
-- promotes into), off the promotion chain, archived once expires_at passes.
ALTER TABLE environments ADD COLUMN preview_of TEXT;
ALTER TABLE environments ADD COLUMN expires_at INTEGER;
CREATE INDEX environments_due ON environments (status, expires_at, purge_at);
