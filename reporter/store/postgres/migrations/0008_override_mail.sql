-- What an owner asked of its mails, set with contacts set: display names
-- (bare address -> name), a cap on events per mail, and a signing method.
ALTER TABLE contact_overrides ADD COLUMN names jsonb NOT NULL DEFAULT '{}';
ALTER TABLE contact_overrides ADD COLUMN max_events integer NOT NULL DEFAULT 0;
ALTER TABLE contact_overrides ADD COLUMN sign text NOT NULL DEFAULT '';
