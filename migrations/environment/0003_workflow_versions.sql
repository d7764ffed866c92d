-- Workflows become full definitions (steps, tags, schema) with a version history;
-- in-app messages carry an avatar and action buttons.
ALTER TABLE workflows ADD COLUMN definition TEXT;
ALTER TABLE workflows ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE workflows ADD COLUMN updated_at INTEGER;
UPDATE workflows
SET definition = json_object('name', name, 'steps', json_array(json_object('type', 'in_app', 'subject', subject, 'body', body))),
    updated_at = created_at
WHERE definition IS NULL;

CREATE TABLE workflow_versions (
  workflow_key TEXT NOT NULL,
  version INTEGER NOT NULL,
  definition TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (workflow_key, version)
);
INSERT INTO workflow_versions (workflow_key, version, definition, created_at)
SELECT key, version, definition, created_at FROM workflows;

ALTER TABLE messages ADD COLUMN avatar TEXT;
ALTER TABLE messages ADD COLUMN actions TEXT NOT NULL DEFAULT '[]';
