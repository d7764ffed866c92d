-- Room taken within the environment's file quota by uploads under way: an
-- upload reserves its declared size in the same statement that checks the
-- quota (files kept plus room held), and its file row replaces the
-- reservation in one transaction. A reservation whose upload died lapses at
-- `expires_at`.
CREATE TABLE file_reservations (
  id TEXT PRIMARY KEY,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
