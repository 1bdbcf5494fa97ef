-- Watched feeds' whole entry lists (reporter.Watchlist), one row a feed,
-- replaced whole as the feeds are published whole; and each flow
-- collector's open aggregates, saved so that a restart does not lose them.
CREATE TABLE watchlists (
	feed    text PRIMARY KEY,
	updated timestamptz NOT NULL,
	entries bytea NOT NULL
);
CREATE TABLE flow_state (
	flow  text PRIMARY KEY,
	saved timestamptz NOT NULL,
	state bytea NOT NULL
);
