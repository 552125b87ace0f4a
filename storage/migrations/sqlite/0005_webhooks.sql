-- Webhook endpoints, one campaign each, and what was delivered to them.
--
-- An endpoint is its own consumer of the event outbox: `last_event` is the id of the last
-- event it was given (delivered, or given up after the last retry), moved only by the
-- process that holds the endpoint's lease, so its events go out in id order and no two
-- processes send the same event at once. Deleted endpoints keep their rows (`deleted_at`)
-- so their deliveries stay readable. Times are RFC 3339 UTC text, which sorts in time order.

CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY,
    campaign     TEXT NOT NULL REFERENCES campaigns(id),
    url          TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    deleted_at   TEXT,
    last_event   INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  TEXT,
    updated_at   TEXT NOT NULL
);
CREATE INDEX webhooks_live ON webhooks(campaign) WHERE deleted_at IS NULL;

-- One row per event an endpoint was given: delivered, or failed once retries ran out.
CREATE TABLE webhook_deliveries (
    webhook   TEXT NOT NULL REFERENCES webhooks(id),
    event     INTEGER NOT NULL,
    state     TEXT NOT NULL CHECK (state IN ('delivered', 'failed')),
    attempts  INTEGER NOT NULL,
    status    INTEGER,
    error     TEXT,
    at        TEXT NOT NULL,
    PRIMARY KEY (webhook, event)
);

-- The endpoint's backlog is read as "events of its campaign's dossiers after its cursor".
CREATE INDEX events_dossier ON events(dossier, id);
