-- Background work and the event outbox's consumers.
--
-- A job is unique per (kind, key), so enqueueing is idempotent. A worker claims a job by
-- setting it `running` with a lease (`FOR UPDATE SKIP LOCKED`, so claimers in any number of
-- processes never take the same job); once `lease_until` has passed on the server's clock
-- without renewal the worker is taken for dead and the job is claimable again.

CREATE TABLE jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL,
    key          text NOT NULL,
    payload      jsonb NOT NULL,
    state        text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    lease_owner  text,
    lease_until  timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (kind, key)
);
-- The claim's scan: pending jobs of some kinds, oldest first.
CREATE INDEX jobs_pending ON jobs(kind, id) WHERE state IN ('queued', 'running');

-- How far each consumer of the event feed has taken it (the id of the last event taken).
CREATE TABLE outbox_cursors (
    name        text PRIMARY KEY,
    last_event  bigint NOT NULL,
    updated_at  timestamptz NOT NULL
);
