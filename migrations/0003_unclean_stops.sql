-- jobd schema, version 3: poison-job detection (issue 9). Frozen once shipped.

-- How many unclean stops of the daemon in a row (kill -9, a crash, a power cut) found this job running.
-- Recovery requeues such a job until it has been running at 3 of them, then ends it `dead`: a job that
-- takes the daemon down must not take it down again at every restart. Reset when an unclean stop finds
-- the job not running.
ALTER TABLE jobs ADD COLUMN unclean_stops INTEGER NOT NULL DEFAULT 0 CHECK (unclean_stops >= 0);
CREATE INDEX jobs_with_unclean_stops ON jobs(id) WHERE unclean_stops > 0;
