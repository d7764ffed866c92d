-- Key rotation (an old key may live on until expires_at) and display settings.
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE environments ADD COLUMN label TEXT;
ALTER TABLE environments ADD COLUMN colour TEXT;
ALTER TABLE environments ADD COLUMN status_reason TEXT;
