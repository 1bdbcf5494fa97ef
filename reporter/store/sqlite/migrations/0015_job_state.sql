-- The last run of each job (a feed's ingest, the report pass), so that
-- `autoreporter status`, in a process of its own, shows what the daemon
-- did and means to do. Times are microseconds since the epoch (0: never);
-- took is nanoseconds.
CREATE TABLE job_state (
    job          TEXT    PRIMARY KEY,
    started      INTEGER NOT NULL,
    took         INTEGER NOT NULL,
    result       TEXT    NOT NULL,
    error        TEXT    NOT NULL DEFAULT '',
    ran_by       TEXT    NOT NULL DEFAULT '',
    schedule     TEXT    NOT NULL DEFAULT '',
    next_run     INTEGER NOT NULL DEFAULT 0,
    last_success INTEGER NOT NULL DEFAULT 0,
    runs         INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0
);
