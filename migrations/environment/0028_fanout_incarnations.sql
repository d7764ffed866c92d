-- What a fan-out names, as it was when the trigger was accepted: the workflow's creation time and
-- each topic's (a JSON object, topic key to `created_at`). A page renders only that workflow and
-- reads only those topics' members, so a workflow or topic deleted and made again under the same
-- key (new `created_at`) is not reached by a fan-out accepted before. Rows recorded before this
-- migration have neither and are read as before.
ALTER TABLE fanouts ADD COLUMN workflow_created_at INTEGER;
ALTER TABLE fanouts ADD COLUMN topic_stamps TEXT;
