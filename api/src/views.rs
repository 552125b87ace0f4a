//! The JSON shapes of the API, built from records and the domain's assessment.
//!
//! Each shape is a struct that is both what the handler serialises and what the OpenAPI
//! document describes (`ToSchema`), so the documented schema cannot drift from the answer.
//! Invariants of every view:
//! - a nullable field is always present, `null` when empty (`required` in the schema), except
//!   where said: `scan_signature` appears only on an infected document, and an origin's
//!   mailroom fields only for the mailroom;
//! - what the pipeline recorded as JSON (a candidate's attributes, a verdict's reasons, an
//!   event's `data`, a batch report's entries) is passed on as recorded, and described as far
//!   as its writers fix its shape;
//! - values the pipeline stores as text (a verdict, a scan state, a channel) stay text, and
//!   their schema lists the names the pipeline writes, taken from its own constants.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, SchemaType, Type};

use dossiers::Necessity;
use storage::DocumentRecord;
use storage::repository::{
    BatchRecord, DeliveryRecord, EventRecord, JournalEntry, SameContent, WebhookRecord,
};

use ingest::App;
use ingest::events::EventKind;
use ingest::journal::Access;
use ingest::pipeline::dossier::{Snapshot, Standing, verdict};
use ingest::pipeline::{Channel, mailroom, render, scan};

/// A domain enumeration as the API shows it: the same snake_case names, listed in the schema.
/// The conversion is an exhaustive match: a variant added to the domain does not compile
/// until it is shown here too.
macro_rules! shown_enum {
    ($(#[$doc:meta])* $name:ident from $domain:ty { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl From<$domain> for $name {
            fn from(value: $domain) -> Self {
                match value {
                    $(<$domain>::$variant => $name::$variant),+
                }
            }
        }
    };
}

shown_enum! {
    /// Where a dossier is in its life.
    DossierState from dossiers::DossierState { Open, Submitted, Complete, Closed }
}

shown_enum! {
    /// Where a piece of a dossier stands.
    PieceStatus from dossiers::PieceStatus {
        Missing,
        Pending,
        Accepted,
        Rejected,
        CorrectionRequested,
    }
}

shown_enum! {
    /// A kind of document a piece accepts, detected from content.
    Kind from dossiers::Kind { Pdf, Jpeg, Png, Tiff, Webp, Gif, Bmp, Heic, Avif, Jp2 }
}

shown_enum! {
    /// Who accepts a piece's documents: staff, or a passing verdict.
    ReviewPolicy from dossiers::ReviewPolicy { Staff, Auto }
}

/// A string schema that lists the names the pipeline writes; `nullable` adds `null`.
fn names(values: impl IntoIterator<Item = &'static str>, nullable: bool) -> Object {
    let mut listed: Vec<Value> = values.into_iter().map(Value::from).collect();
    let schema_type = if nullable {
        listed.push(Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    Object::builder()
        .schema_type(schema_type)
        .enum_values(Some(listed))
        .build()
}

fn channel_names() -> Object {
    names(
        [Channel::Upload, Channel::Mailroom].map(Channel::as_str),
        false,
    )
}

/// The verdict names intake writes.
fn verdict_names() -> Object {
    names([verdict::ACCEPTED, verdict::REJECTED], false)
}

fn review_names() -> Object {
    let decisions = [
        dossiers::ReviewDecision::Accepted,
        dossiers::ReviewDecision::Rejected,
    ];
    names(decisions.map(dossiers::ReviewDecision::as_str), true)
}

fn scan_names() -> Object {
    use scan::state::{CLEAN, ERROR, INFECTED, PENDING};
    names([PENDING, CLEAN, INFECTED, ERROR], true)
}

fn event_names() -> Object {
    names(EventKind::ALL.map(EventKind::as_str), false)
}

/// What a journal entry records: an event, or an access.
fn action_names() -> Object {
    let events = EventKind::ALL.map(EventKind::as_str);
    names(
        events.into_iter().chain(Access::ALL.map(Access::as_str)),
        false,
    )
}

fn batch_state_names() -> Object {
    use mailroom::state::{DONE, FAILED, PROCESSING, QUEUED};
    names([QUEUED, PROCESSING, DONE, FAILED], false)
}

/// The delivery states the webhook worker records.
fn delivery_state_names() -> Object {
    names(["delivered", "failed"], false)
}

/// A document as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Document {
    pub id: String,
    /// The piece it is filed under; `null` while unclassified.
    #[schema(required = true)]
    pub piece: Option<String>,
    /// The name its sender gave, as evidence; never a path.
    #[schema(required = true)]
    pub filename: Option<String>,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    pub size: u64,
    /// The detected type (`pdf`, `jpeg`..., or what was refused: `docx`, `unknown`...).
    pub kind: String,
    /// Pages of a PDF or TIFF, 1 for other images; `null` when not known.
    #[schema(required = true)]
    pub pages: Option<u32>,
    #[schema(schema_with = channel_names)]
    pub channel: String,
    pub origin: Origin,
    #[schema(schema_with = verdict_names)]
    pub verdict: String,
    /// Why the document is refused; empty when it passed.
    #[schema(value_type = Vec<Reason>)]
    pub reasons: Value,
    /// Observations that do not refuse it.
    #[schema(value_type = Vec<Reason>)]
    pub notes: Value,
    /// The staff decision, if any.
    #[schema(schema_with = review_names, required = true)]
    pub review: Option<String>,
    /// Why staff rejected it, shown to the candidate.
    #[schema(required = true)]
    pub review_reason: Option<String>,
    #[schema(required = true)]
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Received after the campaign's deadline (paper sent in time may arrive late).
    pub late: bool,
    pub received_at: DateTime<Utc>,
    /// The virus scan; `null` when no scanner was configured at intake.
    #[schema(schema_with = scan_names, required = true)]
    pub scan: Option<String>,
    /// The signature found: present only when `scan` is `infected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub scan_signature: Option<Option<String>>,
    /// A JPEG display copy is served at `/documents/{id}/display` (HEIC and AVIF photos,
    /// which browsers do not draw).
    pub display: bool,
    /// Pictures of the pages, served at `/documents/{id}/pages/{n}`: `ready` (rendered, as
    /// many as `pages`), `pending` (rendering in the background) or `failed` (nothing could
    /// be rendered: its kind does not render, or the renderer gave up; `previews_failure`
    /// says why).
    #[schema(schema_with = preview_states)]
    pub previews: &'static str,
    /// Why there are no pictures, when `previews` is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub previews_failure: Option<String>,
    /// The active documents of other dossiers with the same content (SHA-256), a fraud
    /// signal: at most 20, by dossier reference. Only dossiers within the caller's scope are
    /// compared (a token scoped to campaigns sees nothing of the others).
    pub duplicates: Vec<Duplicate>,
    /// When a retention rule purged the content (then `/content`, `/display` and the pages
    /// answer 410 `content_purged`; the metadata, hash and history stay).
    #[schema(required = true)]
    pub purged_at: Option<DateTime<Utc>>,
    /// The rule that purged it: `after_close P12M` or `purge_after_decision P30D`.
    #[schema(required = true)]
    pub purge_rule: Option<String>,
}

/// Another dossier's document with the same content.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Duplicate {
    /// The other dossier's reference.
    pub dossier: String,
    /// The other document's id.
    pub document: String,
    /// The piece it is filed under there; `null` while unclassified.
    #[schema(required = true)]
    pub piece: Option<String>,
}

/// The most documents of other dossiers a document's `duplicates` names.
pub const DUPLICATES_SHOWN: u32 = 20;

/// Where the pictures of a dossier's documents stand, by document id
/// (`ingest::pipeline::render::states`).
pub type PreviewStates = std::collections::HashMap<String, render::Previews>;

/// What the views of a dossier's documents need beyond their records, read for all of them
/// at once ([`facts`]): where their pictures stand, and the documents of other dossiers with
/// their content.
#[derive(Debug, Clone, Default)]
pub struct DocumentFacts {
    pub previews: PreviewStates,
    /// By content (SHA-256).
    pub duplicates: std::collections::HashMap<String, Vec<Duplicate>>,
}

/// The facts of `documents`, all of `dossier`: two queries whatever their number. Duplicates
/// are looked for in the dossiers of `scope`'s campaigns (`None`: every dossier); for one
/// document, only its content's (an upload's answer costs the same however full its dossier).
pub async fn facts(
    app: &App,
    dossier: &str,
    documents: &[DocumentRecord],
    scope: Option<&[String]>,
) -> Result<DocumentFacts, ingest::Error> {
    let content = match documents {
        [one] => Some(one.sha256.as_str()),
        _ => None,
    };
    let same = match scope {
        None => {
            app.repo
                .same_content_as_dossier(dossier, content, DUPLICATES_SHOWN)
                .await?
        }
        Some(campaigns) => {
            app.repo
                .same_content_in_campaigns(dossier, content, DUPLICATES_SHOWN, campaigns)
                .await?
        }
    };
    Ok(DocumentFacts {
        previews: render::states(app, documents).await?,
        duplicates: duplicates_by_content(same),
    })
}

/// Documents of other dossiers grouped by their content, in the order given.
pub fn duplicates_by_content(
    same: Vec<SameContent>,
) -> std::collections::HashMap<String, Vec<Duplicate>> {
    let mut by_content: std::collections::HashMap<String, Vec<Duplicate>> = Default::default();
    for s in same {
        by_content.entry(s.sha256).or_default().push(Duplicate {
            dossier: s.dossier,
            document: s.document,
            piece: s.piece,
        });
    }
    by_content
}

fn preview_states() -> Object {
    Object::builder()
        .schema_type(Type::String)
        .enum_values(Some(["ready", "pending", "failed"]))
        .build()
}

/// One reason for refusal, or one note, as the validators wrote it.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes recorded JSON that is passed on as is; never built.
pub struct Reason {
    /// Stable, `snake_case` (docs/reasons.md).
    code: String,
    /// For candidates, in French: what is wrong and what to do.
    message: String,
    /// Technical detail, in English, for staff; absent when there is none.
    #[schema(nullable = false)]
    detail: Option<String>,
}

/// Where a document came from: its channel, and for the mailroom its batch, station and
/// pages (1-based, inclusive).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Origin {
    #[schema(schema_with = channel_names)]
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub batch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub station: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub first_page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_page: Option<u32>,
}

pub fn document(doc: &DocumentRecord, facts: &DocumentFacts) -> Document {
    let state = facts.previews.get(&doc.id);
    let recorded = |key: &str| {
        doc.reasons
            .get(key)
            .cloned()
            .unwrap_or_else(|| Value::Array(Vec::new()))
    };
    let infected = doc.scan.as_deref() == Some(scan::state::INFECTED);
    Document {
        id: doc.id.clone(),
        piece: doc.piece.clone(),
        filename: doc.filename.clone(),
        sha256: doc.sha256.clone(),
        size: doc.size,
        kind: doc.kind.clone(),
        pages: doc.pages,
        channel: doc.channel.clone(),
        origin: origin(doc),
        verdict: doc.verdict.clone(),
        reasons: recorded("reasons"),
        notes: recorded("notes"),
        review: doc.review.clone(),
        review_reason: doc.review_reason.clone(),
        reviewed_at: doc.reviewed_at,
        late: doc.late,
        received_at: doc.received_at,
        scan: doc.scan.clone(),
        scan_signature: infected.then(|| doc.scan_signature.clone()),
        display: doc.display_sha256.is_some(),
        previews: state.map_or("pending", render::Previews::as_str),
        previews_failure: match state {
            Some(render::Previews::Failed(why)) => Some(why.clone()),
            _ => None,
        },
        duplicates: facts
            .duplicates
            .get(&doc.sha256)
            .cloned()
            .unwrap_or_default(),
        purged_at: doc.purged_at,
        purge_rule: doc.purge_rule.clone(),
    }
}

/// The recorded origin, with the document's channel: the channel column is the one truth.
fn origin(doc: &DocumentRecord) -> Origin {
    let text = |key: &str| {
        doc.origin
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let page = |key: &str| {
        doc.origin
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|page| u32::try_from(page).ok())
    };
    Origin {
        channel: doc.channel.clone(),
        batch: text("batch"),
        station: text("station"),
        first_page: page("first_page"),
        last_page: page("last_page"),
    }
}

/// A document with the short form of its dossier: the answer to an upload or a review.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FiledDocument {
    #[serde(flatten)]
    pub document: Document,
    pub dossier: DossierSummary,
}

pub fn filed_document(
    doc: &DocumentRecord,
    dossier: &Standing,
    facts: &DocumentFacts,
) -> FiledDocument {
    FiledDocument {
        document: document(doc, facts),
        dossier: dossier_summary(dossier),
    }
}

/// The dossier with each piece's requirement, status and documents.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dossier {
    pub reference: String,
    pub campaign: String,
    pub state: DossierState,
    /// Why the dossier is in its state, when staff said so (a rejection sending it back).
    #[schema(required = true)]
    pub reason: Option<String>,
    /// Every required piece has its accepted documents.
    pub complete: bool,
    /// Codes of the required pieces that still lack documents (pending ones count as sent):
    /// empty when the dossier may be submitted.
    pub missing: Vec<String>,
    /// The candidate's attributes, as the portal gave them.
    #[schema(value_type = Object)]
    pub candidate: Value,
    /// In catalog order.
    pub pieces: Vec<DossierPiece>,
    /// Documents matched to no piece of the catalog, for staff to assign.
    pub unclassified: Vec<Document>,
    /// The dossier's own deadline: the campaign's, or later when staff extended it.
    pub deadline: DateTime<Utc>,
    /// The extension staff gave this dossier, if any.
    #[schema(required = true)]
    pub extension: Option<Extension>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A piece of a dossier: the catalog entry, what it requires of this candidate, and its
/// documents.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DossierPiece {
    pub code: String,
    pub label: String,
    pub required: bool,
    /// Why, in French, for a conditional piece.
    #[schema(required = true)]
    pub why: Option<String>,
    pub status: PieceStatus,
    /// Staff's request to send the piece again, until a new document arrives for it.
    #[schema(required = true)]
    pub correction: Option<Correction>,
    pub accept: Vec<Kind>,
    pub min_documents: u32,
    pub max_documents: u32,
    pub review: ReviewPolicy,
    pub documents: Vec<Document>,
}

/// Staff's request that the candidate send a piece again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Correction {
    pub message: String,
    pub requested_at: DateTime<Utc>,
}

/// A dossier's own deadline, given by staff.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Extension {
    pub until: DateTime<Utc>,
    pub reason: String,
}

pub fn dossier(snapshot: &Snapshot, facts: &DocumentFacts) -> Dossier {
    let assessment = snapshot.assessment();
    let pieces = snapshot
        .campaign
        .pieces()
        .iter()
        .map(|piece| {
            let assessed = assessment.piece(piece.code());
            let documents = snapshot
                .active_documents()
                .filter(|d| d.piece.as_deref() == Some(piece.code()))
                .map(|doc| document(doc, facts))
                .collect();
            DossierPiece {
                code: piece.code().to_string(),
                label: piece.label().to_string(),
                required: assessed.is_some_and(|a| a.required),
                why: assessed.and_then(|a| a.why.clone()),
                status: assessed
                    .map_or(dossiers::PieceStatus::Missing, |a| a.status)
                    .into(),
                correction: snapshot
                    .correction(piece.code())
                    .and_then(|c| serde_json::from_value(c.clone()).ok()),
                accept: piece.accept().iter().map(|&kind| kind.into()).collect(),
                min_documents: piece.min_documents(),
                max_documents: piece.max_documents(),
                review: piece.review().into(),
                documents,
            }
        })
        .collect();
    let unclassified = snapshot
        .active_documents()
        .filter(|d| {
            d.piece
                .as_ref()
                .is_none_or(|code| snapshot.campaign.piece(code).is_none())
        })
        .map(|doc| document(doc, facts))
        .collect();
    Dossier {
        reference: snapshot.record.reference.clone(),
        campaign: snapshot.record.campaign.clone(),
        state: snapshot.state.into(),
        reason: snapshot.record.state_reason.clone(),
        complete: assessment.complete,
        missing: assessment.missing_for_submission(),
        candidate: snapshot.record.candidate.clone(),
        pieces,
        unclassified,
        deadline: snapshot.deadline(),
        extension: snapshot
            .record
            .extension
            .as_ref()
            .and_then(|e| serde_json::from_value(e.clone()).ok()),
        created_at: snapshot.record.created_at,
        updated_at: snapshot.record.updated_at,
    }
}

/// The short form of a dossier returned with a document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DossierSummary {
    pub reference: String,
    pub state: DossierState,
    pub complete: bool,
    /// As in the dossier: what must still be sent before submitting.
    pub missing: Vec<String>,
    pub pieces: Vec<PieceSummary>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PieceSummary {
    pub code: String,
    pub required: bool,
    pub status: PieceStatus,
}

pub fn dossier_summary(dossier: &Standing) -> DossierSummary {
    let assessment = &dossier.assessment;
    DossierSummary {
        reference: dossier.reference.clone(),
        state: dossier.state.into(),
        complete: assessment.complete,
        missing: assessment.missing_for_submission(),
        pieces: assessment
            .pieces
            .iter()
            .map(|p| PieceSummary {
                code: p.code.clone(),
                required: p.required,
                status: p.status.into(),
            })
            .collect(),
    }
}

/// A campaign's definition, without its source text: the shape `dossiers` gives a campaign
/// (see the test that compares them).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Campaign {
    pub id: String,
    pub title: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// The first instant of the window, with the offset written in the definition.
    pub opens_at: DateTime<FixedOffset>,
    /// The first instant after the window.
    pub closes_at: DateTime<FixedOffset>,
    /// The IANA time zone deadlines are shown in.
    pub timezone: String,
    /// The date candidates' ages are computed at.
    pub reference_date: NaiveDate,
    /// The catalog, in definition order.
    pub pieces: Vec<CatalogPiece>,
}

/// A piece of a campaign's catalog.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogPiece {
    pub code: String,
    pub label: String,
    #[schema(required = true)]
    pub description: Option<String>,
    pub accept: Vec<Kind>,
    /// The size limit of one document, in bytes.
    pub max_bytes: u64,
    /// The page limit of one document, if any.
    #[schema(required = true)]
    pub max_pages: Option<u32>,
    pub min_documents: u32,
    pub max_documents: u32,
    pub review: ReviewPolicy,
    /// Required whoever the candidate is; a conditional piece has `required_when` instead.
    pub required: bool,
    /// The condition that makes the piece required, if any.
    #[schema(required = true)]
    pub required_when: Option<String>,
    /// Why the piece is required, in plain words for staff and candidates, when the campaign
    /// says so (the condition stays the rule applied).
    #[schema(required = true)]
    pub why: Option<String>,
}

pub fn campaign(campaign: &dossiers::Campaign) -> Campaign {
    Campaign {
        id: campaign.id().to_string(),
        title: campaign.title().to_string(),
        description: campaign.description().map(str::to_string),
        opens_at: campaign.opens_at(),
        closes_at: campaign.closes_at(),
        timezone: campaign.timezone().name().to_string(),
        reference_date: campaign.reference_date(),
        pieces: campaign
            .pieces()
            .iter()
            .map(|piece| CatalogPiece {
                code: piece.code().to_string(),
                label: piece.label().to_string(),
                description: piece.description().map(str::to_string),
                accept: piece.accept().iter().map(|&kind| kind.into()).collect(),
                max_bytes: piece.max_bytes(),
                max_pages: piece.max_pages(),
                min_documents: piece.min_documents(),
                max_documents: piece.max_documents(),
                review: piece.review().into(),
                required: matches!(piece.necessity(), Necessity::Required),
                required_when: piece.condition().map(|c| c.source().to_string()),
                why: piece.why().map(str::to_string),
            })
            .collect(),
    }
}

/// A page of the event feed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Events {
    /// Oldest first.
    pub events: Vec<Event>,
    /// The id to ask `after` next: the last event's, or the `after` asked when none came.
    pub last: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    pub id: i64,
    #[serde(rename = "type")]
    #[schema(schema_with = event_names)]
    pub kind: String,
    /// Who caused it: `portal:NAME`, `staff:LOGIN`, `station:NAME`, `admin:NAME` or `system`;
    /// null for events recorded before actors were.
    #[schema(required = true)]
    pub actor: Option<String>,
    #[schema(required = true)]
    pub dossier: Option<String>,
    #[schema(required = true)]
    pub document: Option<String>,
    pub at: DateTime<Utc>,
    /// What happened, by type (the piece, who decided, the reasons...).
    #[schema(value_type = Object)]
    pub data: Value,
}

pub fn event(e: EventRecord) -> Event {
    Event {
        id: e.id,
        kind: e.kind,
        actor: e.actor,
        dossier: e.dossier,
        document: e.document,
        at: e.at,
        data: e.data,
    }
}

/// A dossier's journal: every action on it, in one hash chain (see [`HistoryEntry`]).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct History {
    pub reference: String,
    /// In `seq` order, from 1.
    pub entries: Vec<HistoryEntry>,
}

/// One entry of a dossier's journal. `hash` is the SHA-256 (lowercase hex) of `prev_hash`, a
/// newline, and the JSON array `[seq, dossier, at, actor, action, document, data]` (`data` as
/// the text it was recorded as); `prev_hash` is the previous entry's `hash`, 64 zeros for
/// the first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub seq: i64,
    /// RFC 3339 in UTC with microseconds: the text hashed.
    #[schema(value_type = String, format = DateTime)]
    pub at: String,
    /// Who: `portal:NAME`, `staff:LOGIN`, `station:NAME`, `admin:NAME` (the token's name or
    /// the staff login), or `system` (workers, scans, automatic reviews).
    pub actor: String,
    /// An event type (as in the event feed), or an access: `dossier.viewed` (a staff member
    /// opened the dossier's page), `document.downloaded` (a document's bytes were given).
    #[schema(schema_with = action_names)]
    pub action: String,
    #[schema(required = true)]
    pub document: Option<String>,
    /// What the action carried: an event's data, or a download's `copy` (`content` or
    /// `display`), `piece` and `filename`.
    #[schema(value_type = Object)]
    pub data: Value,
    pub prev_hash: String,
    pub hash: String,
}

pub fn history(reference: &str, entries: &[JournalEntry]) -> History {
    History {
        reference: reference.to_string(),
        entries: entries
            .iter()
            .map(|e| HistoryEntry {
                seq: e.seq,
                at: e.at.clone(),
                actor: e.actor.clone(),
                action: e.action.clone(),
                document: e.document.clone(),
                data: e.data_value(),
                prev_hash: e.prev_hash.clone(),
                hash: e.hash.clone(),
            })
            .collect(),
    }
}

/// A webhook endpoint of a campaign.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: String,
    pub campaign: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
    /// The id of the last event the endpoint was given (delivered or given up).
    pub last_event: i64,
}

pub fn webhook(hook: &WebhookRecord) -> Webhook {
    Webhook {
        id: hook.id.clone(),
        campaign: hook.campaign.clone(),
        url: hook.url.clone(),
        created_at: hook.created_at,
        last_event: hook.last_event,
    }
}

/// A new endpoint with its signing secret, shown in this answer only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewWebhookEndpoint {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// Signs the deliveries; derived from the service secret, never stored, never shown again.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhooks {
    pub webhooks: Vec<Webhook>,
}

/// How one event went to one endpoint, once settled.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub event: i64,
    /// `failed` when every attempt failed.
    #[schema(schema_with = delivery_state_names)]
    pub state: String,
    pub attempts: u32,
    /// The HTTP status of the last attempt, when the receiver answered.
    #[schema(required = true)]
    pub status: Option<u16>,
    /// Why the last attempt failed, when it did.
    #[schema(required = true)]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

pub fn delivery(d: &DeliveryRecord) -> Delivery {
    Delivery {
        event: d.event,
        state: d.state.clone(),
        attempts: d.attempts,
        status: d.status,
        error: d.error.clone(),
        at: d.at,
    }
}

/// An endpoint and its settled deliveries, latest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deliveries {
    pub webhook: Webhook,
    pub deliveries: Vec<Delivery>,
}

/// A scanned batch: where its processing stands, its segments and where each went, and the
/// pages no dossier took. The entries are the batch report's, as the mailroom wrote them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Batch {
    pub id: String,
    #[schema(schema_with = batch_state_names)]
    pub state: String,
    /// The name of the station's token.
    pub station: String,
    #[schema(required = true)]
    pub filename: Option<String>,
    pub sha256: String,
    pub size: u64,
    /// `pdf` or `tiff`.
    pub format: String,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub progress: BatchProgress,
    /// One entry a sheet: `sheet_page`, `pages` (`[first, last]`), `page_count`, `dossier`,
    /// `piece`, then `document`, `verdict`, `late`, `reasons` when filed, or `refused` and
    /// `triage` when kept for staff; `note` for an empty segment or an unknown piece.
    #[schema(value_type = Vec<Object>)]
    pub segments: Vec<Value>,
    /// Runs of pages no dossier takes: `pages`, `reason`, `message`, and `sha256` of the PDF
    /// kept for staff (`error` when it could not be built, `assigned` once filed by hand).
    #[schema(value_type = Vec<Object>)]
    pub unmatched: Vec<Value>,
    /// The blank pages (1-based), dropped.
    pub blank_pages: Vec<u64>,
    /// Each page's finding: `page`, `finding` (`sheet`, `blank`, `content`,
    /// `unreadable_sheet`), `ink`, `sheet`.
    #[schema(value_type = Vec<Object>)]
    pub pages: Vec<Value>,
    /// Why the batch could not be read, when it could not.
    #[schema(value_type = Option<BatchFailure>, required = true)]
    pub error: Option<Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchProgress {
    /// Pages in the batch, once read.
    #[schema(required = true)]
    pub pages: Option<u32>,
    /// Sheets found: the segments to file.
    pub segments: usize,
    /// Segments filed so far.
    pub segments_filed: usize,
}

/// Why a batch failed, as the mailroom recorded it.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes recorded JSON that is passed on as is; never built.
pub struct BatchFailure {
    code: String,
    message: String,
}

pub fn batch(batch: &BatchRecord) -> Batch {
    let report = &batch.report;
    let list = |key: &str| {
        report
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let pages = list("pages");
    let segments = list("segments");
    let finding = |page: &&Value, what: &str| page["finding"] == what;
    Batch {
        id: batch.id.clone(),
        state: batch.state.clone(),
        station: batch.station.clone(),
        filename: batch.filename.clone(),
        sha256: batch.sha256.clone(),
        size: batch.size,
        format: batch.format.clone(),
        received_at: batch.received_at,
        updated_at: batch.updated_at,
        progress: BatchProgress {
            pages: batch.pages,
            segments: pages.iter().filter(|p| finding(p, "sheet")).count(),
            segments_filed: segments.len(),
        },
        blank_pages: pages
            .iter()
            .filter(|p| finding(p, "blank"))
            .filter_map(|p| p["page"].as_u64())
            .collect(),
        segments,
        unmatched: list("unmatched"),
        pages,
        error: report.get("error").cloned(),
    }
}

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alive {
    #[schema(schema_with = alive_status)]
    pub status: &'static str,
}

impl Alive {
    pub const STATUS: &'static str = "ok";
}

fn alive_status() -> Object {
    names([Alive::STATUS], false)
}

/// `GET /readyz`: the backends that answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ready {
    #[schema(schema_with = ready_status)]
    pub status: &'static str,
    /// The database backend (`sqlite`, `postgres`).
    pub database: &'static str,
    /// The object store backend (`fs`, `s3`).
    pub storage: &'static str,
    /// Dependencies that do not answer without making the service unready (`clamd`:
    /// documents wait `pending` for their scan).
    pub degraded: Vec<&'static str>,
}

impl Ready {
    pub const STATUS: &'static str = "ready";
}

fn ready_status() -> Object {
    names([Ready::STATUS], false)
}
