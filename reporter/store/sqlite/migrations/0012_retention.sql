-- store.retention removes sent reports, closed events and bookkeeping
-- older than a cut, oldest first, a batch at a time. These indexes find
-- each batch without a scan:
-- the sent reports, oldest first (state 'purging' is a sent report whose
-- events are being removed, a batch at a time);
CREATE INDEX reports_purge ON reports (sent) WHERE state IN ('sent', 'purging');
-- a report's events, to remove them with it (and for the foreign key
-- check when the report goes: without it, every report removed scans the
-- events);
CREATE INDEX events_report ON events (report_id) WHERE report_id IS NOT NULL;
-- closed events, by when they came in;
CREATE INDEX events_closed ON events (ingested) WHERE state = 'skipped';
-- rejected rows, by when they were kept.
CREATE INDEX rejects_at ON rejects (at);
