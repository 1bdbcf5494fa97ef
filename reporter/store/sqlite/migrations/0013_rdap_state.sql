-- What every instance asking an RDAP server shares: the next free query
-- slot (the rate limit, shared so that two instances ask at the configured
-- rate together) and a pause (a 429's Retry-After or an open circuit,
-- honoured by every instance and across restarts). Times in microseconds.
CREATE TABLE rdap_state (
    server       TEXT    PRIMARY KEY,
    next_slot    INTEGER NOT NULL DEFAULT 0,
    paused_until INTEGER NOT NULL DEFAULT 0,
    pause_cause  TEXT    NOT NULL DEFAULT ''
);
