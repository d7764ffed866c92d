-- Each subscriber's feed counts (messages not archived: total, unread,
-- unseen), kept by triggers in the same transaction as every change to
-- messages, so reading them never scans a feed. Filtered views still count
-- their own rows.
CREATE TABLE feed_counts (
  subscriber_id TEXT PRIMARY KEY,
  total INTEGER NOT NULL DEFAULT 0,
  unread INTEGER NOT NULL DEFAULT 0,
  unseen INTEGER NOT NULL DEFAULT 0
);

INSERT INTO feed_counts (subscriber_id, total, unread, unseen)
  SELECT subscriber_id, COUNT(*), SUM(read_at IS NULL), SUM(seen_at IS NULL)
  FROM messages WHERE archived_at IS NULL GROUP BY subscriber_id;

CREATE TRIGGER feed_counts_after_insert AFTER INSERT ON messages WHEN NEW.archived_at IS NULL
BEGIN
  INSERT INTO feed_counts (subscriber_id, total, unread, unseen)
    VALUES (NEW.subscriber_id, 1, NEW.read_at IS NULL, NEW.seen_at IS NULL)
    ON CONFLICT (subscriber_id) DO UPDATE SET total = total + 1, unread = unread + excluded.unread,
      unseen = unseen + excluded.unseen;
END;

CREATE TRIGGER feed_counts_after_delete AFTER DELETE ON messages WHEN OLD.archived_at IS NULL
BEGIN
  UPDATE feed_counts SET total = total - 1, unread = unread - (OLD.read_at IS NULL),
    unseen = unseen - (OLD.seen_at IS NULL)
  WHERE subscriber_id = OLD.subscriber_id;
END;

CREATE TRIGGER feed_counts_after_update AFTER UPDATE OF read_at, seen_at, archived_at ON messages
BEGIN
  INSERT INTO feed_counts (subscriber_id, total, unread, unseen)
    VALUES (
      NEW.subscriber_id,
      (NEW.archived_at IS NULL) - (OLD.archived_at IS NULL),
      (NEW.archived_at IS NULL AND NEW.read_at IS NULL) - (OLD.archived_at IS NULL AND OLD.read_at IS NULL),
      (NEW.archived_at IS NULL AND NEW.seen_at IS NULL) - (OLD.archived_at IS NULL AND OLD.seen_at IS NULL)
    )
    ON CONFLICT (subscriber_id) DO UPDATE SET total = total + excluded.total, unread = unread + excluded.unread,
      unseen = unseen + excluded.unseen;
END;
