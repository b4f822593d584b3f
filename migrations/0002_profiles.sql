-- jobd schema, version 2: learned classes (DESIGN §3, issue 5). Frozen once shipped.

-- The signature the job was classified by (docs/CLASSIFICATION.md); its run teaches that profile.
ALTER TABLE jobs ADD COLUMN signature TEXT;

-- One row per signature that has run or been pinned.
CREATE TABLE profiles (
    signature   TEXT PRIMARY KEY,
    runs        INTEGER NOT NULL DEFAULT 0 CHECK (runs >= 0),
    cpu_ratio   REAL NOT NULL DEFAULT 0,               -- moving average of CPU-s per wall-s
    class       TEXT CHECK (class IS NULL OR class IN ('cpu', 'io')),   -- learned; NULL: undecided
    changed_at  REAL,                                  -- when class last changed
    pinned      TEXT CHECK (pinned IS NULL OR pinned IN ('cpu', 'io')),
    updated_at  REAL NOT NULL
) WITHOUT ROWID;
