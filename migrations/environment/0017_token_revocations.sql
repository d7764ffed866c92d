-- Per-subscriber revocation of subscriber tokens: a token issued (`iat`)
-- before `not_before` (Unix ms) is refused. Kept apart from `subscribers`
-- so that deleting a subscriber (which also sets it) does not bring its old
-- tokens back when the id is used again.
CREATE TABLE subscriber_token_revocations (
  subscriber_id TEXT PRIMARY KEY,
  not_before INTEGER NOT NULL
);
