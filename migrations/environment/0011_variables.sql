-- Environment variables: names arrive by promotion, values are this
-- environment's own (NULL until set). Templates read them as vars.NAME.
CREATE TABLE variables (
  name TEXT PRIMARY KEY,
  value TEXT,
  updated_at INTEGER NOT NULL
);
