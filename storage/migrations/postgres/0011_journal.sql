-- The life of a dossier as an office lives it: corrections asked of the candidate, a
-- deadline extended for one dossier, and an append-only journal of every action.
--
-- `corrections` maps a piece's code to `{"message", "requested_at", "by"}` while the
-- candidate has not sent the piece again. `extension` is `{"until", "reason", "by", "at"}`
-- once staff extended this dossier's deadline.
ALTER TABLE dossiers ADD COLUMN corrections jsonb NOT NULL DEFAULT '{}';
ALTER TABLE dossiers ADD COLUMN extension jsonb;

-- Who caused each event: `portal:NAME`, `staff:LOGIN`, `station:NAME`, `admin:NAME`,
-- `system`. Events written before this column have none.
ALTER TABLE events ADD COLUMN actor text;

-- One chain per dossier: entry `seq` carries the SHA-256 of entry `seq - 1` (`prev_hash`,
-- 64 zeros for the first) and its own `hash` over its fields, in the form
-- `storage::journal` defines. `at` and `data` are kept as the exact text that was hashed
-- (text, not timestamptz or jsonb, which would normalise it).
-- Entries are only ever inserted; `guichet audit verify` finds one changed or removed.
CREATE TABLE journal (
    dossier    text NOT NULL REFERENCES dossiers(reference),
    seq        bigint NOT NULL CHECK (seq >= 1),
    at         text NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    document   text,
    data       text NOT NULL,
    prev_hash  text NOT NULL,
    hash       text NOT NULL,
    PRIMARY KEY (dossier, seq)
);
