-- The review queue: which reviewer is looking at which document awaiting review, until when.
--
-- A document awaits review when its machine verdict accepted it, no staff decision is
-- recorded, it is not withdrawn, it is matched to a piece, its virus scan is not pending or
-- infected, and its dossier is not closed (see repository/queue.rs). A claim is live while
-- `claimed_until` is in the future; an expired claim is simply taken over, so nothing sweeps
-- the table. A reviewer holds at most one claim once they ask for the next document, and a
-- decision or a withdrawal deletes the document's claim, so the table stays as small as the
-- team. Times are RFC 3339 UTC text written by sqlx, which sorts in time order.

CREATE TABLE review_claims (
    document_id    TEXT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    reviewer       TEXT NOT NULL,
    claimed_until  TEXT NOT NULL,
    claimed_at     TEXT NOT NULL
);
CREATE INDEX review_claims_reviewer ON review_claims(reviewer);

-- The documents without a decision, in queue order (oldest received first). Only they are in
-- the index, so finding the next one walks a short index whatever the number of documents
-- reviewed; the queue's other conditions (scan, piece, dossier) are checked on the way.
CREATE INDEX documents_awaiting_review ON documents(received_at, id)
    WHERE review IS NULL AND withdrawn_at IS NULL AND verdict = 'accepted';
