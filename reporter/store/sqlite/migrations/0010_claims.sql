-- Reports are claimed before they are sent: several instances share the
-- sending, and only the claim's owner records the result. A claim expires,
-- so that a report whose sender died is sent again by another.
ALTER TABLE reports ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE reports ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
