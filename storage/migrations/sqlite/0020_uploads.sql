-- Resumable uploads (the tus protocol): a document a candidate sends in as many requests as
-- the network allows, resumed from any process after a dropped connection or a restart.
--
-- `upload_offset` is how many bytes are durably received; `parts` is the object store's record
-- of them (on S3: the multipart upload, its parts and the short tail kept beside them; on the
-- filesystem: nothing, the file is the record). A request writing to an upload holds it under
-- a lease (`lease_owner` until `lease_until`), renewed as bytes arrive, so two requests never
-- write at once and a request whose process died gives the upload up within seconds.
--
-- `state`: `receiving`, then `received` (every byte in, not yet through intake), then `filed`
-- (`document` names the document) or `refused` (`outcome` holds the error). The row goes at
-- `expires_at`, with what the store holds of it.
CREATE TABLE uploads (
    id              TEXT PRIMARY KEY,
    dossier         TEXT NOT NULL,
    piece           TEXT NOT NULL,
    actor           TEXT NOT NULL,
    length          INTEGER NOT NULL,
    upload_offset   INTEGER NOT NULL DEFAULT 0,
    metadata        TEXT,
    parts           TEXT NOT NULL,
    state           TEXT NOT NULL,
    document        TEXT,
    outcome         TEXT,
    lease_owner     TEXT,
    lease_until     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX uploads_expiry ON uploads (expires_at);
CREATE INDEX uploads_unsettled ON uploads (updated_at) WHERE state = 'received';
