//! Intake: one document from any channel through the pipeline, once.
//!
//! receive (stream to staging, hash, count, limit) → detect and verify (validators, on a
//! bounded pool) → scan (clamd, when configured; see [`super::scan`]) → store
//! (content-addressed, once) → match (the piece the channel names, or none: unclassified) →
//! decide (the verdict; `review = "auto"` accepts a passing one that is not waiting for its
//! scan) → recompute the dossier and emit events, in one transaction (with the rescan job of a
//! pending scan) → count it in the metrics. A HEIC or AVIF photo that passed its checks also
//! gets a JPEG display copy for staff, stored as its own object beside the untouched original.
//!
//! The channels differ only in what they may be refused, written in [`Channel`]'s rules:
//! - an upload is the candidate's act: it is refused outside the campaign's window or once the
//!   dossier is locked, and content that fails its checks or is infected is refused and not
//!   stored (the infection is recorded as an event);
//! - a mailroom document is paper in hand: it is attached whatever its verdict (recorded
//!   `rejected` with its reasons for staff to act on) and whatever the window (flagged `late`
//!   when the batch came after the deadline); only a closed dossier refuses it.
//!
//! For both, a piece holds at most `max_documents` documents, and the same bytes for the same
//! piece of a dossier are the same document (a repeat answers the one on file).
//!
//! Crash safety: the staged file removes itself unless stored; the object is durable before
//! the document row is written; the row, its origin, the dossier's new state and the events
//! commit together. A crash at any point leaves either nothing acknowledged or everything.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use dossiers::{Change, Kind, Piece, ReviewDecision, ReviewPolicy, TransitionError};
use storage::{DocumentRecord, DossierChange, StagedFile};
use validators::{Declared, Policy, Verdict};

use super::actions::check_window;
use super::dossier::{self, AUTO_REVIEWER, Plan, Snapshot, Standing, verdict};
use super::office;
use super::receive::receive;
use super::render;
use super::scan::{self, Outcome};
use crate::app::App;
use crate::error::Error;
use crate::events::EventKind;
use crate::metrics::IntakeStage;

/// Content up to this size is verified in one pass; above, its first bytes are judged first.
const LOAD_WITHOUT_PRESCREEN: u64 = 16 * 1024 * 1024;

/// How many first bytes the prescreen reads: enough for every signature and leading junk.
const PRESCREEN_HEAD: usize = 64 * 1024;

/// How a document arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Upload,
    Mailroom,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Upload => "upload",
            Channel::Mailroom => "mailroom",
        }
    }

    /// The candidate acts through this channel: the campaign's window and the dossier's
    /// lock apply.
    fn is_the_candidates(self) -> bool {
        self == Channel::Upload
    }

    /// Content that fails its checks, or is infected, is still kept and attached (the paper
    /// is in hand), recorded `rejected` with its reasons.
    fn keeps_refused_content(self) -> bool {
        self == Channel::Mailroom
    }
}

/// Where a document came from, recorded on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Upload,
    /// Pages of a scanned batch (1-based, inclusive).
    Mailroom {
        batch: String,
        station: String,
        first_page: u32,
        last_page: u32,
        /// When the batch was received: a batch received after the deadline is late.
        received_at: DateTime<Utc>,
    },
}

impl Origin {
    pub fn channel(&self) -> Channel {
        match self {
            Origin::Upload => Channel::Upload,
            Origin::Mailroom { .. } => Channel::Mailroom,
        }
    }

    /// The document's `origin`, as stored and shown.
    pub fn json(&self) -> Value {
        match self {
            Origin::Upload => json!({"channel": Channel::Upload.as_str()}),
            Origin::Mailroom {
                batch,
                station,
                first_page,
                last_page,
                ..
            } => json!({
                "channel": Channel::Mailroom.as_str(), "batch": batch, "station": station,
                "first_page": first_page, "last_page": last_page,
            }),
        }
    }
}

/// A document arriving, with what its sender told of it: evidence only, never trusted for
/// the kind.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub reference: String,
    /// The piece it is for; `None`: unclassified, for staff to assign.
    pub piece: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub origin: Origin,
    /// The person who filed it by hand (a mailroom triage entry), if any.
    pub by: Option<String>,
    /// Who sends it, as the journal names them (`portal:NAME`, `station:NAME`, `staff:LOGIN`).
    pub actor: String,
}

/// The document the intake ended with; `created` is false for a repeat of the same bytes.
#[derive(Debug, Clone)]
pub struct Intake {
    pub document: DocumentRecord,
    pub created: bool,
    /// The dossier as the intake left it (as it was found, for a repeat).
    pub dossier: Standing,
}

/// Takes one document from any channel through the pipeline; see the module's text.
pub async fn intake<S, E>(app: &App, arrival: Arrival, body: S) -> Result<Intake, Error>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let result = intake_counted(app, &arrival, body).await;
    count(arrival.origin.channel(), &result);
    result
}

/// Counts one intake in the metrics: `stored`, `duplicate`, `rejected` by the verdict (whether
/// refused, or kept as the mailroom keeps paper), `refused` before or beside it.
fn count(channel: Channel, result: &Result<Intake, Error>) {
    let codes = |reasons: &Value| -> Vec<String> {
        let list = reasons["reasons"].as_array().into_iter().flatten();
        list.filter_map(|r| r["code"].as_str().map(str::to_string))
            .collect()
    };
    let (outcome, reasons) = match result {
        Ok(intake) if intake.created && intake.document.verdict == verdict::REJECTED => {
            ("rejected", codes(&intake.document.reasons))
        }
        Ok(intake) if intake.created => ("stored", Vec::new()),
        Ok(_) => ("duplicate", Vec::new()),
        Err(Error::Rejected { reasons }) => (
            "rejected",
            reasons
                .iter()
                .map(|r| r.code.as_str().to_string())
                .collect(),
        ),
        Err(_) => ("refused", Vec::new()),
    };
    crate::metrics::intake(
        channel.as_str(),
        outcome,
        reasons.iter().map(String::as_str),
    );
}

async fn intake_counted<S, E>(app: &App, arrival: &Arrival, body: S) -> Result<Intake, Error>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let channel = arrival.origin.channel();
    let Admitted {
        before,
        piece,
        limit,
    } = IntakeStage::Admit.timed(admit(app, arrival)).await?;

    let staged = receive(app, body, limit, arrival.content_length).await?;
    // In flight from here: receiving costs the server little, however slowly the body comes.
    let _in_flight = app.intake_activity.enter();
    let declared = Declared {
        filename: arrival.filename.clone(),
        content_type: arrival.content_type.clone(),
    };
    let verdict = IntakeStage::Verify
        .timed(verify(app, &staged, declared, piece.as_ref()))
        .await?;
    if !verdict.accepted() {
        tracing::info!(
            dossier = %arrival.reference, piece = ?arrival.piece, kind = %verdict.kind,
            channel = channel.as_str(),
            reasons = ?verdict.reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
            "document rejected"
        );
        if !channel.keeps_refused_content() {
            return Err(Error::Rejected {
                reasons: verdict.reasons,
            });
        }
    }

    let scanned = IntakeStage::Scan.timed(scan_staged(app, &staged)).await?;
    if let Some(Outcome::Infected { signature }) = &scanned
        && !channel.keeps_refused_content()
    {
        return Err(refuse_infected(app, arrival, &staged, signature).await);
    }

    // A repeat of bytes already on file needs no second copy.
    if let Some(existing) = same_content(&before, arrival, staged.key().hex())? {
        return Ok(existing);
    }
    if let Some(piece) = &piece {
        check_room(&before, piece)?;
    }
    let display = store_display_copy(app, &staged, &verdict, scanned.as_ref()).await?;
    let (sha256, size) = (staged.key().hex().to_string(), staged.size());
    IntakeStage::Store.timed(app.blobs.put(staged)).await?;

    let mut document = new_document(
        &before,
        arrival,
        &verdict,
        piece.as_ref(),
        (sha256, size),
        scanned.as_ref(),
    );
    document.display_sha256 = display;
    let change = dossier::change_from(
        app,
        Some(before),
        &arrival.reference,
        &arrival.actor,
        |snapshot| {
            check_admitted(snapshot, channel)?;
            if let Some(existing) = same_content(snapshot, arrival, &document.sha256)? {
                return Ok(Plan::nothing(existing));
            }
            if let Some(piece) = &piece {
                check_room(snapshot, piece)?;
            }
            let mut change = DossierChange::default();
            change.new_documents.push(document.clone());
            if document.scan.as_deref() == Some(scan::state::PENDING) {
                change.jobs.push(scan::job(&document));
            }
            change.jobs.extend(render::job(&document));
            let mut facts = received_facts(&document, arrival);
            // The document staff asked for: the request is answered.
            if let Some(code) = &document.piece
                && snapshot.correction(code).is_some()
            {
                change.corrections = Some(office::without_correction(snapshot, code));
                facts["answers_correction"] = json!(true);
            }
            change.events.push(snapshot.event(
                EventKind::DocumentReceived,
                Some(&document.id),
                facts,
            ));
            if document.review.is_some() {
                change.events.push(snapshot.event(
                    EventKind::DocumentAccepted,
                    Some(&document.id),
                    json!({"piece": document.piece, "by": AUTO_REVIEWER, "review": false}),
                ));
            }
            let assessment = snapshot.assessment_after(&change);
            let next = dossiers::state::after_change(
                snapshot.state,
                &assessment,
                Change::DocumentReceived,
            );
            snapshot.move_to(&mut change, next, None);
            Ok(Plan {
                change,
                outcome: Intake {
                    document: document.clone(),
                    created: true,
                    dossier: snapshot.standing_with(next, assessment),
                },
            })
        },
    );
    IntakeStage::Commit.timed(change).await
}

/// What intake knows before reading a byte: the dossier as it was, the piece, the size limit.
pub(crate) struct Admitted {
    pub before: Snapshot,
    pub piece: Option<Piece>,
    /// The most bytes the content may have.
    pub limit: u64,
}

/// Refuses what can be refused before reading a byte: an unknown piece, a dossier that does
/// not take documents from this channel now, a declared length beyond the limit. Beyond its
/// piece's size an upload is refused (as it streams, when no length was declared); paper in
/// hand is kept and its size becomes one of its verdict's reasons.
pub(crate) async fn admit(app: &App, arrival: &Arrival) -> Result<Admitted, Error> {
    let channel = arrival.origin.channel();
    let before = Snapshot::read(app, &arrival.reference).await?;
    let piece = arrival
        .piece
        .as_deref()
        .map(|code| piece_of(&before, code).cloned())
        .transpose()?;
    check_admitted(&before, channel)?;
    let limit = match &piece {
        Some(piece) if !channel.keeps_refused_content() => {
            piece.max_bytes().min(app.settings.max_body_bytes)
        }
        _ => app.settings.max_body_bytes,
    };
    if arrival.content_length.is_some_and(|length| length > limit) {
        return Err(Error::TooLarge { limit });
    }
    Ok(Admitted {
        before,
        piece,
        limit,
    })
}

/// The facts of `document.received`: what was stored, and where it came from.
fn received_facts(document: &DocumentRecord, arrival: &Arrival) -> Value {
    let mut facts = json!({
        "piece": document.piece, "sha256": document.sha256, "kind": document.kind,
        "channel": document.channel, "verdict": document.verdict, "late": document.late,
    });
    if let Origin::Mailroom {
        batch,
        first_page,
        last_page,
        ..
    } = &arrival.origin
    {
        facts["batch"] = json!(batch);
        facts["pages"] = json!([first_page, last_page]);
    }
    if let Some(by) = &arrival.by {
        facts["by"] = json!(by);
        facts["triage"] = json!(true);
    }
    facts
}

/// Whether the dossier takes a document from `channel` now.
fn check_admitted(snapshot: &Snapshot, channel: Channel) -> Result<(), Error> {
    if channel.is_the_candidates() {
        check_window(snapshot)?;
        dossiers::state::candidate_may_change(snapshot.state)?;
    } else if snapshot.state == dossiers::DossierState::Closed {
        return Err(TransitionError::DossierClosed.into());
    }
    Ok(())
}

fn piece_of<'a>(snapshot: &'a Snapshot, code: &str) -> Result<&'a Piece, Error> {
    snapshot
        .campaign
        .piece(code)
        .ok_or_else(|| Error::UnknownPiece {
            campaign: snapshot.campaign.id().to_string(),
            piece: code.to_string(),
        })
}

/// The document on file with the same bytes for the same piece, if any. Content found
/// infected before is refused again to the candidate, whatever clamd says now; the mailroom
/// keeps the paper it has.
fn same_content(
    snapshot: &Snapshot,
    arrival: &Arrival,
    sha256: &str,
) -> Result<Option<Intake>, Error> {
    let Some(existing) = snapshot
        .active_documents()
        .find(|d| d.piece == arrival.piece && d.sha256 == sha256)
    else {
        return Ok(None);
    };
    if !arrival.origin.channel().keeps_refused_content()
        && existing.scan.as_deref() == Some(scan::state::INFECTED)
    {
        let signature = existing.scan_signature.as_deref().unwrap_or("unknown");
        return Err(Error::Rejected {
            reasons: vec![scan::infected_reason(signature)],
        });
    }
    Ok(Some(Intake {
        document: existing.clone(),
        created: false,
        dossier: snapshot.standing(),
    }))
}

/// A piece holds at most `max_documents` documents that neither the checks nor staff have
/// rejected (infected ones are rejected too): paper kept with a rejected verdict does not stand
/// in the way of the document sent to replace it.
fn check_room(snapshot: &Snapshot, piece: &Piece) -> Result<(), Error> {
    let held = snapshot
        .active_documents()
        .filter(|d| d.piece.as_deref() == Some(piece.code()))
        .filter(|d| d.verdict == verdict::ACCEPTED)
        .filter(|d| d.review.as_deref() != Some(ReviewDecision::Rejected.as_str()))
        .filter(|d| d.scan.as_deref() != Some(scan::state::INFECTED))
        .count();
    if held >= piece.max_documents() as usize {
        return Err(Error::TooManyDocuments {
            piece: piece.code().to_string(),
            max: piece.max_documents(),
        });
    }
    Ok(())
}

/// Detects and verifies the staged bytes against the piece's policy, on the bounded verify
/// pool.
async fn verify(
    app: &App,
    staged: &StagedFile,
    declared: Declared,
    piece: Option<&Piece>,
) -> Result<Verdict, Error> {
    // An unclassified document is judged on what any document must be.
    let policy = piece.map_or_else(Policy::default, |piece| Policy {
        accept: Some(piece.accept().to_vec()),
        max_bytes: Some(piece.max_bytes()),
        max_pages: piece.max_pages(),
    });
    let read_error = |e: std::io::Error| Error::Internal(format!("reading staged content: {e}"));
    // Large content is judged on its first bytes before anything loads it whole: a 200 MB
    // body of the wrong kind never costs 200 MB of memory.
    if staged.size() > LOAD_WITHOUT_PRESCREEN {
        let mut head = vec![0u8; PRESCREEN_HEAD];
        let mut file = tokio::fs::File::open(staged.path())
            .await
            .map_err(read_error)?;
        let read = file.read(&mut head).await.map_err(read_error)?;
        head.truncate(read);
        let sha256 = staged.key().hex().to_string();
        if let Some(verdict) =
            validators::prescreen(&head, staged.size(), sha256, &declared, &policy)
        {
            return Ok(verdict);
        }
    }
    let sha256 = staged.key().hex().to_string();
    let limits = app.settings.limits.clone();
    if let Some(bytes) = staged.bytes().cloned() {
        return on_verify_pool(app, "verification", move || {
            validators::validate_digested(&bytes, sha256, &declared, &policy, &limits)
        })
        .await;
    }
    // Large content is read through a memory map, not copied: see validators::mapped.
    let path = staged.path().to_path_buf();
    on_verify_pool(app, "verification", move || {
        validators::validate_file(&path, Some(sha256), &declared, &policy, &limits)
    })
    .await?
    .map_err(read_error)
}

/// A stored document judged again against `piece`'s policy (staff filed it under that
/// piece): its content is read back from the store into staging and verified as at intake,
/// with what its sender declared of it.
pub async fn judge_again(
    app: &App,
    document: &DocumentRecord,
    piece: &Piece,
) -> Result<Verdict, Error> {
    let key = storage::ContentKey::from_hex(&document.sha256)
        .ok_or_else(|| Error::Internal(format!("stored digest of {} is not a key", document.id)))?;
    let blob = app.blobs.open(&key).await?.ok_or(Error::ContentMissing)?;
    let body = tokio_util::io::ReaderStream::new(blob.reader);
    let limit = app.settings.max_body_bytes.max(blob.size);
    let staged = receive(app, body, limit, Some(blob.size)).await?;
    let declared = Declared {
        filename: document.filename.clone(),
        content_type: document.declared_type.clone(),
    };
    verify(app, &staged, declared, Some(piece)).await
}

/// Runs `work` on the blocking pool under one of the verify slots, which bound how many
/// verifications (and display copies, and watermarks drawn on served pictures) hold memory
/// at once; `what` names it in an error.
pub(crate) async fn on_verify_pool<T: Send + 'static>(
    app: &App,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let _slot = app
        .verify_slots
        .acquire()
        .await
        .map_err(|_| Error::Internal("verify pool closed".into()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("{what} task failed: {e}")))
}

/// The JPEG display copy of a HEIC or AVIF that passed its checks and is not infected, made on
/// the verify pool from the staged bytes (which it does not change) and stored as its own
/// object; its SHA-256. `None` for other kinds, and when no copy can be made: the document is
/// kept all the same, and staff download the original.
async fn store_display_copy(
    app: &App,
    staged: &StagedFile,
    verdict: &Verdict,
    scanned: Option<&Outcome>,
) -> Result<Option<String>, Error> {
    let Some(kind) = verdict
        .detected_kind()
        .filter(|kind| matches!(kind, Kind::Heic | Kind::Avif))
    else {
        return Ok(None);
    };
    if !verdict.accepted() || matches!(scanned, Some(Outcome::Infected { .. })) {
        return Ok(None);
    }
    let path = staged.path().to_path_buf();
    let limits = app.settings.limits.clone();
    let made = on_verify_pool(
        app,
        "display copy",
        move || -> std::io::Result<Option<Vec<u8>>> {
            let jpeg = if std::fs::metadata(&path)?.len() > limits.large_content_bytes {
                let content = validators::mapped::MappedFile::open(&path)?;
                validators::display_copy(&content, kind, &limits)
            } else {
                validators::display_copy(&std::fs::read(&path)?, kind, &limits)
            };
            Ok(jpeg)
        },
    )
    .await?
    .map_err(|e| Error::Internal(format!("reading staged content: {e}")))?;
    let Some(jpeg) = made else {
        tracing::warn!(sha256 = %staged.key().hex(), kind = %kind,
            "no display copy could be made of a verified document");
        return Ok(None);
    };
    let mut writer = app.staging.create(jpeg.len() as u64).await?;
    writer.write(&jpeg).await?;
    let copy = writer.finish().await?;
    let sha256 = copy.key().hex().to_string();
    app.blobs.put(copy).await?;
    Ok(Some(sha256))
}

/// Step 3 on the staged content, before anything is stored; `None` when no scanner is set.
async fn scan_staged(app: &App, staged: &StagedFile) -> Result<Option<Outcome>, Error> {
    if app.scanner.is_none() {
        return Ok(None);
    }
    if let Some(bytes) = staged.bytes() {
        return Ok(scan::scan(app, std::io::Cursor::new(bytes.clone())).await);
    }
    let file = tokio::fs::File::open(staged.path())
        .await
        .map_err(|e| Error::Internal(format!("reading staged content: {e}")))?;
    Ok(scan::scan(app, file).await)
}

/// Infected content is refused and not stored (the staged file deletes itself); the event
/// keeps the evidence. Returns the refusal to answer, even if the event could not be written.
async fn refuse_infected(
    app: &App,
    arrival: &Arrival,
    staged: &StagedFile,
    signature: &str,
) -> Error {
    tracing::warn!(dossier = %arrival.reference, piece = ?arrival.piece,
        sha256 = %staged.key().hex(), signature, "infected upload refused");
    let facts = json!({
        "piece": arrival.piece, "sha256": staged.key().hex(), "size": staged.size(),
        "filename": arrival.filename, "signature": signature,
        "channel": arrival.origin.channel().as_str(), "stored": false,
    });
    let recorded = dossier::change(app, &arrival.reference, &arrival.actor, |snapshot| {
        let mut plan = Plan::nothing(());
        plan.change
            .events
            .push(scan::infected_upload_event(snapshot, facts.clone()));
        Ok(plan)
    })
    .await;
    if let Err(e) = recorded {
        tracing::error!(dossier = %arrival.reference, error = %e,
            "could not record the document.infected event");
    }
    Error::Rejected {
        reasons: vec![scan::infected_reason(signature)],
    }
}

/// What is recorded of a verdict on a document for a piece: `accepted` or `rejected` (a
/// failed check or an infection rejects, with every reason), and whether a piece reviewed
/// `auto` accepts it at once (never while its scan is pending). The same at intake and when
/// staff file a document under another piece.
pub(super) struct Decision {
    pub verdict: &'static str,
    /// `{"reasons", "notes"}`, as stored.
    pub reasons: Value,
    pub auto: bool,
}

impl Decision {
    pub fn of(
        verdict: &Verdict,
        infected: Option<&str>,
        scanned_clean: bool,
        piece: Option<&Piece>,
    ) -> Decision {
        let mut reasons = verdict.reasons.clone();
        if let Some(signature) = infected {
            reasons.push(scan::infected_reason(signature));
        }
        let accepted = verdict.accepted() && infected.is_none();
        let auto =
            accepted && scanned_clean && piece.is_some_and(|p| p.review() == ReviewPolicy::Auto);
        Decision {
            verdict: if accepted {
                verdict::ACCEPTED
            } else {
                verdict::REJECTED
            },
            reasons: json!({"reasons": reasons, "notes": verdict.notes}),
            auto,
        }
    }

    /// The review it records: the automatic acceptance, or none.
    pub fn review(&self) -> Option<String> {
        self.auto
            .then(|| ReviewDecision::Accepted.as_str().to_string())
    }

    pub fn reviewer(&self) -> Option<String> {
        self.auto.then(|| AUTO_REVIEWER.to_string())
    }

    /// The reason codes, for events.
    pub fn codes(&self) -> Vec<String> {
        self.reasons["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["code"].as_str().map(str::to_string))
            .collect()
    }
}

/// The document as it will be recorded: its verdict (a failed check or an infection, when
/// the channel keeps such content, makes it `rejected` with every reason), the automatic
/// acceptance of a piece reviewed `auto`, the late flag and its origin.
fn new_document(
    snapshot: &Snapshot,
    arrival: &Arrival,
    verdict: &Verdict,
    piece: Option<&Piece>,
    (sha256, size): (String, u64),
    scanned: Option<&Outcome>,
) -> DocumentRecord {
    let kind: Option<Kind> = verdict.kind.parse().ok();
    let signature = match scanned {
        Some(Outcome::Infected { signature }) => Some(signature.clone()),
        _ => None,
    };
    // A document waiting for its scan is not accepted yet, even on an automatic piece.
    let scanned_clean = scanned.is_none_or(|o| *o == Outcome::Clean);
    let decided = Decision::of(verdict, signature.as_deref(), scanned_clean, piece);
    let late = match &arrival.origin {
        Origin::Upload => false,
        Origin::Mailroom { received_at, .. } => *received_at >= snapshot.deadline(),
    };
    let now = Utc::now();
    DocumentRecord {
        id: uuid::Uuid::now_v7().to_string(),
        dossier: arrival.reference.clone(),
        piece: piece.map(|p| p.code().to_string()),
        filename: arrival.filename.clone(),
        declared_type: arrival.content_type.clone(),
        sha256,
        size,
        kind: verdict.kind.clone(),
        mime: kind.map_or_else(|| verdict.mime.clone(), |k| k.mime().to_string()),
        pages: verdict.pages,
        channel: arrival.origin.channel().as_str().to_string(),
        origin: arrival.origin.json(),
        verdict: decided.verdict.to_string(),
        review: decided.review(),
        reasons: decided.reasons.clone(),
        review_reason: None,
        reviewed_by: decided.reviewer(),
        reviewed_at: decided.auto.then_some(now),
        withdrawn_at: None,
        late,
        received_at: now,
        scan: scanned.map(|o| o.state().to_string()),
        scan_signature: signature,
        display_sha256: None,
        purged_at: None,
        purge_rule: None,
    }
}
