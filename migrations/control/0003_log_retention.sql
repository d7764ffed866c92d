-- How long each environment keeps execution logs.
ALTER TABLE environments ADD COLUMN log_retention_days INTEGER NOT NULL DEFAULT 30;
