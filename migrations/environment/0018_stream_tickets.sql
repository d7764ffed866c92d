-- One-time tickets for realtime sockets (`POST …/feed/stream-ticket`): the
-- SHA-256 of the ticket, whose subscriber it opens, the key it was issued
-- with (its socket closes when that key is revoked), when the credential
-- behind it stops working (Unix ms; NULL: never) and when the ticket does.
-- A ticket is deleted when it is used.
CREATE TABLE stream_tickets (
  hash TEXT PRIMARY KEY,
  subscriber_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  credential_expires_at INTEGER,
  expires_at INTEGER NOT NULL
);
CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);
