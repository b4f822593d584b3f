-- jobd schema, version 7: every attempt's outcome is kept (issue 13). Frozen once shipped.
--
-- The jobs row holds the latest attempt, as before; this table holds each earlier one, written when
-- an attempt ends and the job runs again (a retry, a requeue at shutdown or after a crash, `retry`).
-- A job that succeeds at its first attempt, nearly every job, costs no row here.
CREATE TABLE attempts (
    job_id             INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    number             INTEGER NOT NULL CHECK (number >= 1),
    started_at         REAL,
    finished_at        REAL,
    exit_code          INTEGER,
    signal             INTEGER,
    error              TEXT,
    wall_seconds       REAL,
    cpu_user_seconds   REAL,
    cpu_system_seconds REAL,
    max_rss_bytes      INTEGER,
    worker_pid         INTEGER,
    wait_seconds       REAL,
    PRIMARY KEY (job_id, number)
) WITHOUT ROWID;
