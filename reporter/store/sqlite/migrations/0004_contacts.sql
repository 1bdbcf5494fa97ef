-- What an override asks of a contact travels with its events and reports:
-- the report format, an inhibit (opt-out) reason, and whether the contact
-- is still waiting for RDAP.
ALTER TABLE events ADD COLUMN contact_format TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN contact_inhibit TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN contact_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN contact_format TEXT NOT NULL DEFAULT '';
-- The planner reads only events whose contact is known; the resolver reads
-- the waiting ones by address.
DROP INDEX events_new;
CREATE INDEX events_new ON events (id) WHERE state = 'new' AND contact_pending = 0;
CREATE INDEX events_pending ON events (ip_bytes) WHERE state = 'new' AND contact_pending = 1;

-- Overrides set at run time (autoreporter contacts set); they win over the
-- config's for the same rule.
CREATE TABLE contact_overrides (
    rule     TEXT    PRIMARY KEY, -- "cidr 192.0.2.0/24" or "asn 64500"
    cidr     TEXT    NOT NULL,
    asn      INTEGER NOT NULL,
    addrs    TEXT    NOT NULL,    -- comma-separated, normalised
    language TEXT    NOT NULL,
    format   TEXT    NOT NULL,
    inhibit  INTEGER NOT NULL,
    until    INTEGER NOT NULL,    -- 0: no expiry
    note     TEXT    NOT NULL,
    set_by   TEXT    NOT NULL,
    set_at   INTEGER NOT NULL
);

-- RDAP answers, one per network the server named, so that one query serves
-- every address of that network until it expires.
CREATE TABLE rdap_cache (
    first_ip BLOB    NOT NULL,
    last_ip  BLOB    NOT NULL,
    first    TEXT    NOT NULL,
    last     TEXT    NOT NULL,
    handle   TEXT    NOT NULL,
    entity   TEXT    NOT NULL,
    addrs    TEXT    NOT NULL,    -- empty: the network names no abuse contact
    server   TEXT    NOT NULL,
    fetched  INTEGER NOT NULL,
    expires  INTEGER NOT NULL,
    PRIMARY KEY (first_ip, last_ip)
);
CREATE INDEX rdap_cache_expires ON rdap_cache (expires);
