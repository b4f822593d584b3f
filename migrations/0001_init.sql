-- jobd schema, version 1. Frozen once shipped: change the schema with a new numbered file.
-- Times are Unix seconds (REAL). JSON columns hold JSON text.

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,   -- AUTOINCREMENT: ids never reused after pruning
    name            TEXT,
    kind            TEXT NOT NULL CHECK (length(kind) > 0),
    payload         TEXT NOT NULL DEFAULT 'null',        -- JSON given to a handler
    argv            TEXT,                                -- JSON array of strings, exec jobs only
    env             TEXT,                                -- JSON object of strings, exec jobs only
    cwd             TEXT,
    stdin           BLOB,
    queue           TEXT NOT NULL DEFAULT 'default',
    class           TEXT NOT NULL CHECK (class IN ('cpu', 'io')),
    class_source    TEXT NOT NULL CHECK (class_source IN ('hint', 'kind', 'learned', 'default')),
    class_reason    TEXT,
    priority        INTEGER NOT NULL DEFAULT 0,
    run_at          REAL,
    unique_key      TEXT,
    max_attempts    INTEGER NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    timeout_seconds REAL CHECK (timeout_seconds IS NULL OR timeout_seconds > 0),
    backoff_seconds REAL NOT NULL DEFAULT 1,
    state           TEXT NOT NULL CHECK (state IN
                        ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    owner_uid       INTEGER NOT NULL,
    owner_gid       INTEGER NOT NULL,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    exit_code       INTEGER,
    signal          INTEGER,
    error           TEXT,
    result          TEXT,                                -- JSON returned by a handler
    wall_seconds    REAL,
    cpu_user_seconds   REAL,
    cpu_system_seconds REAL,
    max_rss_bytes   INTEGER,
    worker_pid      INTEGER,
    -- A finished job has its finish time; a running one its start time.
    CHECK (state NOT IN ('succeeded', 'failed', 'dead', 'cancelled') OR finished_at IS NOT NULL),
    CHECK (state <> 'running' OR started_at IS NOT NULL)
);

-- Jobs a job waits for (depends_on). A row goes when the dependency is satisfied or the job ends.
CREATE TABLE job_dependencies (
    job_id        INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    depends_on_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, depends_on_id)
) WITHOUT ROWID;

-- Start-up rebuilds the ready queues from the unfinished jobs; listing filters by state.
CREATE INDEX jobs_by_state ON jobs(state, id);
-- At most one unfinished job per unique key.
CREATE UNIQUE INDEX jobs_unique_key ON jobs(unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running');
