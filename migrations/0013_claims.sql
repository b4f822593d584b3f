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
