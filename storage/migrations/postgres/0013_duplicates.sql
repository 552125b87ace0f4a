-- Documents whose content is also in another dossier (a fraud signal), for the dossier list.
-- The same as on SQLite (see migrations/sqlite/0013_duplicates.sql for the reasons), in
-- native types. The queue has no key but its id, so concurrent writers never wait on each
-- other for it (under READ COMMITTED they do not see each other's documents either: the
-- refresher, which runs after both have committed, does).
ALTER TABLE staff_dossiers ADD COLUMN duplicates boolean NOT NULL DEFAULT false;
CREATE INDEX staff_dossiers_duplicates ON staff_dossiers(duplicates, reference);

CREATE TABLE staff_stale_content (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256  text NOT NULL
);

CREATE FUNCTION staff_queue_content() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO staff_stale_content (sha256) VALUES (NEW.sha256);
    RETURN NULL;
END;
$$;

CREATE TRIGGER staff_stale_content_on_insert AFTER INSERT ON documents
    FOR EACH ROW EXECUTE FUNCTION staff_queue_content();
CREATE TRIGGER staff_stale_content_on_withdrawal AFTER UPDATE OF withdrawn_at ON documents
    FOR EACH ROW EXECUTE FUNCTION staff_queue_content();

UPDATE staff_dossiers SET duplicates = EXISTS (
    SELECT 1 FROM documents mine JOIN documents other
        ON other.sha256 = mine.sha256 AND other.dossier <> mine.dossier
    WHERE mine.dossier = staff_dossiers.reference
        AND mine.withdrawn_at IS NULL AND other.withdrawn_at IS NULL);
