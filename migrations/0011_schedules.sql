-- jobd schema, version 11: recurring jobs (issue 13). Frozen once shipped.
--
-- A schedule submits its job at each due time of a five-field cron expression or of a fixed period.
-- next_due moves forward in the same transaction that stores the job, so a due time fires once, never
-- twice, also across a crash.
CREATE TABLE schedules (
    owner_uid     INTEGER NOT NULL,
    owner_gid     INTEGER NOT NULL,
    name          TEXT NOT NULL,
    cron          TEXT,
    every_seconds REAL CHECK (every_seconds IS NULL OR every_seconds > 0),
    spec          TEXT NOT NULL,                       -- the JobSpec, as JSON
    catch_up      INTEGER NOT NULL DEFAULT 0 CHECK (catch_up IN (0, 1)),
    created_at    REAL NOT NULL,
    next_due      REAL NOT NULL,
    last_fired    REAL,
    last_job_id   INTEGER,
    PRIMARY KEY (owner_uid, name),
    CHECK ((cron IS NULL) <> (every_seconds IS NULL))
) WITHOUT ROWID;
