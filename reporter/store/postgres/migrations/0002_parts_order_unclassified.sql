-- A report too large for one mail goes out in parts; a resend after a crash
-- between parts starts after the last one that left.
ALTER TABLE reports ADD COLUMN parts integer NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN parts_sent integer NOT NULL DEFAULT 0;

-- A report's events are read in report order a page at a time: seq numbers
-- them 1..n in that order when the report is created.
ALTER TABLE report_events ADD COLUMN seq integer NOT NULL DEFAULT 0;
UPDATE report_events re SET seq = x.rn
FROM (SELECT r.report_id, r.event_id,
             row_number() OVER (PARTITION BY r.report_id ORDER BY e.classification, e.time, e.ip, e.port, e.id) AS rn
      FROM report_events r JOIN events e ON e.id = r.event_id) x
WHERE x.report_id = re.report_id AND x.event_id = re.event_id;
CREATE INDEX report_events_order ON report_events (report_id, seq);

-- Events of a report type the parser did not know wait for a schema that
-- knows it; the planner asks for them by feed and type.
CREATE INDEX events_unclassified ON events (feed, report_type) WHERE state = 'new' AND unclassified;
