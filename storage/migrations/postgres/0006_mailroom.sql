-- Scanned batches from mailroom stations, and where each mailroom document came from.
--
-- A batch is unique by its content (sha256): a station that sends the same file again, after
-- a crash or a lost answer, finds the batch it sent. `report` holds the split's outcome as
-- JSON (each page's finding, segments and where they went, unmatched pages), written as the
-- batch is processed so that progress can be read and a resumed run knows what is done.

CREATE TABLE batches (
    id           text PRIMARY KEY,
    station      text NOT NULL,
    filename     text,
    sha256       text NOT NULL UNIQUE,
    size         bigint NOT NULL,
    format       text NOT NULL,
    state        text NOT NULL CHECK (state IN ('queued', 'processing', 'done', 'failed')),
    pages        integer,
    report       jsonb NOT NULL,
    error        text,
    received_at  timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE mailroom_documents (
    document     text PRIMARY KEY REFERENCES documents(id),
    batch        text NOT NULL REFERENCES batches(id),
    station      text NOT NULL,
    first_page   integer NOT NULL,
    last_page    integer NOT NULL
);
CREATE INDEX mailroom_documents_batch ON mailroom_documents(batch);
