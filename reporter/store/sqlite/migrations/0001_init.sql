-- Times are Unix microseconds (UTC). Addresses are kept as text for people
-- and as 16 bytes (IPv4 mapped into IPv6) so that CIDR queries are a range
-- scan over events_ip.
CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    feed             TEXT    NOT NULL,
    dedup_key        TEXT    NOT NULL,
    time             INTEGER NOT NULL,
    classification   TEXT    NOT NULL,
    identifier       TEXT    NOT NULL,
    ip               TEXT    NOT NULL,
    ip_bytes         BLOB    NOT NULL,
    port             INTEGER NOT NULL,
    protocol         TEXT    NOT NULL,
    asn              INTEGER NOT NULL,
    as_org           TEXT    NOT NULL,
    country          TEXT    NOT NULL,
    hostname         TEXT    NOT NULL,
    extra            TEXT    NOT NULL,
    contact          TEXT    NOT NULL,
    contact_language TEXT    NOT NULL,
    contact_source   TEXT    NOT NULL,
    source           TEXT    NOT NULL,
    ingested         INTEGER NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'new', -- new, reported, skipped
    skip_reason      TEXT    NOT NULL DEFAULT '',
    report_id        INTEGER REFERENCES reports (id),
    -- Re-ingesting the same file stores nothing twice.
    UNIQUE (feed, dedup_key, time)
);
CREATE INDEX events_new ON events (id) WHERE state = 'new';
CREATE INDEX events_ip ON events (ip_bytes);
CREATE INDEX events_asn ON events (asn);

CREATE TABLE reports (
    id               INTEGER PRIMARY KEY,
    ref              TEXT    NOT NULL UNIQUE,
    day              TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
    contact          TEXT    NOT NULL,
    contact_language TEXT    NOT NULL,
    contact_source   TEXT    NOT NULL,
    created          INTEGER NOT NULL,
    message_id       TEXT    NOT NULL UNIQUE,
    subject          TEXT    NOT NULL DEFAULT '',
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    next_try         INTEGER NOT NULL,
    sent             INTEGER NOT NULL DEFAULT 0,
    event_count      INTEGER NOT NULL,
    UNIQUE (day, seq)
);
CREATE INDEX reports_pending ON reports (next_try) WHERE state = 'pending';

CREATE TABLE report_events (
    report_id INTEGER NOT NULL REFERENCES reports (id),
    event_id  INTEGER NOT NULL REFERENCES events (id),
    contact   TEXT    NOT NULL,
    dedup_key TEXT    NOT NULL,
    reported  INTEGER NOT NULL,
    PRIMARY KEY (report_id, event_id)
);
-- The repeat-window question: when was this key last told to this contact.
CREATE INDEX report_events_repeat ON report_events (contact, dedup_key, reported);

CREATE TABLE rejects (
    id     INTEGER PRIMARY KEY,
    feed   TEXT    NOT NULL,
    file   TEXT    NOT NULL,
    line   INTEGER NOT NULL,
    reason TEXT    NOT NULL,
    raw    TEXT    NOT NULL,
    at     INTEGER NOT NULL
);
