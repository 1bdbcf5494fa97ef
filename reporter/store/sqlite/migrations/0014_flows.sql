-- Watched feeds' whole entry lists (reporter.Watchlist), one row a feed,
-- replaced whole as the feeds are published whole; and each flow
-- collector's open aggregates, saved so that a restart does not lose them.
CREATE TABLE watchlists (
	feed    TEXT PRIMARY KEY,
	updated INTEGER NOT NULL,
	entries BLOB NOT NULL
);
CREATE TABLE flow_state (
	flow  TEXT PRIMARY KEY,
	saved INTEGER NOT NULL,
	state BLOB NOT NULL
);
