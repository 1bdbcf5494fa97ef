-- Rejected rows are counted by reason class (the message without the
-- offending value) and listed newest first per feed.
ALTER TABLE rejects ADD COLUMN class TEXT NOT NULL DEFAULT '';
CREATE INDEX rejects_feed ON rejects (feed, at);

-- Files listed by an API source that were downloaded and ingested, so that
-- each is fetched once.
CREATE TABLE fetched_files (
    feed     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    file     TEXT    NOT NULL,
    fetched  INTEGER NOT NULL,
    rows     INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    PRIMARY KEY (feed, id)
);
