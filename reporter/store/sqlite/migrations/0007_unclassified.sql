-- Events of a report type the parser did not know wait for a schema that
-- knows it; the planner asks for them by feed and type.
CREATE INDEX events_unclassified ON events (feed, report_type) WHERE state = 'new' AND unclassified = 1;
