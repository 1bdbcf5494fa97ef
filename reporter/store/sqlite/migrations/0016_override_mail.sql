-- What an owner asked of its mails, set with contacts set: display names
-- (a JSON object, bare address -> name), a cap on events per mail, and a
-- signing method.
ALTER TABLE contact_overrides ADD COLUMN names TEXT NOT NULL DEFAULT '';
ALTER TABLE contact_overrides ADD COLUMN max_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contact_overrides ADD COLUMN sign TEXT NOT NULL DEFAULT '';
