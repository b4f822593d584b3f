-- jobd schema, version 4: learned classes per owner (issue 9). Frozen once shipped.
--
-- One user's runs must not change how another user's jobs are classified (DESIGN §3), so a profile
-- belongs to the uid whose runs taught it. owner_uid -1 holds the daemon-wide pins that root (or the
-- daemon's own user) sets for everyone. The old table's pins become daemon-wide pins; what it had
-- learned from every user's runs together is dropped and learned again, per user.
CREATE TABLE owner_profiles (
    owner_uid   INTEGER NOT NULL CHECK (owner_uid >= -1),
    signature   TEXT NOT NULL,
    runs        INTEGER NOT NULL DEFAULT 0 CHECK (runs >= 0),
    cpu_ratio   REAL NOT NULL DEFAULT 0,               -- moving average of CPU-s per wall-s
    class       TEXT CHECK (class IS NULL OR class IN ('cpu', 'io')),   -- learned; NULL: undecided
    changed_at  REAL,                                  -- when class last changed
    pinned      TEXT CHECK (pinned IS NULL OR pinned IN ('cpu', 'io')),
    updated_at  REAL NOT NULL,
    PRIMARY KEY (owner_uid, signature)
) WITHOUT ROWID;

INSERT INTO owner_profiles (owner_uid, signature, runs, cpu_ratio, class, changed_at, pinned, updated_at)
    SELECT -1, signature, 0, 0, NULL, changed_at, pinned, updated_at FROM profiles WHERE pinned IS NOT NULL;

DROP TABLE profiles;
