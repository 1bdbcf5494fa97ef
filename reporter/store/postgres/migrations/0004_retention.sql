-- store.retention removes sent reports, closed events and bookkeeping
-- older than a cut, oldest first, a batch at a time.
-- A sent report whose events are being removed a batch at a time is
-- 'purging': it can no longer be resent, and it goes with its last event.
ALTER TABLE reports DROP CONSTRAINT reports_state_check;
ALTER TABLE reports ADD CONSTRAINT reports_state_check CHECK (state IN ('pending', 'sent', 'failed', 'purging'));
-- Each batch is found without a scan: the sent reports oldest first; a
-- report's events (also the foreign key check when the report goes, which
-- would otherwise scan the events for every report removed); closed
-- events by when they came in; rejected rows by when they were kept.
CREATE INDEX reports_purge ON reports (sent) WHERE state IN ('sent', 'purging');
CREATE INDEX events_report ON events (report_id) WHERE report_id IS NOT NULL;
CREATE INDEX events_closed ON events (ingested) WHERE state = 'skipped';
CREATE INDEX rejects_at ON rejects (at);
