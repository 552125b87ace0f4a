-- Scanned batches from mailroom stations, and where each mailroom document came from.
--
-- A batch is unique by its content (sha256): a station that sends the same file again, after
-- a crash or a lost answer, finds the batch it sent. `report` holds the split's outcome as
-- JSON (each page's finding, segments and where they went, unmatched pages), written as the
-- batch is processed so that progress can be read and a resumed run knows what is done.

CREATE TABLE batches (
    id           TEXT PRIMARY KEY,
    station      TEXT NOT NULL,
    filename     TEXT,
    sha256       TEXT NOT NULL UNIQUE,
    size         INTEGER NOT NULL,
    format       TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'processing', 'done', 'failed')),
    pages        INTEGER,
    report       TEXT NOT NULL,
    error        TEXT,
    received_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE mailroom_documents (
    document     TEXT PRIMARY KEY REFERENCES documents(id),
    batch        TEXT NOT NULL REFERENCES batches(id),
    station      TEXT NOT NULL,
    first_page   INTEGER NOT NULL,
    last_page    INTEGER NOT NULL
);
CREATE INDEX mailroom_documents_batch ON mailroom_documents(batch);
