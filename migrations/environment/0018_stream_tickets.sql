-- One-time tickets for realtime sockets (`POST …/feed/stream-ticket`): the
-- SHA-256 of the ticket, whose subscriber it opens, the key it was issued
-- with (its socket closes when that key is revoked), when the credential
-- behind it was issued (checked against the subscriber's revocation stamp
-- when the ticket is used) and stops working (Unix ms; NULL: never), and
-- when the ticket expires.
-- A ticket is deleted when it is used.
CREATE TABLE stream_tickets (
  hash TEXT PRIMARY KEY,
  subscriber_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  credential_issued_at INTEGER,
  credential_expires_at INTEGER,
  expires_at INTEGER NOT NULL
);
CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);
