-- The metadata of guichet. Documents point at content-addressed objects by SHA-256;
-- a document row exists only once its object is durably stored.
-- The same tables and columns as on SQLite, in native types.

CREATE TABLE campaigns (
    id         text PRIMARY KEY,
    source     text NOT NULL,
    loaded_at  timestamptz NOT NULL
);

CREATE TABLE tokens (
    hash        text PRIMARY KEY,
    role        text NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE dossiers (
    reference     text PRIMARY KEY,
    campaign      text NOT NULL REFERENCES campaigns(id),
    candidate     jsonb NOT NULL,
    state         text NOT NULL,
    state_reason  text,
    version       bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX dossiers_campaign ON dossiers(campaign);

CREATE TABLE documents (
    id             text PRIMARY KEY,
    -- Insertion order: it breaks ties between documents received at the same instant.
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    dossier        text NOT NULL REFERENCES dossiers(reference),
    piece          text,
    filename       text,
    declared_type  text,
    sha256         text NOT NULL,
    size           bigint NOT NULL CHECK (size >= 0),
    kind           text NOT NULL,
    mime           text NOT NULL,
    pages          integer,
    channel        text NOT NULL,
    verdict        text NOT NULL,
    reasons        jsonb NOT NULL,
    review         text,
    review_reason  text,
    reviewed_by    text,
    reviewed_at    timestamptz,
    withdrawn_at   timestamptz,
    late           boolean NOT NULL DEFAULT false,
    received_at    timestamptz NOT NULL
);
CREATE INDEX documents_dossier ON documents(dossier, received_at, seq);
CREATE INDEX documents_sha256 ON documents(sha256);

-- Ids only grow, and event-emitting transactions commit in id order (an advisory lock taken
-- before inserting events, see repository/postgres.rs), so the feed can be read by id.
CREATE TABLE events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type      text NOT NULL,
    dossier   text,
    document  text,
    at        timestamptz NOT NULL,
    data      jsonb NOT NULL
);
