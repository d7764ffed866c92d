-- The request that holds an in-flight idempotency key: a request may retry
-- its own claim (after an answer lost in transit) and release only its own.
ALTER TABLE idempotency_keys ADD COLUMN claim_id TEXT;
