-- Virus scanning (ClamAV). `scan` is NULL when the document was stored with no scanner
-- configured; otherwise 'pending' (waiting for clamd: a `scan` job is queued), 'clean',
-- 'infected' (quarantined: never served, never accepted) or 'error' (clamd cannot scan it,
-- e.g. beyond its StreamMaxLength). `scan_signature` names what clamd found.

ALTER TABLE documents ADD COLUMN scan TEXT
    CHECK (scan IN ('pending', 'clean', 'infected', 'error'));
ALTER TABLE documents ADD COLUMN scan_signature TEXT;
