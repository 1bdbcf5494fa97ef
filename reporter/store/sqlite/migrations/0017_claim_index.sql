-- ClaimReports takes the oldest pending report: ORDER BY id LIMIT n over
-- the table walked every sent report before it. The pending ones alone,
-- in id order:
CREATE INDEX reports_pending_id ON reports (id) WHERE state = 'pending';
