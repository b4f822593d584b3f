-- jobd schema, version 13: the store decides, each jobd claims (issue 19). Frozen once shipped.
--
-- A running jobd keeps in memory only the jobs it runs: when a slot frees it claims the best ready jobs
-- from here, in one transaction. A claimed job stays 'queued' (it may wait in a CPU worker's queue) until
-- it starts; claimed_by names the jobd that holds it, and a start-up gives back what a dead one held.
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;

-- The claim's order: priority, then due time (run_at, else the submit time), then id, per class.
CREATE INDEX jobs_ready ON jobs(class, priority DESC, COALESCE(run_at, created_at), id)
    WHERE state = 'queued' AND claimed_by IS NULL;
-- Delays and retries' backoffs, by the time they run out.
CREATE INDEX jobs_due ON jobs(run_at) WHERE state = 'scheduled';
-- Jobs claimed or running, per queue: what a queue's limit counts.
CREATE INDEX jobs_claimed ON jobs(queue) WHERE claimed_by IS NOT NULL;
-- The queues a user's unfinished jobs use, for the bound on them at submit.
CREATE INDEX jobs_unfinished_queues ON jobs(owner_uid, queue)
    WHERE state IN ('scheduled', 'queued', 'running') AND queue <> 'default';

-- Jobs per class and state, kept by the triggers below in the transaction that moves a job: a start-up
-- reads a few rows instead of counting every job (300,000 queued took a third of a second to count).
CREATE TABLE job_counts (
    class TEXT NOT NULL,
    state TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (class, state)
) WITHOUT ROWID;
INSERT INTO job_counts (class, state, n) SELECT class, state, COUNT(*) FROM jobs GROUP BY class, state;
CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (class, state, n) VALUES (new.class, new.state, 1)
        ON CONFLICT (class, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER job_counts_update AFTER UPDATE OF state, class ON jobs
    WHEN old.state <> new.state OR old.class <> new.class BEGIN
    UPDATE job_counts SET n = n - 1 WHERE class = old.class AND state = old.state;
    INSERT INTO job_counts (class, state, n) VALUES (new.class, new.state, 1)
        ON CONFLICT (class, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE class = old.class AND state = old.state;
END;
