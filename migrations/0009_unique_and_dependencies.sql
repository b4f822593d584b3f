-- jobd schema, version 9: unique keys per owner, and what a job waits for (issue 13). Frozen once shipped.
--
-- Version 1's unique index spanned every user: one user's key would have answered another user's
-- submit with a job id that is none of their business. A key is now unique per owner.
DROP INDEX jobs_unique_key;
CREATE UNIQUE INDEX jobs_unique_key ON jobs(owner_uid, unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running');

-- Finding the jobs that wait for one that just ended.
CREATE INDEX job_dependencies_by_dependency ON job_dependencies(depends_on_id);
