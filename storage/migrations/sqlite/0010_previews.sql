-- Pictures of a document's pages for staff (and the portal): derived objects in the object
-- store, made in the background after intake (the `render` job). They are keyed by the
-- content rendered, a document's or its display copy's SHA-256, so documents with the same
-- bytes share them.
--
-- `previews` holds one row per content once its rendering is over: its page count, or why
-- nothing could be rendered (`failure`, with `pages` 0). No row: not rendered yet.
-- `preview_pages` holds one image per page and width class (a thumbnail and a reading size),
-- each a JPEG object; a page that could not be rendered has a placeholder image and its
-- `failure`. Both are written in one transaction, so a set is whole or absent.

CREATE TABLE previews (
    source_sha256  TEXT PRIMARY KEY,
    pages          INTEGER NOT NULL CHECK (pages >= 0),
    failure        TEXT,
    created_at     TEXT NOT NULL
);

CREATE TABLE preview_pages (
    source_sha256  TEXT NOT NULL REFERENCES previews(source_sha256),
    page           INTEGER NOT NULL CHECK (page >= 1),
    width          INTEGER NOT NULL CHECK (width > 0),
    image_sha256   TEXT NOT NULL,
    pixel_width    INTEGER NOT NULL,
    pixel_height   INTEGER NOT NULL,
    failure        TEXT,
    PRIMARY KEY (source_sha256, page, width)
);
