-- What every instance asking an RDAP server shares: the next free query
-- slot (the rate limit, shared so that two instances ask at the configured
-- rate together) and a pause (a 429's Retry-After or an open circuit,
-- honoured by every instance and across restarts).
CREATE TABLE rdap_state (
    server       text        PRIMARY KEY,
    next_slot    timestamptz NOT NULL DEFAULT '-infinity',
    paused_until timestamptz NOT NULL DEFAULT '-infinity',
    pause_cause  text        NOT NULL DEFAULT ''
);
