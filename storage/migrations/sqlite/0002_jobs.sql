-- Background work and the event outbox's consumers.
--
-- A job is unique per (kind, key), so enqueueing is idempotent. A worker claims a job by
-- setting it `running` with a lease; once `lease_until` has passed without renewal the worker
-- is taken for dead and the job is claimable again. Times are RFC 3339 UTC text written by
-- sqlx, which sorts in time order.

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    key          TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    lease_until  TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX jobs_pending ON jobs(kind, id) WHERE state IN ('queued', 'running');

-- How far each consumer of the event feed has taken it (the id of the last event taken).
CREATE TABLE outbox_cursors (
    name        TEXT PRIMARY KEY,
    last_event  INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
