-- ClaimReports takes the oldest pending report: ORDER BY id LIMIT n over
-- the primary key walked every sent report before it (and their dead
-- versions), 10 ms a claim by the thousandth report of a pass. The
-- pending ones alone, in id order:
CREATE INDEX reports_pending_id ON reports (id) WHERE state = 'pending';
