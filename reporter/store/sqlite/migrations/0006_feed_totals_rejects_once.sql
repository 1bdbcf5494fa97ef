-- A feed's counts over all its files, not only the last one, and when its
-- last error happened.
ALTER TABLE feed_state ADD COLUMN files INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feed_state ADD COLUMN total_rows INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feed_state ADD COLUMN total_rejected INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feed_state ADD COLUMN last_error_at INTEGER NOT NULL DEFAULT 0;

-- A file ingested again keeps its rejected rows once.
DELETE FROM rejects WHERE id NOT IN (SELECT min(id) FROM rejects GROUP BY feed, file, line, reason);
CREATE UNIQUE INDEX rejects_once ON rejects (feed, file, line, reason);
