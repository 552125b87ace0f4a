-- The life of a dossier as an office lives it: corrections asked of the candidate, a
-- deadline extended for one dossier, and an append-only journal of every action.
--
-- `corrections` maps a piece's code to `{"message", "requested_at", "by"}` while the
-- candidate has not sent the piece again. `extension` is `{"until", "reason", "by", "at"}`
-- once staff extended this dossier's deadline.
ALTER TABLE dossiers ADD COLUMN corrections TEXT NOT NULL DEFAULT '{}';
ALTER TABLE dossiers ADD COLUMN extension TEXT;

-- Who caused each event: `portal:NAME`, `staff:LOGIN`, `station:NAME`, `admin:NAME`,
-- `system`. Events written before this column have none.
ALTER TABLE events ADD COLUMN actor TEXT;

-- One chain per dossier: entry `seq` carries the SHA-256 of entry `seq - 1` (`prev_hash`,
-- 64 zeros for the first) and its own `hash` over its fields, in the form
-- `storage::journal` defines. `at` and `data` are kept as the exact text that was hashed.
-- Entries are only ever inserted; `guichet audit verify` finds one changed or removed.
CREATE TABLE journal (
    dossier    TEXT NOT NULL REFERENCES dossiers(reference),
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    document   TEXT,
    data       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (dossier, seq)
);
