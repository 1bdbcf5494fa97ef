-- A report too large for one mail goes out in parts; a resend after a crash
-- between parts starts after the last one that left.
ALTER TABLE reports ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
