-- Webhook endpoints, one campaign each, and what was delivered to them.
--
-- An endpoint is its own consumer of the event outbox: `last_event` is the id of the last
-- event it was given (delivered, or given up after the last retry), moved only by the
-- process that holds the endpoint's lease. One holder per endpoint at a time (claimed with
-- `FOR UPDATE SKIP LOCKED`, leases on the server's clock) keeps its events in id order and
-- stops two processes from sending the same event at once. Deleted endpoints keep their rows
-- (`deleted_at`) so their deliveries stay readable.

CREATE TABLE webhooks (
    id           text PRIMARY KEY,
    campaign     text NOT NULL REFERENCES campaigns(id),
    url          text NOT NULL,
    created_at   timestamptz NOT NULL,
    deleted_at   timestamptz,
    last_event   bigint NOT NULL,
    lease_owner  text,
    lease_until  timestamptz,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX webhooks_live ON webhooks(campaign) WHERE deleted_at IS NULL;

-- One row per event an endpoint was given: delivered, or failed once retries ran out.
CREATE TABLE webhook_deliveries (
    webhook   text NOT NULL REFERENCES webhooks(id),
    event     bigint NOT NULL,
    state     text NOT NULL CHECK (state IN ('delivered', 'failed')),
    attempts  integer NOT NULL,
    status    integer,
    error     text,
    at        timestamptz NOT NULL,
    PRIMARY KEY (webhook, event)
);

-- The endpoint's backlog is read as "events of its campaign's dossiers after its cursor".
CREATE INDEX events_dossier ON events(dossier, id);
