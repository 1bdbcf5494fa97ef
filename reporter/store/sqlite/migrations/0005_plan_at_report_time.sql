-- Where an event's reports go is decided when reports are planned, not at
-- ingest, so that a contact changed in between (an inhibit, a corrected
-- address) applies. An event keeps its owner (ip, asn) from ingest; the
-- contact columns are written by the planner, with the rule that gave the
-- contact (the repeat window is kept per rule).
ALTER TABLE events ADD COLUMN contact_rule TEXT NOT NULL DEFAULT '';
-- A held event stays new and says why it waits (waiting-for-contact,
-- unknown-report-type); it is decided again on the next pass.
ALTER TABLE events ADD COLUMN hold_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN report_type TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN unclassified INTEGER NOT NULL DEFAULT 0;
DROP INDEX events_new;
DROP INDEX events_pending;
ALTER TABLE events DROP COLUMN contact_pending;
-- The planner reads new events in (dedup_key, time, id) order, so that the
-- observations of one key come together in a batch.
CREATE INDEX events_new ON events (dedup_key, time, id) WHERE state = 'new';
-- Planned events are grouped into one report per recipient.
CREATE INDEX events_planned ON events (contact, contact_language, contact_format) WHERE state = 'planned';
CREATE INDEX events_held ON events (hold_reason, ip_bytes) WHERE state = 'new' AND hold_reason <> '';

-- The repeat question is asked by key: which rule and which addresses were
-- told about it, and when.
ALTER TABLE report_events ADD COLUMN rule TEXT NOT NULL DEFAULT '';
DROP INDEX report_events_repeat;
CREATE INDEX report_events_key ON report_events (dedup_key, reported);

ALTER TABLE reports ADD COLUMN fallback INTEGER NOT NULL DEFAULT 0;
-- When the last delivery attempt was, so that staff can requeue the reports
-- that failed since a time.
ALTER TABLE reports ADD COLUMN last_attempt INTEGER NOT NULL DEFAULT 0;
CREATE INDEX reports_failed ON reports (last_attempt) WHERE state = 'failed';

-- Report refs come from a counter per day, not max(seq)+1: two planners
-- never take the same number.
CREATE TABLE report_seq (
    day TEXT    PRIMARY KEY,
    seq INTEGER NOT NULL
);
INSERT INTO report_seq (day, seq) SELECT day, max(seq) FROM reports GROUP BY day;
