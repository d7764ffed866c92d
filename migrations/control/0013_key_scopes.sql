-- A restricted secret key's scopes, comma-separated; NULL is full access.
ALTER TABLE api_keys ADD COLUMN scopes TEXT;
