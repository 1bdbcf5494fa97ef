-- A report's events are read in report order a page at a time: seq numbers
-- them 1..n in that order when the report is created.
ALTER TABLE report_events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE report_events SET seq = (
    SELECT x.rn FROM (
        SELECT re.report_id, re.event_id, row_number() OVER (
            PARTITION BY re.report_id ORDER BY e.classification, e.time, e.ip_bytes, e.port, e.id) AS rn
        FROM report_events re JOIN events e ON e.id = re.event_id
    ) x WHERE x.report_id = report_events.report_id AND x.event_id = report_events.event_id);
CREATE INDEX report_events_order ON report_events (report_id, seq);
