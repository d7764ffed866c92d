-- Four-eyes approval: promotions, imports and rollbacks into an environment
-- with require_approval = 1 become release requests a second member reviews.
-- Environments that exist keep their behaviour (0) until changed; new
-- production-type environments start with 1.
ALTER TABLE environments ADD COLUMN require_approval INTEGER NOT NULL DEFAULT 0;
