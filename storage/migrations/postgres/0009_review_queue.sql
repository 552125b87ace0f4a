-- The review queue: which reviewer is looking at which document awaiting review, until when.
-- The same table and index as on SQLite (see migrations/sqlite/0009_review_queue.sql for the
-- reasons), in native types. Claims are taken with `FOR NO KEY UPDATE SKIP LOCKED` on the
-- document row and guarded by this primary key (see repository/queue.rs).

CREATE TABLE review_claims (
    document_id    text PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    reviewer       text NOT NULL,
    claimed_until  timestamptz NOT NULL,
    claimed_at     timestamptz NOT NULL
);
CREATE INDEX review_claims_reviewer ON review_claims(reviewer);

CREATE INDEX documents_awaiting_review ON documents(received_at, id)
    WHERE review IS NULL AND withdrawn_at IS NULL AND verdict = 'accepted';
