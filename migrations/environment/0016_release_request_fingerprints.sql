-- A release made for a request with an Idempotency-Key keeps a fingerprint
-- of that request's body: the same key with another body is refused
-- (422 idempotency_key_reused) instead of replaying an unrelated release.
ALTER TABLE releases ADD COLUMN request_fingerprint TEXT;
