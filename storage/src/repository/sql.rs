//! Statements that read the same on SQLite and PostgreSQL (`$n` parameters work on both).
//!
//! What differs stays with its backend: the order of documents (SQLite's `rowid`,
//! PostgreSQL's `seq`), job claims and leases (a write lock against `FOR UPDATE SKIP LOCKED`
//! and the server's clock), and the lock that orders events on PostgreSQL.

pub(super) const UPSERT_CAMPAIGN: &str = "INSERT INTO campaigns (id, source, loaded_at)
    VALUES ($1, $2, $3)
    ON CONFLICT (id) DO UPDATE SET source = excluded.source, loaded_at = excluded.loaded_at";
pub(super) const SELECT_CAMPAIGN: &str =
    "SELECT id, source, loaded_at FROM campaigns WHERE id = $1";
pub(super) const SELECT_CAMPAIGNS: &str = "SELECT id, source, loaded_at FROM campaigns ORDER BY id";

pub(super) const INSERT_TOKEN: &str = "INSERT INTO tokens (hash, role, name, created_at,
        campaigns, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(super) const SELECT_TOKEN: &str = "SELECT role, name, campaigns, expires_at, revoked_at,
        last_used_at FROM tokens WHERE hash = $1";
pub(super) const TOUCH_TOKEN: &str = "UPDATE tokens SET last_used_at = $1
    WHERE hash = $2 AND (last_used_at IS NULL OR last_used_at < $3)";
pub(super) const REVOKE_TOKENS: &str =
    "UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL";

/// Binds [`super::columns::dossier_params`]; returns the row as stored, or
/// nothing when the reference exists (or is being inserted by a transaction that commits).
pub(super) const INSERT_DOSSIER: &str = "INSERT INTO dossiers (reference, campaign, candidate,
        state, state_reason, corrections, extension, version, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (reference) DO NOTHING
    RETURNING reference, campaign, candidate, state, state_reason, corrections, extension,
        version, created_at, updated_at";
pub(super) const SELECT_DOSSIER: &str = "SELECT reference, campaign, candidate, state,
        state_reason, corrections, extension, version, created_at, updated_at
    FROM dossiers WHERE reference = $1";

/// The optimistic check: one row when the dossier is still at the expected version.
pub(super) const BUMP_VERSION: &str = "UPDATE dossiers SET version = version + 1, updated_at = $1
    WHERE reference = $2 AND version = $3";
/// The closing time is kept while closed (retention counts from it).
pub(super) const SET_STATE: &str = "UPDATE dossiers SET state = $1, state_reason = $2,
        closed_at = CASE WHEN $1 = 'closed' THEN $4 ELSE NULL END
    WHERE reference = $3";
/// A retention rule purges a document's content.
pub(super) const PURGE_DOCUMENT: &str = "UPDATE documents SET purged_at = $1, purge_rule = $2
    WHERE id = $3 AND dossier = $4 AND purged_at IS NULL";
pub(super) const SET_CANDIDATE: &str = "UPDATE dossiers SET candidate = $1 WHERE reference = $2";
pub(super) const SET_CORRECTIONS: &str =
    "UPDATE dossiers SET corrections = $1 WHERE reference = $2";
pub(super) const SET_EXTENSION: &str = "UPDATE dossiers SET extension = $1 WHERE reference = $2";
/// A document filed under another piece, with its new verdict; its review starts afresh
/// (or is the automatic acceptance of its new piece).
pub(super) const ASSIGN_DOCUMENT: &str = "UPDATE documents
    SET piece = $1, verdict = $2, reasons = $3, review = $4, review_reason = NULL,
        reviewed_by = $5, reviewed_at = CASE WHEN $4 IS NULL THEN NULL ELSE $6 END
    WHERE id = $7 AND dossier = $8";

/// Binds [`super::columns::document_params`].
pub(super) const INSERT_DOCUMENT: &str = "INSERT INTO documents (id, dossier, piece, filename,
        declared_type, sha256, size, kind, mime, pages, channel, verdict, reasons, review,
        review_reason, reviewed_by, reviewed_at, withdrawn_at, late, received_at, scan,
        scan_signature, origin, display_sha256)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19, $20, $21, $22, $23, $24)";
pub(super) const SELECT_DOCUMENT: &str = "SELECT * FROM documents WHERE id = $1";
pub(super) const REVIEW_DOCUMENT: &str = "UPDATE documents
    SET review = $1, review_reason = $2, reviewed_by = $3, reviewed_at = $4
    WHERE id = $5 AND dossier = $6";
/// A scan's outcome; the verdict and reasons change only when given.
pub(super) const SCAN_DOCUMENT: &str = "UPDATE documents
    SET scan = $1, scan_signature = $2, verdict = coalesce($3, verdict),
        reasons = coalesce($4, reasons)
    WHERE id = $5 AND dossier = $6";
pub(super) const WITHDRAW_DOCUMENT: &str = "UPDATE documents SET withdrawn_at = $1
    WHERE id = $2 AND dossier = $3 AND withdrawn_at IS NULL";
/// Every object a live document points at: its content, its display copy, and their
/// pictures (purged documents' objects are gone or going, see `retention.rs`).
pub(super) const REFERENCED_CONTENT: &str = "SELECT sha256 FROM documents WHERE purged_at IS NULL
    UNION SELECT display_sha256 FROM documents
        WHERE display_sha256 IS NOT NULL AND purged_at IS NULL
    UNION SELECT image_sha256 FROM preview_pages
        WHERE source_sha256 NOT IN (SELECT sha256 FROM content_deletions)
    ORDER BY 1";

/// The columns of an event as [`super::columns::event_params`] lists them.
pub(super) const EVENT_COLUMNS: &str = "type, dossier, document, at, data, actor";
/// How many values [`super::columns::event_params`] lists.
pub(super) const EVENT_BINDS: usize = 6;
pub(super) const EVENTS_AFTER: &str = "SELECT id, type, actor, dossier, document, at, data
    FROM events WHERE id > $1 ORDER BY id LIMIT $2";

/// [`EVENTS_AFTER`], only events of dossiers of the campaigns bound from `$3` on (`count` of
/// them, at least one).
pub(super) fn events_after_in(count: usize) -> String {
    format!(
        "SELECT e.id, e.type, e.actor, e.dossier, e.document, e.at, e.data
        FROM events e JOIN dossiers d ON d.reference = e.dossier
        WHERE e.id > $1 AND d.campaign IN ({}) ORDER BY e.id LIMIT $2",
        placeholders(3, count)
    )
}

/// `$from, $from+1, ...`: `count` parameters for an `IN` list (at least one, so the list is
/// never empty; an empty list binds one value that matches nothing).
pub(super) fn placeholders(from: usize, count: usize) -> String {
    (from..from + count.max(1))
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The most rows one multi-row insert carries, well within the parameters a statement may
/// have (32,766 on SQLite, 65,535 on PostgreSQL) at ten a row; longer lists take several.
pub(super) const MAX_ROWS: usize = 1000;

/// The placeholders of `rows` rows of `width` parameters each, bound from `$from` on in row
/// order, one string a row (without its parentheses): a multi-row `VALUES` list.
pub(super) fn value_rows(from: usize, width: usize, rows: usize) -> Vec<String> {
    (0..rows)
        .map(|row| placeholders(from + row * width, width))
        .collect()
}

/// `INSERT INTO table (columns) VALUES (...), (...)`: `rows` rows of `width` parameters,
/// bound from `$1` on in row order. Both backends insert the rows of the list in its order.
pub(super) fn insert_rows(table: &str, columns: &str, width: usize, rows: usize) -> String {
    format!(
        "INSERT INTO {table} ({columns}) VALUES ({})",
        value_rows(1, width, rows).join("), (")
    )
}

pub(super) const SELECT_JOB: &str = "SELECT * FROM jobs WHERE id = $1";
pub(super) const JOB_ID: &str = "SELECT id FROM jobs WHERE kind = $1 AND key = $2";

pub(super) const SELECT_OUTBOX_CURSOR: &str =
    "SELECT last_event FROM outbox_cursors WHERE name = $1";
/// The compare-and-set: one row when the cursor was still at `$4`.
pub(super) const MOVE_OUTBOX_CURSOR: &str = "UPDATE outbox_cursors SET last_event = $1, updated_at = $2 WHERE name = $3 AND last_event = $4";
/// A cursor that does not exist yet is at 0: the first move from 0 creates it.
pub(super) const CREATE_OUTBOX_CURSOR: &str =
    "INSERT INTO outbox_cursors (name, last_event, updated_at) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO NOTHING";
