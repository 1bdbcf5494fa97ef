-- history --ip/--cidr/--asn starts at the event and needs its reports.
-- (No index on reports.created: a window walks the reports newest first,
-- which is a few hundred thousand rows a year, and stops at the limit;
-- an index there made SQLite sort every event in the window instead.)
CREATE INDEX report_events_event ON report_events (event_id);
