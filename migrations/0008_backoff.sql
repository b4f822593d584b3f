-- jobd schema, version 8: delays and retries with backoff (issue 13). Frozen once shipped.
--
-- `run_at` and `backoff_seconds` have been in the schema since version 1; a job is `scheduled` while
-- its run_at is ahead (a delay, or the pause before a retry). How the pause grows:
ALTER TABLE jobs ADD COLUMN backoff TEXT NOT NULL DEFAULT 'exp' CHECK (backoff IN ('exp', 'fixed'));
