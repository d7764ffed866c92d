-- Brand settings (one row): shown by inboxes, moved by promotion. The
-- logo's bytes are in the environment's KV namespace at brand:logo:<logo_id>.
CREATE TABLE brand (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL,
  primary_colour TEXT NOT NULL,
  accent_colour TEXT,
  logo_id TEXT,
  logo_type TEXT,
  updated_at INTEGER NOT NULL
);
