-- The schema of reporter/store/sqlite's migrations 0001-0006, in
-- PostgreSQL's own types:
--   timestamptz for moments (the store writes and reads UTC; a moment that
--     may be unset, such as reports.sent, is NULL when it is);
--   inet for addresses, so that a CIDR question is `ip <<= $1` on a GiST
--     index (inet_ops) and v4 and v6 need no shared byte form;
--   text[] for a contact's addresses, so that "reports to this address" is
--     an exact element match (@>) on a GIN index, not a substring search;
--   jsonb for the extra columns, an array of {"k","v"} objects: an object
--     would lose the feed's column order, as jsonb sorts keys.
-- Columns compared by the planner's keyset cursor (dedup_key) and the
-- contact lists use the "C" collation: byte order, as Go and SQLite
-- compare, whatever the database's default.

CREATE TABLE reports (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref              text        NOT NULL UNIQUE,   -- "CERT-XX#20261123-0001"
    day              date        NOT NULL,          -- of created, UTC
    seq              integer     NOT NULL,
    contact          text[]      COLLATE "C" NOT NULL,
    contact_language text        NOT NULL,
    contact_source   text        NOT NULL,
    contact_format   text        NOT NULL,
    fallback         boolean     NOT NULL,
    created          timestamptz NOT NULL,
    message_id       text        NOT NULL UNIQUE,
    subject          text        NOT NULL DEFAULT '',
    state            text        NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text        NOT NULL DEFAULT '',
    last_attempt     timestamptz,
    -- '-infinity': due at once, whatever the clock of whoever asks
    -- (Requeue), and for a report given up.
    next_try         timestamptz NOT NULL,
    sent             timestamptz,
    event_count      integer     NOT NULL,
    UNIQUE (day, seq)
);
-- Delivery reads the due pending reports; Requeue the failed ones since a
-- time; History goes newest first and asks by contact address.
CREATE INDEX reports_pending ON reports (next_try) WHERE state = 'pending';
CREATE INDEX reports_failed ON reports (last_attempt) WHERE state = 'failed';
CREATE INDEX reports_created ON reports (created);
CREATE INDEX reports_contact ON reports USING gin (contact);

-- Report refs come from a counter per day, not max(seq)+1: two planners
-- never take the same number (CreateReport's upsert locks the day's row).
CREATE TABLE report_seq (
    day date    PRIMARY KEY,
    seq integer NOT NULL
);

CREATE TABLE events (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed             text        NOT NULL,
    dedup_key        text        COLLATE "C" NOT NULL,
    time             timestamptz NOT NULL,
    classification   text        NOT NULL,
    identifier       text        NOT NULL,
    ip               inet        NOT NULL,
    port             integer     NOT NULL,
    protocol         text        NOT NULL,
    asn              bigint      NOT NULL,
    as_org           text        NOT NULL,
    country          text        NOT NULL,
    hostname         text        NOT NULL,
    extra            jsonb       NOT NULL,
    report_type      text        NOT NULL,
    unclassified     boolean     NOT NULL,
    source           text        NOT NULL,
    ingested         timestamptz NOT NULL,
    -- new: waiting for the planner (held ones say why in hold_reason);
    -- planned: in a report being created; reported; skipped (skip_reason).
    state            text        NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'planned', 'reported', 'skipped')),
    skip_reason      text        NOT NULL DEFAULT '',
    hold_reason      text        NOT NULL DEFAULT '',
    -- Where the planner sent it: decided at report time, not at ingest.
    contact          text[]      COLLATE "C" NOT NULL DEFAULT '{}',
    contact_language text        NOT NULL DEFAULT '',
    contact_source   text        NOT NULL DEFAULT '',
    contact_format   text        NOT NULL DEFAULT '',
    contact_inhibit  text        NOT NULL DEFAULT '',
    contact_rule     text        NOT NULL DEFAULT '',
    report_id        bigint      REFERENCES reports (id),
    -- Re-ingesting a file stores nothing twice. Time before key: a file's
    -- rows are close in time, so ingest appends near the index's right
    -- edge instead of writing a random leaf per row; ON CONFLICT names the
    -- columns in any order.
    CONSTRAINT events_once UNIQUE (feed, time, dedup_key)
);
-- The planner reads new events in (dedup_key, time, id) order, so that the
-- observations of one key come together in a batch.
CREATE INDEX events_new ON events (dedup_key, time, id) WHERE state = 'new';
-- Planned events are grouped into one report per recipient.
CREATE INDEX events_planned ON events (contact, contact_language, contact_format) WHERE state = 'planned';
-- Held events, counted by reason and listed by address.
CREATE INDEX events_held ON events (hold_reason, ip) WHERE state = 'new' AND hold_reason <> '';
-- History asks by address, CIDR and ASN, and only about reported events:
-- these indexes hold those alone, so that ingest does not pay for them.
CREATE INDEX events_ip ON events USING gist (ip inet_ops) WHERE state = 'reported';
CREATE INDEX events_asn ON events (asn) WHERE state = 'reported';

CREATE TABLE report_events (
    report_id bigint      NOT NULL REFERENCES reports (id),
    event_id  bigint      NOT NULL REFERENCES events (id),
    contact   text[]      COLLATE "C" NOT NULL,
    rule      text        NOT NULL,
    dedup_key text        COLLATE "C" NOT NULL,
    reported  timestamptz NOT NULL,
    PRIMARY KEY (report_id, event_id)
);
-- The repeat question is asked by key: which rule and which addresses were
-- told about it, and when.
CREATE INDEX report_events_key ON report_events (dedup_key, reported);
-- History from events found by address or ASN to their reports.
CREATE INDEX report_events_event ON report_events (event_id);

CREATE TABLE rejects (
    id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed   text        NOT NULL,
    file   text        NOT NULL,
    line   integer     NOT NULL,
    reason text        NOT NULL,   -- the whole message, with the offending value
    class  text        NOT NULL,   -- the message without values, to count by
    raw    text        NOT NULL,
    at     timestamptz NOT NULL
);
-- A file ingested again keeps its rejected rows once. The reason is hashed:
-- it holds the offending value, which may be longer than a B-tree entry.
CREATE UNIQUE INDEX rejects_once ON rejects (feed, file, line, md5(reason));
CREATE INDEX rejects_feed ON rejects (feed, at);

-- What is remembered of each feed between runs: the conditional-GET
-- validators, the last outcome, counts over every file.
CREATE TABLE feed_state (
    feed           text        PRIMARY KEY,
    etag           text        NOT NULL,
    last_modified  text        NOT NULL,
    last_attempt   timestamptz,
    last_success   timestamptz,
    last_error     text        NOT NULL,
    last_error_at  timestamptz,
    rows           integer     NOT NULL,
    rejected       integer     NOT NULL,
    files          integer     NOT NULL,
    total_rows     bigint      NOT NULL,
    total_rejected bigint      NOT NULL
);

-- Files listed by an API source that were downloaded and ingested, so that
-- each is fetched once.
CREATE TABLE fetched_files (
    feed     text        NOT NULL,
    id       text        NOT NULL,
    file     text        NOT NULL,
    fetched  timestamptz,
    rows     integer     NOT NULL,
    rejected integer     NOT NULL,
    PRIMARY KEY (feed, id)
);

-- Overrides set at run time (autoreporter contacts set); they win over the
-- config's for the same rule. A rule is by CIDR or by ASN, never both.
CREATE TABLE contact_overrides (
    rule     text        PRIMARY KEY,   -- "cidr 192.0.2.0/24" or "asn 64500"
    cidr     cidr,
    asn      bigint,
    addrs    text[]      NOT NULL,      -- may be empty when inhibit is set
    language text        NOT NULL,
    format   text        NOT NULL,
    inhibit  boolean     NOT NULL,
    until    timestamptz,               -- NULL: no expiry
    note     text        NOT NULL,
    set_by   text        NOT NULL,
    set_at   timestamptz,
    CHECK ((cidr IS NULL) <> (asn IS NULL))
);

-- RDAP answers, one per network the server named, so that one query serves
-- every address of that network until it expires.
CREATE TABLE rdap_cache (
    first_ip inet        NOT NULL,
    last_ip  inet        NOT NULL,
    handle   text        NOT NULL,
    entity   text        NOT NULL,
    addrs    text[]      NOT NULL,      -- empty: the network names no abuse contact
    server   text        NOT NULL,
    fetched  timestamptz,
    expires  timestamptz,
    PRIMARY KEY (first_ip, last_ip)
);
CREATE INDEX rdap_cache_expires ON rdap_cache (expires);
