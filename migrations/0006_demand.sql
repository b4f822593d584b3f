-- jobd schema, version 6: CPU demand, not share (issue 10). Frozen once shipped.
--
-- A CPU-bound job among twelve on two cores gets a sixth of a core: its CPU seconds per wall second
-- say 0.17, "I/O-bound", exactly when the machine is overloaded. What it *wanted* is the time it ran
-- plus the time it was runnable but waiting for a CPU (the kernel's run-queue delay, schedstat), per
-- wall second: that is what a class is now learned from. The plain CPU ratio is kept beside it.
ALTER TABLE jobs ADD COLUMN wait_seconds REAL CHECK (wait_seconds IS NULL OR wait_seconds >= 0);

-- Profiles learned before had no wait to go by: their CPU ratio is the best estimate of their demand.
ALTER TABLE owner_profiles ADD COLUMN demand_ratio REAL;
UPDATE owner_profiles SET demand_ratio = cpu_ratio;
