-- The payload fields the workflow's schema marked personal when the
-- message was written (a JSON array of paths), so the console masks them
-- whatever happens to the workflow later. NULL: written before this was
-- recorded; the console then hides the whole payload where it masks.
ALTER TABLE messages ADD COLUMN personal_paths TEXT;
