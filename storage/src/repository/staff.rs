//! What the staff web interface keeps and reads: accounts, sessions, and the dossier index
//! behind the dossier list.
//!
//! The index (`staff_dossiers`) holds one row per dossier with what the list filters on:
//! state, search keys, completeness, missing pieces, documents awaiting review, late
//! documents. Completeness depends on the campaign's conditions, which only the domain rules
//! evaluate, so the rows are computed outside SQL: triggers on `dossiers` mark a dossier
//! stale (`staff_stale`) whenever it is created or changed, and the interface recomputes
//! stale rows ([`StaffRepository::stale_dossiers`], [`StaffRepository::put_dossier_indexes`]).
//! Every filter has its own index in reference order, so listing is keyset pagination on
//! `reference` and costs the same on any page of 100,000 dossiers.
//!
//! One flag is not the domain's: `duplicates`, some active document's content is also in
//! another dossier (a fraud signal). It is computed in SQL whenever a row is written, and a
//! document arriving or withdrawn elsewhere queues its content (`staff_stale_content`, by
//! trigger) so that [`StaffRepository::spread_stale_content`] marks stale the holders whose
//! flag it changed: their own version did not move. Writing a row clears its stale mark
//! before it computes the flag, so on PostgreSQL a mark set by a concurrent spread either
//! waits for the row (and is set again after it) or is seen by the flag's query.
//!
//! Both backends share the SQL below (`$n` parameters work on both); the test suite is
//! `tests/staff.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::columns::Columns;
use super::statement::{Param, Statement, params};
use super::{PostgresRepository, RepoError, SqliteRepository};

/// A staff account. `role` is `reviewer` or `admin`.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffUser {
    pub name: String,
    pub role: String,
    /// An argon2 PHC string; the password itself is never stored.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// The campaigns the account sees and acts on; `None` for every campaign.
    pub campaigns: Option<Vec<String>>,
}

/// A login session. `hash` is the SHA-256 of the cookie value, so the table alone opens none.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffSession {
    pub hash: String,
    pub user: String,
    /// The anti-CSRF token every form of this session carries.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One row of the dossier index, as computed from the dossier by the domain rules.
#[derive(Debug, Clone, PartialEq)]
pub struct DossierIndexRow {
    pub reference: String,
    pub campaign: String,
    /// The dossier version the row was computed from; an older computation never overwrites
    /// a newer one.
    pub version: i64,
    pub state: String,
    /// The candidate's name as shown (may be empty).
    pub name: String,
    /// Search keys: lowercase, without accents. `name_key` starts with the family name,
    /// `given_key` with the given name.
    pub name_key: String,
    pub given_key: String,
    pub complete: bool,
    /// Codes of required pieces the candidate must still send (pending documents count as
    /// sent).
    pub missing: Vec<String>,
    /// Some document waits for a staff decision.
    pub awaiting: bool,
    /// Some document arrived after the campaign closed.
    pub late: bool,
    /// Some active document's content is also an active document of another dossier.
    /// Computed by the repository when the row is written, from the documents of every
    /// dossier (which the domain rules do not see): the value given to
    /// [`StaffRepository::put_dossier_index`] is not used.
    pub duplicates: bool,
    pub updated_at: DateTime<Utc>,
}

/// A page request on the dossier list. Every filter is optional; `after` is the last
/// reference of the previous page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DossierQuery {
    /// A prefix of the reference, the family name or the given name, already normalised
    /// like the keys (lowercase, no accents).
    pub search: Option<String>,
    pub state: Option<String>,
    pub campaign: Option<String>,
    pub complete: Option<bool>,
    /// A piece code that must be among the missing ones.
    pub missing: Option<String>,
    pub awaiting: Option<bool>,
    pub late: Option<bool>,
    /// Some document's content is also in another dossier.
    pub duplicates: Option<bool>,
    /// The campaigns of the reader's scope; `None` for every campaign. Unlike `campaign`, a
    /// filter the reader chooses, this one they cannot lift.
    pub scope: Option<Vec<String>>,
    pub after: Option<String>,
    pub limit: u32,
}

/// Counts for the dashboard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexCounts {
    /// Dossiers per state, in state name order.
    pub by_state: Vec<(String, i64)>,
    pub complete: i64,
    pub awaiting: i64,
    pub late: i64,
    pub duplicates: i64,
    /// Dossiers whose index row is being recomputed.
    pub stale: i64,
}

/// Another document with the same content.
#[derive(Debug, Clone, PartialEq)]
pub struct SameContent {
    /// The content both documents have.
    pub sha256: String,
    pub document: String,
    pub dossier: String,
    pub piece: Option<String>,
}

/// An API token as listed to admins (never its hash in full).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenListing {
    /// The first characters of the hash: enough to tell tokens apart, useless to log in.
    pub id: String,
    pub role: String,
    pub name: String,
    /// The campaigns it may reach; `None` for every campaign.
    pub campaigns: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait StaffRepository: Send + Sync {
    /// Creates the account; `false` (and nothing changed) when the name is taken.
    async fn create_staff_user(&self, user: &StaffUser) -> Result<bool, RepoError>;
    async fn staff_user(&self, name: &str) -> Result<Option<StaffUser>, RepoError>;
    async fn staff_users(&self) -> Result<Vec<StaffUser>, RepoError>;
    /// Sets the campaigns the account reaches (`None`: every campaign); `false` when no
    /// such account.
    async fn set_staff_campaigns(
        &self,
        name: &str,
        campaigns: Option<&[String]>,
    ) -> Result<bool, RepoError>;
    /// Disables or enables an account; a disabled account's sessions are ended.
    async fn set_staff_user_disabled(&self, name: &str, disabled: bool) -> Result<bool, RepoError>;
    /// Replaces the account's password hash and ends its sessions, but `keep` (a session
    /// hash: the one of a user changing their own password); `false` when no such account.
    async fn set_staff_password(
        &self,
        name: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<bool, RepoError>;
    /// Sets the e-mail by which single sign-on finds the account (kept lower-case; `None`
    /// clears it); `false` when no such account. Fails when another account has it.
    async fn set_staff_email(&self, name: &str, email: Option<&str>) -> Result<bool, RepoError>;
    /// The account single sign-on opens for the provider's `subject` and, when the provider
    /// vouches for it, `email`: the account bound to the subject, else the one with that
    /// e-mail and no subject yet, which is bound to it from then on.
    async fn staff_user_for_identity(
        &self,
        subject: &str,
        email: Option<&str>,
    ) -> Result<Option<StaffUser>, RepoError>;

    async fn create_staff_session(&self, session: &StaffSession) -> Result<(), RepoError>;
    /// The session and its user, if the session exists (expired or not: the caller decides).
    async fn staff_session(
        &self,
        hash: &str,
    ) -> Result<Option<(StaffSession, StaffUser)>, RepoError>;
    async fn delete_staff_session(&self, hash: &str) -> Result<(), RepoError>;
    /// Deletes sessions expired at `now`; returns how many.
    async fn delete_expired_staff_sessions(&self, now: DateTime<Utc>) -> Result<u64, RepoError>;

    /// Up to `limit` dossiers whose index row must be recomputed, with the version that
    /// marked them.
    async fn stale_dossiers(&self, limit: u32) -> Result<Vec<(String, i64)>, RepoError>;
    /// Writes each row unless a newer one is there, and clears its stale mark if no newer
    /// change came meanwhile: in one transaction on SQLite (one sync of the log for a whole
    /// batch), one transaction a row on PostgreSQL (see the implementations).
    async fn put_dossier_indexes(&self, rows: &[DossierIndexRow]) -> Result<(), RepoError>;
    /// [`StaffRepository::put_dossier_indexes`] for one row.
    async fn put_dossier_index(&self, row: &DossierIndexRow) -> Result<(), RepoError> {
        self.put_dossier_indexes(std::slice::from_ref(row)).await
    }
    async fn list_dossier_index(
        &self,
        query: &DossierQuery,
    ) -> Result<Vec<DossierIndexRow>, RepoError>;
    /// The counts of the dashboard, over the dossiers of `scope` (`None`: every campaign);
    /// `stale` counts every dossier.
    async fn dossier_index_counts(
        &self,
        scope: Option<&[String]>,
    ) -> Result<IndexCounts, RepoError>;

    /// For every content of the dossier's documents (withdrawn ones included), or only
    /// `content` when given (one document's view), the active documents of other dossiers
    /// with that content, at most `limit` a content; in one query, ordered by content,
    /// dossier and document.
    async fn same_content_as_dossier(
        &self,
        dossier: &str,
        content: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SameContent>, RepoError>;
    /// Takes up to `limit` contents that documents brought or withdrew, and marks stale the
    /// dossiers holding them whose `duplicates` flag is no longer right; returns how many
    /// were taken.
    async fn spread_stale_content(&self, limit: u32) -> Result<usize, RepoError>;
    /// [`StaffRepository::same_content_as_dossier`], only documents of dossiers of
    /// `campaigns` (a token's scope).
    async fn same_content_in_campaigns(
        &self,
        dossier: &str,
        content: Option<&str>,
        limit: u32,
        campaigns: &[String],
    ) -> Result<Vec<SameContent>, RepoError>;
    async fn token_listing(&self) -> Result<Vec<TokenListing>, RepoError>;
}

/// A value bound to a statement built at run time.
enum Bind {
    Text(String),
    Bool(bool),
    Int(i64),
}

/// Characters above every character of the keys (lowercase ASCII), closing a prefix range.
const KEY_END: char = '\u{7f}';

/// The statement and binds of a list query.
fn list_statement(query: &DossierQuery) -> (String, Vec<Bind>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    let push = |binds: &mut Vec<Bind>, bind: Bind| {
        binds.push(bind);
        format!("${}", binds.len())
    };
    if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
        let low = push(&mut binds, Bind::Text(search.to_string()));
        let high = push(&mut binds, Bind::Text(format!("{search}{KEY_END}")));
        conditions.push(format!(
            "((ref_key >= {low} AND ref_key < {high}) OR (name_key >= {low} AND name_key < {high}) \
             OR (given_key >= {low} AND given_key < {high}))"
        ));
    }
    if let Some(state) = &query.state {
        let p = push(&mut binds, Bind::Text(state.clone()));
        conditions.push(format!("state = {p}"));
    }
    if let Some(campaign) = &query.campaign {
        let p = push(&mut binds, Bind::Text(campaign.clone()));
        conditions.push(format!("campaign = {p}"));
    }
    for (column, value) in [
        ("complete", query.complete),
        ("awaiting", query.awaiting),
        ("late", query.late),
        ("duplicates", query.duplicates),
    ] {
        if let Some(value) = value {
            let p = push(&mut binds, Bind::Bool(value));
            conditions.push(format!("{column} = {p}"));
        }
    }
    if let Some(piece) = &query.missing {
        // Codes are stored between commas, so `,code,` matches whole codes only; a code's
        // own `_` must not act as LIKE's wildcard.
        let pattern = format!("%{}%", escape_like(&format!(",{piece},")));
        let p = push(&mut binds, Bind::Text(pattern));
        conditions.push(format!("missing LIKE {p} ESCAPE '!'"));
    }
    if let Some(scope) = &query.scope {
        conditions.push(scope_condition(&mut binds, scope));
    }
    if let Some(after) = &query.after {
        let p = push(&mut binds, Bind::Text(after.clone()));
        conditions.push(format!("reference > {p}"));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let limit = push(&mut binds, Bind::Int(i64::from(query.limit.max(1))));
    (
        format!("SELECT * FROM staff_dossiers {filter} ORDER BY reference LIMIT {limit}"),
        binds,
    )
}

/// `campaign IN (...)` over the campaigns of a scope, bound after `binds`; an empty scope
/// binds one value no campaign has.
fn scope_condition(binds: &mut Vec<Bind>, scope: &[String]) -> String {
    let from = binds.len() + 1;
    if scope.is_empty() {
        binds.push(Bind::Text(String::new()));
    }
    binds.extend(scope.iter().cloned().map(Bind::Text));
    format!(
        "campaign IN ({})",
        super::sql::placeholders(from, scope.len())
    )
}

/// A scope as stored: a JSON array, or NULL for every campaign.
fn scope_column(campaigns: Option<&[String]>) -> Option<String> {
    campaigns.map(|c| serde_json::Value::from(c.to_vec()).to_string())
}

/// Escapes LIKE's wildcards (`%`, `_`) and the escape character itself.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

fn missing_column(codes: &[String]) -> String {
    format!(",{},", codes.join(","))
}

fn missing_codes(column: &str) -> Vec<String> {
    column
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// Hash prefixes shown for tokens: 12 hex digits, 48 bits, tell tokens apart.
const TOKEN_ID_LEN: usize = 12;

const INSERT_USER: &str =
    "INSERT INTO staff_users (name, role, password_hash, disabled, created_at, campaigns)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING";
const SELECT_USER: &str = "SELECT * FROM staff_users WHERE name = $1";
const SELECT_USERS: &str = "SELECT * FROM staff_users ORDER BY name";
const SET_USER_CAMPAIGNS: &str = "UPDATE staff_users SET campaigns = $1 WHERE name = $2";
const DISABLE_USER: &str = "UPDATE staff_users SET disabled = $1 WHERE name = $2";
const DELETE_USER_SESSIONS: &str = "DELETE FROM staff_sessions WHERE user_name = $1";
const SET_PASSWORD: &str = "UPDATE staff_users SET password_hash = $1 WHERE name = $2";
const DELETE_OTHER_SESSIONS: &str =
    "DELETE FROM staff_sessions WHERE user_name = $1 AND hash <> $2";
const SET_EMAIL: &str = "UPDATE staff_users SET email = $1 WHERE name = $2";
const SELECT_BY_SUBJECT: &str = "SELECT * FROM staff_users WHERE oidc_subject = $1";
const BIND_SUBJECT: &str =
    "UPDATE staff_users SET oidc_subject = $1 WHERE email = $2 AND oidc_subject IS NULL";
const INSERT_SESSION: &str = "INSERT INTO staff_sessions (hash, user_name, csrf, created_at,
    expires_at) VALUES ($1, $2, $3, $4, $5)";
const SELECT_SESSION: &str = "SELECT s.hash, s.user_name, s.csrf, s.created_at AS session_created,
        s.expires_at, u.name, u.role, u.password_hash, u.disabled, u.created_at, u.campaigns
    FROM staff_sessions s JOIN staff_users u ON u.name = s.user_name WHERE s.hash = $1";
const DELETE_SESSION: &str = "DELETE FROM staff_sessions WHERE hash = $1";
const DELETE_EXPIRED: &str = "DELETE FROM staff_sessions WHERE expires_at <= $1";
const SELECT_STALE: &str = "SELECT reference, version FROM staff_stale ORDER BY reference LIMIT $1";
/// Whether an active document of the dossier `{dossier}` names has the content of an active
/// document of another dossier.
macro_rules! has_duplicates {
    ($dossier:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM documents mine JOIN documents other
                ON other.sha256 = mine.sha256 AND other.dossier <> mine.dossier
            WHERE mine.dossier = ",
            $dossier,
            " AND mine.withdrawn_at IS NULL AND other.withdrawn_at IS NULL)"
        )
    };
}

/// The upsert keeps the row of the highest version; `duplicates` is computed here.
const UPSERT_INDEX: &str = concat!(
    "INSERT INTO staff_dossiers (reference, campaign, version, state,
        ref_key, name, name_key, given_key, complete, missing, awaiting, late, updated_at,
        duplicates)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, ",
    has_duplicates!("$1"),
    ")
    ON CONFLICT (reference) DO UPDATE SET campaign = excluded.campaign,
        version = excluded.version, state = excluded.state, ref_key = excluded.ref_key,
        name = excluded.name, name_key = excluded.name_key, given_key = excluded.given_key,
        complete = excluded.complete, missing = excluded.missing,
        awaiting = excluded.awaiting, late = excluded.late, updated_at = excluded.updated_at,
        duplicates = excluded.duplicates
    WHERE staff_dossiers.version <= excluded.version"
);
const CLEAR_STALE: &str = "DELETE FROM staff_stale WHERE reference = $1 AND version <= $2";
/// The dashboard's counts, over the rows of `{scope}` (a condition, `TRUE` for every row).
const COUNT_STATES: &str =
    "SELECT state, count(*) AS n FROM staff_dossiers WHERE {scope} GROUP BY state ORDER BY state";
const COUNT_FLAGS: &str = "SELECT
        (SELECT count(*) FROM staff_dossiers WHERE complete = $1 AND {scope}) AS complete,
        (SELECT count(*) FROM staff_dossiers WHERE awaiting = $1 AND {scope}) AS awaiting,
        (SELECT count(*) FROM staff_dossiers WHERE late = $1 AND {scope}) AS late,
        (SELECT count(*) FROM staff_dossiers WHERE duplicates = $1 AND {scope}) AS duplicates,
        (SELECT count(*) FROM staff_stale) AS stale";

/// `statement` with its `{scope}` replaced by the condition of `scope`, bound after `binds`.
fn scoped(statement: &str, binds: &mut Vec<Bind>, scope: Option<&[String]>) -> String {
    let condition = match scope {
        Some(scope) => scope_condition(binds, scope),
        None => "TRUE".to_string(),
    };
    statement.replace("{scope}", &condition)
}
const SELECT_STALE_CONTENT: &str =
    "SELECT id, sha256 FROM staff_stale_content ORDER BY id LIMIT $1";
const DELETE_STALE_CONTENT: &str = "DELETE FROM staff_stale_content WHERE id = $1";
/// Marks stale the holders of the content `$1` whose row is missing or whose flag differs
/// from what it is now, in reference order (two refreshers lock the marks in one order).
/// `$holders` are the clauses that give each holder as `d` (its dossier), `s` (its index row,
/// if any) and keep those whose flag moved; see [`SameContentLookup::mark_holders_stale`].
macro_rules! mark_holders_stale {
    ($($holders:tt)*) => {
        concat!(
            "INSERT INTO staff_stale (reference, version) SELECT d.reference, d.version ",
            $($holders)*,
            " ORDER BY d.reference
            ON CONFLICT (reference) DO UPDATE SET version = CASE
                WHEN excluded.version > staff_stale.version THEN excluded.version
                ELSE staff_stale.version END"
        )
    };
}
const TOKENS: &str = "SELECT hash, role, name, campaigns, created_at, expires_at, revoked_at,
        last_used_at
    FROM tokens ORDER BY created_at, name";
/// How a backend's planner is led to find other dossiers' documents by content: through the
/// `sha256` index, once for each content of the dossier (or holder of a content), whatever
/// the number of documents.
#[derive(Debug, Clone, Copy)]
enum SameContentLookup {
    /// `sha256 IN (the dossier's contents)`: SQLite searches the index for each.
    InList,
    /// A `LATERAL` subquery for each content. PostgreSQL's planner turns an `IN` list into a
    /// hash join over a scan of every document (one upload's answer then costs in proportion
    /// to the whole table); a lateral subquery can only run as an index lookup.
    Lateral,
}

impl SameContentLookup {
    /// The statement that marks stale the holders of content `$1` whose duplicates flag
    /// moved. On PostgreSQL, the flag is worked out in a `LATERAL` subquery that is not
    /// flattened (`OFFSET 0`): in a filter, the planner may instead work out once which
    /// dossiers of the whole table have a duplicate, a scan of every document, and does so
    /// while the table's statistics are those of a small one (3.7 ms a content at 1,000
    /// documents, against 0.55 ms this way; 0.26 to 0.28 ms both ways once analysed).
    fn mark_holders_stale(self) -> &'static str {
        match self {
            SameContentLookup::InList => mark_holders_stale!(
                "FROM dossiers d LEFT JOIN staff_dossiers s ON s.reference = d.reference
                WHERE d.reference IN (SELECT dossier FROM documents WHERE sha256 = $1)
                    AND (s.reference IS NULL OR s.duplicates <> ",
                has_duplicates!("d.reference"),
                ")"
            ),
            SameContentLookup::Lateral => mark_holders_stale!(
                "FROM (SELECT DISTINCT dossier FROM documents WHERE sha256 = $1) holder
                    JOIN dossiers d ON d.reference = holder.dossier
                    LEFT JOIN staff_dossiers s ON s.reference = d.reference
                    CROSS JOIN LATERAL (SELECT ",
                has_duplicates!("d.reference"),
                " AS duplicates OFFSET 0) now
                WHERE s.reference IS NULL OR s.duplicates <> now.duplicates"
            ),
        }
    }
}

/// The active documents of other dossiers with a content of dossier `$1`'s documents (only
/// `$3` when it is not null), `$2` a content at most (the first by dossier and id); with
/// `campaigns`, only documents of dossiers of the campaigns bound from `$4` on (that many of
/// them, at least one).
fn same_content_statement(lookup: SameContentLookup, campaigns: Option<usize>) -> String {
    let (join, condition) = match campaigns {
        Some(count) => (
            " JOIN dossiers d ON d.reference = other.dossier",
            format!(
                " AND d.campaign IN ({})",
                super::sql::placeholders(4, count)
            ),
        ),
        None => ("", String::new()),
    };
    // The dossier's contents, or the one of `$3` (typed, for PostgreSQL's planner).
    let mine = "SELECT sha256 FROM documents
        WHERE dossier = $1 AND (CAST($3 AS TEXT) IS NULL OR sha256 = CAST($3 AS TEXT))";
    match lookup {
        SameContentLookup::InList => format!(
            "SELECT sha256, id, dossier, piece FROM (
                SELECT other.sha256, other.id, other.dossier, other.piece, row_number() OVER (
                    PARTITION BY other.sha256 ORDER BY other.dossier, other.id) AS n
                FROM documents other{join}
                WHERE other.sha256 IN ({mine})
                    AND other.dossier <> $1 AND other.withdrawn_at IS NULL{condition}
            ) ranked WHERE n <= $2 ORDER BY sha256, dossier, id"
        ),
        SameContentLookup::Lateral => format!(
            "SELECT same.sha256, same.id, same.dossier, same.piece
            FROM (SELECT DISTINCT sha256 FROM ({mine}) contents) mine
            CROSS JOIN LATERAL (
                SELECT other.sha256, other.id, other.dossier, other.piece
                FROM documents other{join}
                WHERE other.sha256 = mine.sha256
                    AND other.dossier <> $1 AND other.withdrawn_at IS NULL{condition}
                ORDER BY other.dossier, other.id LIMIT $2
            ) same
            ORDER BY same.sha256, same.dossier, same.id"
        ),
    }
}

/// `impl StaffRepository for TYPE` (a type with a `pool` field): the same statements and
/// mappings on every backend, written once. Then how many index rows are written in one
/// transaction, and the [`SameContentLookup`] the backend's planner needs.
macro_rules! staff_impl {
    ($backend:ty, $per_transaction:expr, $same_content:expr) => {
        #[async_trait]
        impl StaffRepository for $backend {
            async fn create_staff_user(&self, user: &StaffUser) -> Result<bool, RepoError> {
                let done = sqlx::query(INSERT_USER)
                    .bind(&user.name)
                    .bind(&user.role)
                    .bind(&user.password_hash)
                    .bind(user.disabled)
                    .bind(user.created_at)
                    .bind(scope_column(user.campaigns.as_deref()))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn staff_user(&self, name: &str) -> Result<Option<StaffUser>, RepoError> {
                let row = sqlx::query(SELECT_USER)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(|r| user_of(r, "created_at")).transpose()
            }

            async fn staff_users(&self) -> Result<Vec<StaffUser>, RepoError> {
                let rows = sqlx::query(SELECT_USERS).fetch_all(&self.pool).await?;
                rows.iter().map(|r| user_of(r, "created_at")).collect()
            }

            async fn set_staff_campaigns(
                &self,
                name: &str,
                campaigns: Option<&[String]>,
            ) -> Result<bool, RepoError> {
                let done = sqlx::query(SET_USER_CAMPAIGNS)
                    .bind(scope_column(campaigns))
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_staff_user_disabled(
                &self,
                name: &str,
                disabled: bool,
            ) -> Result<bool, RepoError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(DISABLE_USER)
                    .bind(disabled)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                if disabled {
                    sqlx::query(DELETE_USER_SESSIONS)
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_staff_password(
                &self,
                name: &str,
                password_hash: &str,
                keep: Option<&str>,
            ) -> Result<bool, RepoError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(SET_PASSWORD)
                    .bind(password_hash)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(DELETE_OTHER_SESSIONS)
                    .bind(name)
                    .bind(keep.unwrap_or_default())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_staff_email(
                &self,
                name: &str,
                email: Option<&str>,
            ) -> Result<bool, RepoError> {
                let done = sqlx::query(SET_EMAIL)
                    .bind(email.map(str::to_lowercase))
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn staff_user_for_identity(
                &self,
                subject: &str,
                email: Option<&str>,
            ) -> Result<Option<StaffUser>, RepoError> {
                let by_subject = sqlx::query(SELECT_BY_SUBJECT).bind(subject);
                if let Some(row) = by_subject.fetch_optional(&self.pool).await? {
                    return user_of(&row, "created_at").map(Some);
                }
                let Some(email) = email else {
                    return Ok(None);
                };
                // One statement: of two first sign-ons at once, one binds, the other finds.
                sqlx::query(BIND_SUBJECT)
                    .bind(subject)
                    .bind(email.to_lowercase())
                    .execute(&self.pool)
                    .await?;
                let row = sqlx::query(SELECT_BY_SUBJECT)
                    .bind(subject)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(|r| user_of(r, "created_at")).transpose()
            }

            async fn create_staff_session(&self, session: &StaffSession) -> Result<(), RepoError> {
                sqlx::query(INSERT_SESSION)
                    .bind(&session.hash)
                    .bind(&session.user)
                    .bind(&session.csrf)
                    .bind(session.created_at)
                    .bind(session.expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn staff_session(
                &self,
                hash: &str,
            ) -> Result<Option<(StaffSession, StaffUser)>, RepoError> {
                let row = sqlx::query(SELECT_SESSION)
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let session = StaffSession {
                    hash: row.try_get("hash")?,
                    user: row.try_get("user_name")?,
                    csrf: row.try_get("csrf")?,
                    created_at: row.try_get("session_created")?,
                    expires_at: row.try_get("expires_at")?,
                };
                Ok(Some((session, user_of(&row, "created_at")?)))
            }

            async fn delete_staff_session(&self, hash: &str) -> Result<(), RepoError> {
                sqlx::query(DELETE_SESSION)
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_expired_staff_sessions(
                &self,
                now: DateTime<Utc>,
            ) -> Result<u64, RepoError> {
                let done = sqlx::query(DELETE_EXPIRED)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn stale_dossiers(&self, limit: u32) -> Result<Vec<(String, i64)>, RepoError> {
                let rows = sqlx::query(SELECT_STALE)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("reference")?, r.try_get("version")?)))
                    .collect()
            }

            async fn put_dossier_indexes(&self, rows: &[DossierIndexRow]) -> Result<(), RepoError> {
                for batch in rows.chunks($per_transaction) {
                    let mut tx = self.begin_write().await?;
                    for row in batch {
                        // The mark first: see the module's comment on `duplicates`.
                        sqlx::query(CLEAR_STALE)
                            .bind(&row.reference)
                            .bind(row.version)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(UPSERT_INDEX)
                            .bind(&row.reference)
                            .bind(&row.campaign)
                            .bind(row.version)
                            .bind(&row.state)
                            .bind(row.reference.to_lowercase())
                            .bind(&row.name)
                            .bind(&row.name_key)
                            .bind(&row.given_key)
                            .bind(row.complete)
                            .bind(missing_column(&row.missing))
                            .bind(row.awaiting)
                            .bind(row.late)
                            .bind(row.updated_at)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                }
                Ok(())
            }

            async fn list_dossier_index(
                &self,
                query: &DossierQuery,
            ) -> Result<Vec<DossierIndexRow>, RepoError> {
                let (statement, binds) = list_statement(query);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(statement));
                for bind in binds {
                    q = match bind {
                        Bind::Text(v) => q.bind(v),
                        Bind::Bool(v) => q.bind(v),
                        Bind::Int(v) => q.bind(v),
                    };
                }
                let rows = q.fetch_all(&self.pool).await?;
                rows.iter().map(index_row_of).collect()
            }

            async fn dossier_index_counts(
                &self,
                scope: Option<&[String]>,
            ) -> Result<IndexCounts, RepoError> {
                let mut binds = Vec::new();
                let statement = scoped(COUNT_STATES, &mut binds, scope);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(statement));
                for bind in binds {
                    q = match bind {
                        Bind::Text(v) => q.bind(v),
                        Bind::Bool(v) => q.bind(v),
                        Bind::Int(v) => q.bind(v),
                    };
                }
                let rows = q.fetch_all(&self.pool).await?;
                let by_state = rows
                    .iter()
                    .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
                    .collect::<Result<Vec<(String, i64)>, RepoError>>()?;
                let mut binds = vec![Bind::Bool(true)];
                let statement = scoped(COUNT_FLAGS, &mut binds, scope);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(statement));
                for bind in binds {
                    q = match bind {
                        Bind::Text(v) => q.bind(v),
                        Bind::Bool(v) => q.bind(v),
                        Bind::Int(v) => q.bind(v),
                    };
                }
                let flags = q.fetch_one(&self.pool).await?;
                Ok(IndexCounts {
                    by_state,
                    complete: flags.try_get("complete")?,
                    awaiting: flags.try_get("awaiting")?,
                    late: flags.try_get("late")?,
                    duplicates: flags.try_get("duplicates")?,
                    stale: flags.try_get("stale")?,
                })
            }

            async fn same_content_as_dossier(
                &self,
                dossier: &str,
                content: Option<&str>,
                limit: u32,
            ) -> Result<Vec<SameContent>, RepoError> {
                let select = Statement::new(
                    same_content_statement($same_content, None),
                    params![dossier, i64::from(limit), content],
                );
                self.read_all(select, |row| same_content_of(row)).await
            }

            async fn same_content_in_campaigns(
                &self,
                dossier: &str,
                content: Option<&str>,
                limit: u32,
                campaigns: &[String],
            ) -> Result<Vec<SameContent>, RepoError> {
                let mut values = params![dossier, i64::from(limit), content];
                if campaigns.is_empty() {
                    // No campaign: nothing matches (a campaign id is never empty).
                    values.extend(params![""]);
                }
                values.extend(campaigns.iter().map(Param::from));
                let statement = same_content_statement($same_content, Some(campaigns.len()));
                let select = Statement::new(statement, values);
                self.read_all(select, |row| same_content_of(row)).await
            }

            async fn spread_stale_content(&self, limit: u32) -> Result<usize, RepoError> {
                let rows = sqlx::query(SELECT_STALE_CONTENT)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                let mut taken: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
                for row in &rows {
                    taken
                        .entry(row.try_get("sha256")?)
                        .or_default()
                        .push(row.try_get("id")?);
                }
                // On PostgreSQL, one transaction a content: its marks are taken in one
                // statement's order.
                let taken: Vec<_> = taken.into_iter().collect();
                for batch in taken.chunks($per_transaction) {
                    let mut tx = self.begin_write().await?;
                    for (sha256, ids) in batch {
                        sqlx::query($same_content.mark_holders_stale())
                            .bind(sha256)
                            .execute(&mut *tx)
                            .await?;
                        for id in ids {
                            sqlx::query(DELETE_STALE_CONTENT)
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    tx.commit().await?;
                }
                Ok(rows.len())
            }

            async fn token_listing(&self) -> Result<Vec<TokenListing>, RepoError> {
                let rows = sqlx::query(TOKENS).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        let hash: String = r.try_get("hash")?;
                        let campaigns: Option<String> = r.try_get("campaigns")?;
                        Ok(TokenListing {
                            id: hash.chars().take(TOKEN_ID_LEN).collect(),
                            role: r.try_get("role")?,
                            name: r.try_get("name")?,
                            campaigns: campaigns
                                .map(|c| serde_json::from_str(&c))
                                .transpose()
                                .map_err(|e| RepoError::Corrupt(format!("token campaigns: {e}")))?,
                            created_at: r.try_get("created_at")?,
                            expires_at: r.try_get("expires_at")?,
                            revoked_at: r.try_get("revoked_at")?,
                            last_used_at: r.try_get("last_used_at")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

use sqlx::Row;

// How many index rows (and contents spread) are written in one transaction. On SQLite,
// writers take turns: 32 rows a transaction, one sync of the log for them, where a
// transaction a row made the background refresher take the writer's turn (and its sync) once
// for every upload; and not a whole batch of 200, whose 400 statements, each a round trip to
// sqlx's thread, held the writer's turn for tens of milliseconds while uploads waited. On
// PostgreSQL, one a row: a batch would hold its rows' stale marks, in reference order, while
// a move marks its two dossiers in its own order.
staff_impl!(SqliteRepository, 32, SameContentLookup::InList);
staff_impl!(PostgresRepository, 1, SameContentLookup::Lateral);

fn user_of(row: &impl Columns, created: &str) -> Result<StaffUser, RepoError> {
    Ok(StaffUser {
        name: row.field("name")?,
        role: row.field("role")?,
        password_hash: row.field("password_hash")?,
        disabled: row.field("disabled")?,
        created_at: row.field(created)?,
        campaigns: row
            .field::<Option<String>>("campaigns")?
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(|e| RepoError::Corrupt(format!("staff campaigns: {e}")))?,
    })
}

fn index_row_of(row: &impl Columns) -> Result<DossierIndexRow, RepoError> {
    Ok(DossierIndexRow {
        reference: row.field("reference")?,
        campaign: row.field("campaign")?,
        version: row.field("version")?,
        state: row.field("state")?,
        name: row.field("name")?,
        name_key: row.field("name_key")?,
        given_key: row.field("given_key")?,
        complete: row.field("complete")?,
        missing: missing_codes(&row.field::<String>("missing")?),
        awaiting: row.field("awaiting")?,
        late: row.field("late")?,
        duplicates: row.field("duplicates")?,
        updated_at: row.field("updated_at")?,
    })
}

fn same_content_of(row: &impl Columns) -> Result<SameContent, RepoError> {
    Ok(SameContent {
        sha256: row.field("sha256")?,
        document: row.field("id")?,
        dossier: row.field("dossier")?,
        piece: row.field("piece")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_statement_binds_every_filter_in_order() {
        let (sql, binds) = list_statement(&DossierQuery {
            search: Some("dup".into()),
            state: Some("open".into()),
            missing: Some("a_b".into()),
            awaiting: Some(true),
            after: Some("R-9".into()),
            limit: 50,
            ..DossierQuery::default()
        });
        assert!(sql.contains("state = $3"), "{sql}");
        assert!(sql.contains("awaiting = $4"), "{sql}");
        assert!(sql.contains("missing LIKE $5"), "{sql}");
        assert!(sql.contains("reference > $6"), "{sql}");
        assert!(sql.ends_with("LIMIT $7"), "{sql}");
        assert_eq!(binds.len(), 7);
        assert!(matches!(&binds[4], Bind::Text(p) if p == "%,a!_b,%"));
    }

    #[test]
    fn missing_codes_round_trip() {
        let codes = vec!["identite".to_string(), "jdc".to_string()];
        assert_eq!(missing_codes(&missing_column(&codes)), codes);
        assert!(missing_codes(&missing_column(&[])).is_empty());
    }
}
