-- Subscriber profiles: who a subscriber is, for templates and the console.
ALTER TABLE subscribers ADD COLUMN first_name TEXT;
ALTER TABLE subscribers ADD COLUMN last_name TEXT;
ALTER TABLE subscribers ADD COLUMN email TEXT;
ALTER TABLE subscribers ADD COLUMN phone TEXT;
ALTER TABLE subscribers ADD COLUMN avatar TEXT;
ALTER TABLE subscribers ADD COLUMN locale TEXT;
ALTER TABLE subscribers ADD COLUMN timezone TEXT;
ALTER TABLE subscribers ADD COLUMN data TEXT NOT NULL DEFAULT '{}';
ALTER TABLE subscribers ADD COLUMN updated_at INTEGER;
