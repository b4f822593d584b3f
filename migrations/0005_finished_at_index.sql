-- jobd schema, version 5: retention (issue 9). Frozen once shipped.
--
-- Finished jobs are pruned after the retention period (`jobd --retention`) and on demand (io.jobd.Prune).
-- The prune reads the oldest finished jobs a batch at a time; without this index each batch would scan
-- every row, queued ones included. Unfinished jobs have no finish time and stay out of the index.
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
