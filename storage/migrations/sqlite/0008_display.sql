-- The display copy of a document that browsers do not draw (HEIC, AVIF): a JPEG made from it
-- at intake, stored as its own content-addressed object. NULL for every other document, and
-- for one whose copy could not be made. The document's own content is never changed.

ALTER TABLE documents ADD COLUMN display_sha256 TEXT;
