-- history --asn reads an AS's events newest report first from this index
-- and stops at the limit (History orders such a search by e.report_id, so
-- that the planner can use the index's order). With events_asn (the AS
-- alone) it read and sorted every event the AS ever had: a million for a
-- big ISP's year.
CREATE INDEX events_asn_report ON events (asn, report_id) WHERE state = 'reported';
DROP INDEX events_asn;
