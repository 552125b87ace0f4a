//! Resumable uploads: a document sent in as many requests as the candidate's network allows,
//! then filed through the same [`intake`] as any upload. The API speaks the tus protocol over
//! this (`api::tus`); nothing here knows HTTP.
//!
//! - **Creation** refuses before a byte is sent what intake would refuse: an unknown piece, a
//!   dossier that takes no upload now, an announced length beyond the piece's size.
//! - **Appending** is done under the upload's lease (one writer at a time, in any process):
//!   bytes go to the [`UploadStore`] as they arrive, and each durable prefix is recorded, so a
//!   dropped connection or a killed process costs at most the bytes since the last checkpoint.
//!   A request that carries a checksum is all or nothing: its bytes are recorded only once
//!   they match. A client back on a new connection while its old request still hangs in this
//!   process takes over: the old request stops and records what it has.
//! - **Filing**: once every byte is in, the upload is `received` (durably), then read back
//!   whole and put through intake. Filed, it names its document; refused, it keeps the error.
//!   An upload received but not filed (its process died, the store failed) is filed by any
//!   process's [`housekeeping`].
//! - **Expiry**: an upload untouched for `upload_expire_after_secs` is removed, with its
//!   bytes, by [`housekeeping`].

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use storage::uploads::{Checkpoint, Parts};
use storage::{UploadProgress, UploadRecord, upload_state};

use super::intake::{Arrival, Intake, Origin, admit, intake};
use crate::app::App;
use crate::error::{Class, Error};

/// How long a writer holds an upload without news: a request whose process died gives it up
/// after this, for the client's next request to any process.
const LEASE: Duration = Duration::from_secs(10);
/// A writer renews its lease this often while bytes arrive.
const RENEW_EVERY: Duration = Duration::from_secs(3);
/// How long a request waits for the request it takes over from to stop.
const TAKEOVER_WAIT: Duration = Duration::from_secs(5);
/// An upload received whole but not filed for this long is filed by the housekeeping.
const UNSETTLED_AFTER: Duration = Duration::from_secs(60);
/// How often each process looks for uploads to expire or to file, at most: a short expiry is
/// looked after more often (twice an expiry).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);

/// What a request's bytes must hash to (`Upload-Checksum`): SHA-1, which every tus server
/// supports and some clients (tuspy) only send, or SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Sha1([u8; 20]),
    Sha256([u8; 32]),
}

/// A running hash of a request's bytes, for its [`Checksum`].
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(Sha256),
}

impl Checksum {
    fn hasher(&self) -> Hasher {
        match self {
            Checksum::Sha1(_) => Hasher::Sha1(sha1::Sha1::new()),
            Checksum::Sha256(_) => Hasher::Sha256(Sha256::new()),
        }
    }
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    fn matches(self, expected: &Checksum) -> bool {
        match (self, expected) {
            (Hasher::Sha1(h), Checksum::Sha1(digest)) => h.finalize().as_slice() == digest,
            (Hasher::Sha256(h), Checksum::Sha256(digest)) => h.finalize().as_slice() == digest,
            _ => false,
        }
    }
}

/// A new upload, as its sender announces it.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub reference: String,
    pub piece: String,
    /// The whole document's size.
    pub length: u64,
    /// `Upload-Metadata` as sent (see [`metadata`]).
    pub metadata: Option<String>,
    /// Who sends it, as the journal names them.
    pub actor: String,
}

/// Where an upload got after a request.
#[derive(Debug, Clone)]
pub struct Appended {
    pub upload: UploadRecord,
    /// The document, once every byte is in and intake took it.
    pub filed: Option<Intake>,
}

/// The pairs of a tus `Upload-Metadata` header (`key base64,key base64,key`), values decoded.
/// Keys are unique and values valid base64; anything else is malformed.
pub fn metadata(raw: &str) -> Result<Vec<(String, Option<String>)>, Error> {
    let malformed = |why: String| Error::Malformed(format!("Upload-Metadata: {why}"));
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = pair.split(' ');
        let key = words.next().unwrap_or_default();
        if key.is_empty() || !key.is_ascii() {
            return Err(malformed(format!("invalid key in {pair:?}")));
        }
        let value = match words.next() {
            Some(encoded) => {
                let bytes = BASE64
                    .decode(encoded)
                    .map_err(|_| malformed(format!("the value of {key} is not base64")))?;
                Some(
                    String::from_utf8(bytes)
                        .map_err(|_| malformed(format!("the value of {key} is not UTF-8")))?,
                )
            }
            None => None,
        };
        if words.next().is_some() {
            return Err(malformed(format!("{pair:?} is not `key value`")));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(malformed(format!("{key} is given twice")));
        }
        pairs.push((key.to_string(), value));
    }
    Ok(pairs)
}

/// The file name and type an upload's metadata declares: `filename`/`filetype` (tus-js-client,
/// tusd), else `name`/`type` (Uppy).
pub fn declared(raw: Option<&str>) -> Result<(Option<String>, Option<String>), Error> {
    let pairs = raw.map(metadata).transpose()?.unwrap_or_default();
    let find = |keys: &[&str]| {
        keys.iter().find_map(|key| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.clone())
        })
    };
    Ok((find(&["filename", "name"]), find(&["filetype", "type"])))
}

fn arrival(upload: &UploadRecord) -> Result<Arrival, Error> {
    let (filename, content_type) = declared(upload.metadata.as_deref())?;
    Ok(Arrival {
        reference: upload.dossier.clone(),
        piece: Some(upload.piece.clone()),
        filename,
        content_type,
        content_length: Some(upload.length),
        origin: Origin::Upload,
        by: None,
        actor: upload.actor.clone(),
    })
}

fn expiry(app: &App, from: DateTime<Utc>) -> DateTime<Utc> {
    let secs = i64::try_from(app.settings.upload_expire_after_secs).unwrap_or(i64::MAX);
    from + chrono::Duration::try_seconds(secs).unwrap_or(chrono::Duration::MAX)
}

/// Opens an upload, refusing what intake would refuse before reading a byte.
pub async fn create(app: &App, new: NewUpload) -> Result<UploadRecord, Error> {
    let now = Utc::now();
    let upload = UploadRecord {
        id: uuid::Uuid::new_v4().to_string(),
        dossier: new.reference,
        piece: new.piece,
        actor: new.actor,
        length: new.length,
        offset: 0,
        metadata: new.metadata,
        parts: Parts::default().to_json(),
        state: upload_state::RECEIVING.into(),
        document: None,
        outcome: None,
        created_at: now,
        updated_at: now,
        expires_at: expiry(app, now),
    };
    admit(app, &arrival(&upload)?).await?;
    app.repo.insert_upload(&upload).await?;
    Ok(upload)
}

/// The upload `id` of this dossier's piece (the address names both); an expired one is gone.
pub async fn find(
    app: &App,
    reference: &str,
    piece: &str,
    id: &str,
) -> Result<UploadRecord, Error> {
    let upload = app
        .repo
        .upload(id)
        .await?
        .filter(|u| u.dossier == reference && u.piece == piece)
        .ok_or_else(|| Error::UnknownUpload(id.to_string()))?;
    if upload.expires_at < Utc::now() && upload.state == upload_state::RECEIVING {
        return Err(Error::UploadExpired);
    }
    Ok(upload)
}

/// Appends the bytes of `body`, sent for `offset`, to `upload`; with `checksum`, they are
/// recorded only if they match it. Files the document once the last byte
/// is in. The work runs in its own task: a client that goes away mid-request still gets its
/// bytes recorded.
pub async fn append<S, E>(
    app: &App,
    upload: &UploadRecord,
    offset: u64,
    checksum: Option<Checksum>,
    body: S,
) -> Result<Appended, Error>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let lease = Lease::take(app, &upload.id).await?;
    let app = app.clone();
    let work = tokio::spawn(async move {
        let result = append_held(&app, &lease, offset, checksum, body).await;
        lease.release(&app).await;
        result
    });
    match work.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::Internal(format!("upload task cancelled: {e}"))),
    }
}

async fn append_held<S, E>(
    app: &App,
    lease: &Lease,
    offset: u64,
    checksum: Option<Checksum>,
    body: S,
) -> Result<Appended, Error>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    // Read again under the lease: the request taken over may have moved the offset.
    let upload = app
        .repo
        .upload(&lease.id)
        .await?
        .ok_or_else(|| Error::UnknownUpload(lease.id.clone()))?;
    if offset != upload.offset {
        return Err(Error::OffsetMismatch {
            expected: upload.offset,
            given: offset,
        });
    }
    if upload.state != upload_state::RECEIVING {
        // Every byte is in: a client asking again after a lost answer.
        return finished(app, upload).await;
    }
    let parts = Parts::from_json(&upload.parts)?;
    let mut writer = app
        .uploads
        .writer(&upload.id, upload.offset, &parts)
        .await?;
    let mut received = upload.offset;
    let mut hasher = checksum.as_ref().map(Checksum::hasher);
    let mut interrupted = false;
    let mut renewed = Instant::now();
    futures::pin_mut!(body);
    loop {
        let next = tokio::select! {
            next = body.next() => next,
            () = lease.stop.cancelled() => {
                interrupted = true;
                break;
            }
        };
        let chunk = match next {
            None => break,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                tracing::info!(upload = %upload.id, received, error = %e, "upload request interrupted");
                interrupted = true;
                break;
            }
        };
        let after = received + chunk.len() as u64;
        if after > upload.length {
            return Err(Error::BeyondUploadLength {
                length: upload.length,
            });
        }
        received = after;
        if let Some(hasher) = &mut hasher {
            hasher.update(&chunk);
        }
        let checkpoint = writer.write(chunk).await?;
        match checkpoint {
            // A request with a checksum records nothing before its bytes are checked.
            Some(checkpoint) if hasher.is_none() => {
                lease.save(app, &upload, &checkpoint, false).await?;
                renewed = Instant::now();
            }
            _ if renewed.elapsed() >= RENEW_EVERY => {
                lease.renew(app).await?;
                renewed = Instant::now();
            }
            _ => {}
        }
    }
    if let (Some(hasher), Some(expected)) = (hasher, checksum) {
        if interrupted {
            return Err(Error::Malformed(
                "the request ended before its bytes did; they were discarded".into(),
            ));
        }
        if !hasher.matches(&expected) {
            return Err(Error::ChecksumMismatch);
        }
    }
    let whole = received == upload.length;
    let checkpoint = writer.finish(whole).await?;
    let upload = lease.save(app, &upload, &checkpoint, whole).await?;
    finished(app, upload).await
}

/// Where an upload stands after a request: still receiving, or, every byte in, its document,
/// its refusal, or (not filed yet) filed now.
async fn finished(app: &App, upload: UploadRecord) -> Result<Appended, Error> {
    match upload.state.as_str() {
        upload_state::RECEIVED => {
            let filed = file(app, &upload).await?;
            let upload = UploadRecord {
                state: upload_state::FILED.into(),
                document: Some(filed.document.id.clone()),
                ..upload
            };
            Ok(Appended {
                upload,
                filed: Some(filed),
            })
        }
        _ => Ok(Appended {
            upload,
            filed: None,
        }),
    }
}

/// Whether an intake failure is its verdict on this document (kept on the upload), rather
/// than a passing fault (the upload stays received, to be filed again).
fn is_final(e: &Error) -> bool {
    !matches!(
        e.class(),
        Class::Unavailable | Class::Internal | Class::Locked
    )
}

/// Puts a whole upload through intake; records the document or the refusal, then lets go of
/// its bytes.
async fn file(app: &App, upload: &UploadRecord) -> Result<Intake, Error> {
    let parts = Parts::from_json(&upload.parts)?;
    let blob = app.uploads.read(&upload.id, upload.length, &parts).await?;
    let result = intake(
        app,
        arrival(upload)?,
        tokio_util::io::ReaderStream::new(blob.reader),
    )
    .await;
    match &result {
        Ok(done) => {
            app.repo
                .settle_upload(
                    &upload.id,
                    upload_state::FILED,
                    Some(&done.document.id),
                    None,
                )
                .await?;
        }
        Err(e) if is_final(e) => {
            let outcome = json!({
                "code": e.code(), "message": e.public_message(), "details": e.details(),
            });
            app.repo
                .settle_upload(&upload.id, upload_state::REFUSED, None, Some(&outcome))
                .await?;
        }
        Err(_) => return result,
    }
    if let Err(e) = app.uploads.discard(&upload.id, &parts).await {
        tracing::warn!(upload = %upload.id, error = %e, "an upload's bytes are left for its expiry");
    }
    result
}

/// Ends an upload: its bytes go, and so does it. A document already filed from it stays.
pub async fn terminate(app: &App, upload: &UploadRecord) -> Result<(), Error> {
    let lease = Lease::take(app, &upload.id).await?;
    let result = async {
        let upload = app.repo.upload(&upload.id).await?.unwrap_or(upload.clone());
        app.uploads
            .discard(&upload.id, &Parts::from_json(&upload.parts)?)
            .await?;
        app.repo.delete_upload(&upload.id).await?;
        Ok(())
    }
    .await;
    lease.release(app).await;
    result
}

/// Every process, until it ends: removes expired uploads, files those received but not filed.
pub async fn housekeeping(app: App) {
    let every = HOUSEKEEPING_EVERY
        .min(Duration::from_secs(app.settings.upload_expire_after_secs) / 2)
        .max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = sweep(&app).await {
            tracing::warn!(error = %e, "resumable uploads housekeeping failed; trying again later");
        }
    }
}

/// One pass of [`housekeeping`]: how many uploads expired, and how many were filed.
pub async fn sweep(app: &App) -> Result<(usize, usize), Error> {
    let now = Utc::now();
    let mut expired = 0;
    for upload in app.repo.expired_uploads(now, 100).await? {
        let Ok(lease) = Lease::try_take(app, &upload.id).await else {
            continue;
        };
        app.uploads
            .discard(&upload.id, &Parts::from_json(&upload.parts)?)
            .await?;
        app.repo.delete_upload(&upload.id).await?;
        lease.forget(app);
        expired += 1;
    }
    let before = now - chrono::Duration::from_std(UNSETTLED_AFTER).expect("a short duration");
    let mut filed = 0;
    for upload in app.repo.unsettled_uploads(before, now, 20).await? {
        let Ok(lease) = Lease::try_take(app, &upload.id).await else {
            continue;
        };
        let result = file(app, &upload).await;
        lease.release(app).await;
        if result.is_ok() {
            filed += 1;
        }
    }
    Ok((expired, filed))
}

/// The right to write an upload, held in the database for every process to see, and in this
/// process with the signal that makes its request stop.
struct Lease {
    id: String,
    owner: String,
    stop: CancellationToken,
}

impl Lease {
    /// Takes the upload, stopping a request of this process that still writes it; answers
    /// [`Error::UploadLocked`] while a live request of another process holds it.
    async fn take(app: &App, id: &str) -> Result<Lease, Error> {
        let previous = app.uploads_writing().get(id).map(|(_, stop)| stop.clone());
        if let Some(stop) = &previous {
            stop.cancel();
        }
        let owner = uuid::Uuid::new_v4().to_string();
        let deadline = Instant::now() + TAKEOVER_WAIT;
        while !Self::claim(app, id, &owner).await? {
            if previous.is_none() || Instant::now() >= deadline {
                return Err(Error::UploadLocked);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self::hold(app, id, owner))
    }

    /// Takes the upload only if nobody holds it.
    async fn try_take(app: &App, id: &str) -> Result<Lease, Error> {
        let owner = uuid::Uuid::new_v4().to_string();
        if Self::claim(app, id, &owner).await? {
            Ok(Self::hold(app, id, owner))
        } else {
            Err(Error::UploadLocked)
        }
    }

    async fn claim(app: &App, id: &str, owner: &str) -> Result<bool, Error> {
        let now = Utc::now();
        Ok(app
            .repo
            .lease_upload(id, owner, Self::until(now), now)
            .await?)
    }

    /// When a lease taken or renewed at `now` lapses.
    fn until(now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(LEASE).expect("a short duration")
    }

    fn hold(app: &App, id: &str, owner: String) -> Lease {
        let stop = CancellationToken::new();
        app.uploads_writing()
            .insert(id.to_string(), (owner.clone(), stop.clone()));
        Lease {
            id: id.to_string(),
            owner,
            stop,
        }
    }

    async fn renew(&self, app: &App) -> Result<(), Error> {
        if Self::claim(app, &self.id, &self.owner).await? {
            Ok(())
        } else {
            Err(Error::UploadLocked)
        }
    }

    /// Records a durable prefix (and, `whole`, that every byte is in), renewing the lease;
    /// refused when the lease was lost.
    async fn save(
        &self,
        app: &App,
        upload: &UploadRecord,
        checkpoint: &Checkpoint,
        whole: bool,
    ) -> Result<UploadRecord, Error> {
        let now = Utc::now();
        let parts = checkpoint.parts.to_json();
        let state = if whole {
            upload_state::RECEIVED
        } else {
            upload_state::RECEIVING
        };
        let expires_at = expiry(app, now);
        let progress = UploadProgress {
            offset: checkpoint.offset,
            parts: &parts,
            state,
            expires_at,
        };
        if !app
            .repo
            .save_upload(&self.id, &self.owner, progress, Self::until(now))
            .await?
        {
            return Err(Error::UploadLocked);
        }
        Ok(UploadRecord {
            offset: checkpoint.offset,
            parts,
            state: state.into(),
            updated_at: now,
            expires_at,
            ..upload.clone()
        })
    }

    /// Lets go, in the database and in this process.
    async fn release(self, app: &App) {
        if let Err(e) = app.repo.release_upload(&self.id, &self.owner).await {
            tracing::warn!(upload = %self.id, error = %e, "an upload's lease is left to lapse");
        }
        self.forget(app);
    }

    /// Lets go in this process (the row is gone, or its lease lapses).
    fn forget(self, app: &App) {
        let mut writing = app.uploads_writing();
        if writing
            .get(&self.id)
            .is_some_and(|(owner, _)| *owner == self.owner)
        {
            writing.remove(&self.id);
        }
    }
}
