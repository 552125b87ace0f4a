-- The staff web interface: accounts, sessions, and the dossier index behind the list.
-- The same tables as on SQLite (see migrations/sqlite/0004_staff.sql for the reasons), in
-- native types. Keys compared by range use the "C" collation, so that prefix searches and
-- keyset pagination order bytes as SQLite does, whatever the server's locale.

CREATE TABLE staff_users (
    name           text PRIMARY KEY,
    role           text NOT NULL CHECK (role IN ('reviewer', 'admin')),
    password_hash  text NOT NULL,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL
);

CREATE TABLE staff_sessions (
    hash        text PRIMARY KEY,
    user_name   text NOT NULL REFERENCES staff_users(name) ON DELETE CASCADE,
    csrf        text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX staff_sessions_expiry ON staff_sessions(expires_at);

CREATE TABLE staff_dossiers (
    reference   text COLLATE "C" PRIMARY KEY,
    campaign    text NOT NULL,
    version     bigint NOT NULL,
    state       text NOT NULL,
    ref_key     text COLLATE "C" NOT NULL,
    name        text NOT NULL,
    name_key    text COLLATE "C" NOT NULL,
    given_key   text COLLATE "C" NOT NULL,
    complete    boolean NOT NULL,
    missing     text NOT NULL,
    awaiting    boolean NOT NULL,
    late        boolean NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX staff_dossiers_state ON staff_dossiers(state, reference);
CREATE INDEX staff_dossiers_complete ON staff_dossiers(complete, reference);
CREATE INDEX staff_dossiers_awaiting ON staff_dossiers(awaiting, reference);
CREATE INDEX staff_dossiers_late ON staff_dossiers(late, reference);
CREATE INDEX staff_dossiers_campaign ON staff_dossiers(campaign, reference);
CREATE INDEX staff_dossiers_ref_key ON staff_dossiers(ref_key);
CREATE INDEX staff_dossiers_name_key ON staff_dossiers(name_key);
CREATE INDEX staff_dossiers_given_key ON staff_dossiers(given_key);

CREATE TABLE staff_stale (
    reference  text PRIMARY KEY,
    version    bigint NOT NULL
);

CREATE FUNCTION staff_mark_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO staff_stale (reference, version) VALUES (NEW.reference, NEW.version)
        ON CONFLICT (reference)
        DO UPDATE SET version = greatest(staff_stale.version, excluded.version);
    RETURN NULL;
END;
$$;

CREATE TRIGGER staff_stale_on_insert AFTER INSERT ON dossiers
    FOR EACH ROW EXECUTE FUNCTION staff_mark_stale();
CREATE TRIGGER staff_stale_on_change AFTER UPDATE OF version, state ON dossiers
    FOR EACH ROW EXECUTE FUNCTION staff_mark_stale();

INSERT INTO staff_stale (reference, version) SELECT reference, version FROM dossiers;

-- The dossier page shows the dossier's history: its events, by dossier, in id order.
CREATE INDEX staff_events_dossier ON events(dossier, id);
