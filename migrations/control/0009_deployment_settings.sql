-- Deployment-wide settings, one row. `admin_token_enabled`: whether the
-- break-glass TIDINGS_ADMIN_TOKEN opens the control plane (an owner may turn
-- it off once an owner can sign in with a member token).
CREATE TABLE deployment_settings (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  admin_token_enabled INTEGER NOT NULL DEFAULT 1,
  updated_at INTEGER
);
INSERT INTO deployment_settings (id, admin_token_enabled) VALUES (1, 1);
