-- The transaction a keyed trigger runs as, kept when its claim is released after a failure:
-- the retry runs as the same transaction, so feed shards it wrote already are not written twice.
ALTER TABLE idempotency_keys ADD COLUMN transaction_id TEXT;
