-- The metadata of guichet. Documents point at content-addressed objects by SHA-256;
-- a document row exists only once its object is durably stored.

CREATE TABLE campaigns (
    id         TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    loaded_at  TEXT NOT NULL
);

CREATE TABLE tokens (
    hash        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE dossiers (
    reference     TEXT PRIMARY KEY,
    campaign      TEXT NOT NULL REFERENCES campaigns(id),
    candidate     TEXT NOT NULL,
    state         TEXT NOT NULL,
    state_reason  TEXT,
    version       INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX dossiers_campaign ON dossiers(campaign);

CREATE TABLE documents (
    id             TEXT PRIMARY KEY,
    dossier        TEXT NOT NULL REFERENCES dossiers(reference),
    piece          TEXT,
    filename       TEXT,
    declared_type  TEXT,
    sha256         TEXT NOT NULL,
    size           INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    mime           TEXT NOT NULL,
    pages          INTEGER,
    channel        TEXT NOT NULL,
    verdict        TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    review         TEXT,
    review_reason  TEXT,
    reviewed_by    TEXT,
    reviewed_at    TEXT,
    withdrawn_at   TEXT,
    late           INTEGER NOT NULL DEFAULT 0,
    received_at    TEXT NOT NULL
);
CREATE INDEX documents_dossier ON documents(dossier);
CREATE INDEX documents_sha256 ON documents(sha256);

CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    type      TEXT NOT NULL,
    dossier   TEXT,
    document  TEXT,
    at        TEXT NOT NULL,
    data      TEXT NOT NULL
);
