-- The staff web interface: accounts, sessions, and the dossier index behind the list.
--
-- Passwords are argon2 PHC strings. Sessions are kept by the SHA-256 of their cookie value,
-- so a copy of the database does not hand out live sessions.
--
-- `staff_dossiers` holds, per dossier, what the list filters on (completeness and missing
-- pieces are computed by the domain rules, not by SQL). Triggers on `dossiers` mark a dossier
-- stale in `staff_stale` whenever it is created or its version moves; the interface
-- recomputes stale rows before listing and in the background. The mark carries the version
-- that set it, so a recomputation from an older read never clears a newer mark.

CREATE TABLE staff_users (
    name           TEXT PRIMARY KEY,
    role           TEXT NOT NULL CHECK (role IN ('reviewer', 'admin')),
    password_hash  TEXT NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL
);

CREATE TABLE staff_sessions (
    hash        TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES staff_users(name) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX staff_sessions_expiry ON staff_sessions(expires_at);

CREATE TABLE staff_dossiers (
    reference   TEXT PRIMARY KEY,
    campaign    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    ref_key     TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    given_key   TEXT NOT NULL,
    complete    INTEGER NOT NULL,
    -- Codes of the required pieces still to send, as ",a,b," (",," when none).
    missing     TEXT NOT NULL,
    awaiting    INTEGER NOT NULL,
    late        INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
-- Each filter walks its own index in reference order, so a page costs the same on the first
-- and on the thousandth page (keyset pagination on `reference`).
CREATE INDEX staff_dossiers_state ON staff_dossiers(state, reference);
CREATE INDEX staff_dossiers_complete ON staff_dossiers(complete, reference);
CREATE INDEX staff_dossiers_awaiting ON staff_dossiers(awaiting, reference);
CREATE INDEX staff_dossiers_late ON staff_dossiers(late, reference);
CREATE INDEX staff_dossiers_campaign ON staff_dossiers(campaign, reference);
CREATE INDEX staff_dossiers_ref_key ON staff_dossiers(ref_key);
CREATE INDEX staff_dossiers_name_key ON staff_dossiers(name_key);
CREATE INDEX staff_dossiers_given_key ON staff_dossiers(given_key);

CREATE TABLE staff_stale (
    reference  TEXT PRIMARY KEY,
    version    INTEGER NOT NULL
);

CREATE TRIGGER staff_stale_on_insert AFTER INSERT ON dossiers
BEGIN
    INSERT OR REPLACE INTO staff_stale (reference, version)
        VALUES (NEW.reference, NEW.version);
END;

CREATE TRIGGER staff_stale_on_change AFTER UPDATE OF version, state ON dossiers
BEGIN
    INSERT OR REPLACE INTO staff_stale (reference, version)
        VALUES (NEW.reference, NEW.version);
END;

INSERT INTO staff_stale (reference, version) SELECT reference, version FROM dossiers;


-- The dossier page shows the dossier's history: its events, by dossier, in id order.
CREATE INDEX staff_events_dossier ON events(dossier, id);
