-- jobd schema, version 12: on-finish hooks (issue 13). Frozen once shipped.
--
-- on_success / on_failure: a shell command line run (sh -c) as a job of its own, by the same owner, when
-- the job succeeds / fails or ends dead. hook_of: for such a hook job, the job it reports on; its stdin
-- is that job's JSON (kept as a file beside its log).
ALTER TABLE jobs ADD COLUMN on_success TEXT;
ALTER TABLE jobs ADD COLUMN on_failure TEXT;
ALTER TABLE jobs ADD COLUMN hook_of INTEGER;
