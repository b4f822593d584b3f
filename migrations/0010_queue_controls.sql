-- jobd schema, version 10: queue limits and pauses (issue 13). Frozen once shipped.
--
-- One row per thing an operator limited or paused, kept across restarts. target: 'all', 'class:cpu',
-- 'class:io' or 'queue:NAME'. concurrency: the most jobs of a queue that run at once (queues only).
CREATE TABLE scheduling_controls (
    target      TEXT PRIMARY KEY,
    concurrency INTEGER CHECK (concurrency IS NULL OR concurrency >= 0),
    paused      INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1))
) WITHOUT ROWID;
