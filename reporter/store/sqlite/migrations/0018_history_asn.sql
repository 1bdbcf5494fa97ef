-- history --asn reads an AS's events newest report first from this index
-- and stops at the limit. With events_asn (the AS, then the event id) it
-- read and sorted every event the AS ever had: a million for a big ISP's
-- year, seconds per query.
CREATE INDEX events_asn_report ON events (asn, report_id);
DROP INDEX events_asn;
