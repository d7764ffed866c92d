-- The longest lifetime a subscriber token of the environment may have
-- (`exp - iat`), at most 30 days; tokens asking for longer are refused.
ALTER TABLE environments ADD COLUMN subscriber_token_max_ttl_seconds INTEGER NOT NULL DEFAULT 2592000;
