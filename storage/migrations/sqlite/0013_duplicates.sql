-- Documents whose content is also in another dossier (a fraud signal), for the dossier list.
--
-- `staff_dossiers.duplicates` is true when an active document of the dossier has the content
-- (SHA-256) of an active document of another dossier. It is computed in SQL each time the
-- row is written, from `documents`. A document arriving in a dossier, or withdrawn from it,
-- can change the flag of the *other* dossiers holding its content, whose version does not
-- move: the triggers below queue its content in `staff_stale_content`, and the index
-- refresher marks stale those of its holders whose flag is no longer right (see
-- `storage::repository::staff`). The queue is only ever inserted into by writers and
-- deleted from by the refresher, by id, so it adds no lock that two writers could wait on.
ALTER TABLE staff_dossiers ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
CREATE INDEX staff_dossiers_duplicates ON staff_dossiers(duplicates, reference);

CREATE TABLE staff_stale_content (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256  TEXT NOT NULL
);

CREATE TRIGGER staff_stale_content_on_insert AFTER INSERT ON documents
BEGIN
    INSERT INTO staff_stale_content (sha256) VALUES (NEW.sha256);
END;

CREATE TRIGGER staff_stale_content_on_withdrawal AFTER UPDATE OF withdrawn_at ON documents
BEGIN
    INSERT INTO staff_stale_content (sha256) VALUES (NEW.sha256);
END;

-- The rows already there, as the refresher would compute them.
UPDATE staff_dossiers SET duplicates = EXISTS (
    SELECT 1 FROM documents mine JOIN documents other
        ON other.sha256 = mine.sha256 AND other.dossier <> mine.dossier
    WHERE mine.dossier = staff_dossiers.reference
        AND mine.withdrawn_at IS NULL AND other.withdrawn_at IS NULL);
