-- The last run of each job (a feed's ingest, the report pass), so that
-- `autoreporter status`, in a process of its own, shows what the daemons
-- did and mean to do. took is nanoseconds.
CREATE TABLE job_state (
    job          text        PRIMARY KEY,
    started      timestamptz NOT NULL,
    took         bigint      NOT NULL,
    result       text        NOT NULL,
    error        text        NOT NULL DEFAULT '',
    ran_by       text        NOT NULL DEFAULT '',
    schedule     text        NOT NULL DEFAULT '',
    next_run     timestamptz,
    last_success timestamptz,
    runs         integer     NOT NULL DEFAULT 0,
    failures     integer     NOT NULL DEFAULT 0
);
