-- Retention: documents lose their content when a campaign rule says so (see
-- `ingest::pipeline::purge`); their rows, hashes and history stay.
--
-- `closed_at`: when the dossier was last closed (cleared when reopened); `after_close` counts
-- from it. Dossiers closed before this column existed count from their last change.
ALTER TABLE dossiers ADD COLUMN closed_at timestamptz;
UPDATE dossiers SET closed_at = updated_at WHERE state = 'closed';

-- `purged_at` and `purge_rule` (`after_close P12M`, `purge_after_decision P30D`): the
-- document's content is gone, or going. `purge_done`: its objects were dealt with (deleted,
-- or still needed by another document); a purge interrupted before that is finished by the
-- next pass.
ALTER TABLE documents ADD COLUMN purged_at timestamptz;
ALTER TABLE documents ADD COLUMN purge_rule text;
ALTER TABLE documents ADD COLUMN purge_done boolean NOT NULL DEFAULT false;
CREATE INDEX documents_purge_pending ON documents(purge_done) WHERE purged_at IS NOT NULL
    AND NOT purge_done;

-- Objects being deleted: a row is written, in the same transaction that checked that no
-- live document needs the object, before the object is deleted, and removed once it (and
-- its pictures) are gone. An intake of the same bytes meanwhile is refused (retry), so no
-- document ever points at an object being deleted; a deletion interrupted by a crash is
-- finished by the next pass.
CREATE TABLE content_deletions (
    sha256      text PRIMARY KEY,
    started_at  timestamptz NOT NULL
);
