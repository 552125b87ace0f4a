//! Local staging: where every incoming byte stream lands first.
//!
//! The writer hashes (SHA-256) and counts in the same pass that writes, and stops at the
//! limit, so an oversized body is never read on. A body of at most [`IN_MEMORY_BYTES`] is
//! gathered in memory, within a budget shared by every body in flight
//! ([`IN_MEMORY_BUDGET`]), and written to its file in one go when it ends: the staged file
//! then keeps the bytes for those who read it next (verification, the virus scan, an S3
//! put), which spares as many reads of the file. A larger body, or one that finds the budget
//! spent, goes to its file as it arrives. A staged file removes itself when dropped unless a
//! store took it: a request cancelled half-way leaves nothing behind, and [`Staging::sweep`]
//! removes what a crash left at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::blob::ContentKey;

const WRITE_BUFFER: usize = 256 * 1024;

/// The largest body gathered in memory before it is written.
pub const IN_MEMORY_BYTES: usize = 4 * 1024 * 1024;

/// The most bytes gathered in memory at once, all bodies together.
pub const IN_MEMORY_BUDGET: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("content exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("staging i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct Staging {
    dir: PathBuf,
    budget: Budget,
    /// Whether staged files are synced when finished: when the object store keeps content
    /// in its own place (S3), a staged file is only a working copy, never renamed into the
    /// store, and a crash loses nothing acknowledged by leaving it unsynced.
    synced: bool,
}

/// Bytes that bodies may still hold in memory, shared by every writer of a staging area.
#[derive(Debug, Clone)]
struct Budget(Arc<AtomicUsize>);

impl Budget {
    /// Takes `bytes` from the budget; false (nothing taken) when fewer are left.
    fn withdraw(&self, bytes: usize) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(bytes)
            })
            .is_ok()
    }

    /// An empty reservation, to grow as a body arrives.
    fn reserve(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            bytes: 0,
        }
    }
}

/// Bytes taken from the budget, given back when dropped.
#[derive(Debug)]
struct Reservation {
    budget: Budget,
    bytes: usize,
}

impl Reservation {
    /// Takes `more` bytes into this reservation; false (nothing taken) when too few are left.
    fn grow(&mut self, more: usize) -> bool {
        let taken = self.budget.withdraw(more);
        if taken {
            self.bytes += more;
        }
        taken
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.0.fetch_add(self.bytes, Ordering::AcqRel);
    }
}

impl Staging {
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, StagingError> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| StagingError::Io {
                path: dir.clone(),
                source,
            })?;
        Ok(Staging {
            dir,
            budget: Budget(Arc::new(AtomicUsize::new(IN_MEMORY_BUDGET))),
            synced: true,
        })
    }

    /// Staged files are working copies only: they are not synced when finished.
    pub fn unsynced(mut self) -> Self {
        self.synced = false;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a staged file that refuses to grow beyond `limit` bytes.
    pub async fn create(&self, limit: u64) -> Result<StagingWriter, StagingError> {
        self.create_expecting(limit, None).await
    }

    /// [`Staging::create`] for a body that announced its length (`expected`): room for it
    /// is set aside at once when it is gathered in memory.
    pub async fn create_expecting(
        &self,
        limit: u64,
        expected: Option<u64>,
    ) -> Result<StagingWriter, StagingError> {
        let path = self
            .dir
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let mut bytes = Vec::new();
        let mut reservation = self.budget.reserve();
        if let Some(expected) = expected
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= IN_MEMORY_BYTES)
            && reservation.grow(expected)
        {
            bytes.reserve_exact(expected);
        }
        let mut writer = StagingWriter {
            sink: Sink::Memory { bytes, reservation },
            guard: RemoveOnDrop(Some(path)),
            hasher: Sha256::new(),
            size: 0,
            limit,
            synced: self.synced,
        };
        if expected.is_some_and(|n| n > IN_MEMORY_BYTES as u64) {
            // Bound for its file: nothing is gained gathering what will not stay in memory.
            writer.sink = Sink::File(writer.spill(&[]).await?);
        }
        Ok(writer)
    }

    /// Removes staged files older than `age`, left by a crash. Returns how many went.
    pub async fn sweep(&self, age: Duration) -> Result<usize, StagingError> {
        let io = |source| StagingError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut removed = 0;
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(io)?;
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            let modified = entry.metadata().await.and_then(|m| m.modified());
            let old = modified
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|elapsed| elapsed >= age);
            if old && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Removes its file when dropped, unless disarmed.
#[derive(Debug)]
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn path(&self) -> &Path {
        self.0
            .as_deref()
            .expect("the guard is armed until consumed")
    }

    fn disarm(mut self) -> PathBuf {
        self.0.take().expect("the guard is armed until consumed")
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub struct StagingWriter {
    sink: Sink,
    guard: RemoveOnDrop,
    hasher: Sha256,
    size: u64,
    limit: u64,
    synced: bool,
}

/// Where a staged body's bytes go while it arrives.
enum Sink {
    /// Gathered, to be written when the body ends; the reservation covers the capacity.
    Memory {
        bytes: Vec<u8>,
        reservation: Reservation,
    },
    /// Written as they arrive.
    File(BufWriter<tokio::fs::File>),
}

impl StagingWriter {
    /// Appends a chunk; refuses it, writing nothing, when it would cross the limit.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StagingError> {
        let size = self.size + chunk.len() as u64;
        if size > self.limit {
            return Err(StagingError::TooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        if let Sink::Memory { bytes, reservation } = &mut self.sink {
            if size <= IN_MEMORY_BYTES as u64 && room_for(bytes, reservation, chunk.len()) {
                bytes.extend_from_slice(chunk);
                self.size = size;
                return Ok(());
            }
            let gathered = std::mem::take(bytes);
            self.sink = Sink::File(self.spill(&gathered).await?);
        }
        let Sink::File(file) = &mut self.sink else {
            unreachable!("a body beyond memory goes to its file")
        };
        file.write_all(chunk)
            .await
            .map_err(|source| StagingError::Io {
                path: self.guard.path().to_path_buf(),
                source,
            })?;
        self.size = size;
        Ok(())
    }

    /// Creates the file and writes what was gathered so far to it.
    async fn spill(&self, gathered: &[u8]) -> Result<BufWriter<tokio::fs::File>, StagingError> {
        let path = self.guard.path();
        let io = |source| StagingError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = tokio::fs::File::create(path).await.map_err(io)?;
        let mut file = BufWriter::with_capacity(WRITE_BUFFER, file);
        file.write_all(gathered).await.map_err(io)?;
        Ok(file)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Writes, flushes and fsyncs (unless staging is [`Staging::unsynced`]): the staged bytes
    /// are durable before anyone acts on them.
    pub async fn finish(self) -> Result<StagedFile, StagingError> {
        let synced = self.synced;
        let path = self.guard.path().to_path_buf();
        let io = |source| StagingError::Io {
            path: path.clone(),
            source,
        };
        let memory = match self.sink {
            Sink::Memory { bytes, reservation } => {
                // Created, written and synced in one blocking call.
                let target = path.clone();
                let (bytes, written) = tokio::task::spawn_blocking(move || {
                    let written = write_whole(&target, &bytes, synced);
                    (bytes, written)
                })
                .await
                .map_err(|e| io(std::io::Error::other(e)))?;
                written.map_err(io)?;
                Some((Bytes::from(bytes), reservation))
            }
            Sink::File(mut file) => {
                file.flush().await.map_err(io)?;
                if synced {
                    file.get_ref().sync_all().await.map_err(io)?;
                }
                None
            }
        };
        let hex = hex::encode(self.hasher.finalize());
        Ok(StagedFile {
            key: ContentKey::from_hex(&hex).expect("a SHA-256 digest is 64 hex digits"),
            size: self.size,
            memory,
            guard: self.guard,
        })
    }
}

/// Makes room in `bytes` for `more`, growing its capacity (at least doubling it, up to
/// [`IN_MEMORY_BYTES`]) within the budget; false when the budget has too little left.
fn room_for(bytes: &mut Vec<u8>, reservation: &mut Reservation, more: usize) -> bool {
    let needed = bytes.len() + more;
    if needed <= bytes.capacity() {
        return true;
    }
    let capacity = needed.max(bytes.capacity() * 2).min(IN_MEMORY_BYTES);
    if !reservation.grow(capacity - bytes.capacity()) {
        return false;
    }
    bytes.reserve_exact(capacity - bytes.len());
    true
}

fn write_whole(path: &Path, bytes: &[u8], synced: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    if synced {
        file.sync_all()?;
    }
    Ok(())
}

/// Bytes durably staged, with their digest and size. Removed on drop unless stored.
#[derive(Debug)]
pub struct StagedFile {
    key: ContentKey,
    size: u64,
    /// The bytes too, when the body was gathered in memory.
    memory: Option<(Bytes, Reservation)>,
    guard: RemoveOnDrop,
}

impl StagedFile {
    pub fn key(&self) -> &ContentKey {
        &self.key
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn path(&self) -> &Path {
        self.guard.path()
    }

    /// The staged bytes, when they are at hand in memory (a small body): reading them spares
    /// a read of the file.
    pub fn bytes(&self) -> Option<&Bytes> {
        self.memory.as_ref().map(|(bytes, _)| bytes)
    }

    /// Hands the file over to a store, which becomes responsible for it.
    pub fn into_path(self) -> PathBuf {
        self.guard.disarm()
    }

    /// Starts another staged file beside this one (`<name>.<extension>`), written by blocking
    /// code (a store that transforms content on its way out: a sealed store's encryption).
    pub fn beside(&self, extension: &str) -> std::io::Result<BlockingStagingWriter> {
        let path = self.path().with_extension(extension);
        let file = std::fs::File::create(&path)?;
        Ok(BlockingStagingWriter {
            file: std::io::BufWriter::with_capacity(WRITE_BUFFER, file),
            guard: RemoveOnDrop(Some(path)),
            hasher: Sha256::new(),
            size: 0,
        })
    }
}

/// A staged file written by blocking code, hashed and counted as it is written; removed when
/// dropped unless finished and stored.
pub struct BlockingStagingWriter {
    file: std::io::BufWriter<std::fs::File>,
    guard: RemoveOnDrop,
    hasher: Sha256,
    size: u64,
}

impl std::io::Write for BlockingStagingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl BlockingStagingWriter {
    /// Flushes and fsyncs; the staged file, keyed by the digest of what was written.
    pub fn finish(mut self) -> std::io::Result<StagedFile> {
        use std::io::Write;
        self.file.flush()?;
        self.file.get_ref().sync_all()?;
        let hex = hex::encode(self.hasher.finalize());
        Ok(StagedFile {
            key: ContentKey::from_hex(&hex).expect("a SHA-256 digest is 64 hex digits"),
            size: self.size,
            memory: None,
            guard: self.guard,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_counts_and_cleans_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        let mut writer = staging.create(10).await.expect("writer");
        writer.write(b"guichet").await.expect("fits");
        let staged = writer.finish().await.expect("finish");
        assert_eq!(staged.size(), 7);
        assert_eq!(staged.key(), &ContentKey::of(b"guichet"));
        let path = staged.path().to_path_buf();
        assert!(path.exists());
        drop(staged);
        assert!(!path.exists(), "a dropped staged file is removed");
    }

    #[tokio::test]
    async fn a_small_body_is_kept_in_memory_and_on_disk() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        let mut writer = staging.create(1 << 20).await.expect("writer");
        writer.write(b"gui").await.expect("fits");
        writer.write(b"chet").await.expect("fits");
        let staged = writer.finish().await.expect("finish");
        assert_eq!(staged.bytes().map(|b| &b[..]), Some(&b"guichet"[..]));
        assert_eq!(std::fs::read(staged.path()).expect("staged"), b"guichet");
    }

    #[tokio::test]
    async fn a_large_body_goes_to_its_file_as_it_arrives() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        let content: Vec<u8> = (0..IN_MEMORY_BYTES + 5000)
            .map(|i| (i % 251) as u8)
            .collect();
        // Spilled when it outgrows memory, or sent to its file at once when it announced so.
        for announced in [None, Some(content.len() as u64)] {
            let mut writer = staging
                .create_expecting(u64::MAX, announced)
                .await
                .expect("writer");
            for chunk in content.chunks(64 * 1024) {
                writer.write(chunk).await.expect("fits");
            }
            let staged = writer.finish().await.expect("finish");
            assert!(
                staged.bytes().is_none(),
                "a large body is not held in memory"
            );
            assert_eq!(std::fs::read(staged.path()).expect("staged"), content);
            assert_eq!(staged.key(), &ContentKey::of(&content));
        }
    }

    #[tokio::test]
    async fn bodies_beyond_the_shared_budget_go_to_their_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        let chunk = vec![7u8; IN_MEMORY_BYTES];
        let mut held = Vec::new();
        for _ in 0..IN_MEMORY_BUDGET / IN_MEMORY_BYTES {
            let mut writer = staging.create(u64::MAX).await.expect("writer");
            writer.write(&chunk).await.expect("fits");
            held.push(writer.finish().await.expect("finish"));
        }
        assert!(held.iter().all(|staged| staged.bytes().is_some()));
        let mut writer = staging.create(u64::MAX).await.expect("writer");
        writer.write(b"one byte too many").await.expect("fits");
        let spilled = writer.finish().await.expect("finish");
        assert!(spilled.bytes().is_none(), "the budget is spent");
        assert_eq!(
            std::fs::read(spilled.path()).expect("staged"),
            b"one byte too many"
        );
        held.pop();
        let mut writer = staging.create(u64::MAX).await.expect("writer");
        writer.write(b"room again").await.expect("fits");
        let kept = writer.finish().await.expect("finish");
        assert!(
            kept.bytes().is_some(),
            "a dropped staged file gives its bytes back"
        );
    }

    #[tokio::test]
    async fn announced_lengths_hold_their_room_in_the_budget() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        let announced = Some(IN_MEMORY_BYTES as u64);
        // Bodies that announced their length and have sent nothing yet.
        let mut waiting = Vec::new();
        for _ in 0..IN_MEMORY_BUDGET / IN_MEMORY_BYTES {
            waiting.push(
                staging
                    .create_expecting(u64::MAX, announced)
                    .await
                    .expect("writer"),
            );
        }
        let mut writer = staging.create(u64::MAX).await.expect("writer");
        writer.write(b"late").await.expect("fits");
        let spilled = writer.finish().await.expect("finish");
        assert!(
            spilled.bytes().is_none(),
            "the room is taken by the announced bodies"
        );
        let mut first = waiting.remove(0);
        first
            .write(&vec![1u8; IN_MEMORY_BYTES])
            .await
            .expect("fits");
        let kept = first.finish().await.expect("finish");
        assert_eq!(kept.bytes().map(|b| b.len()), Some(IN_MEMORY_BYTES));
    }

    #[tokio::test]
    async fn stops_at_the_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        let mut writer = staging.create(8).await.expect("writer");
        writer.write(b"12345").await.expect("fits");
        let err = writer.write(b"6789").await.expect_err("crosses the limit");
        assert!(matches!(err, StagingError::TooLarge { limit: 8 }));
        assert_eq!(writer.size(), 5);
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }

    #[tokio::test]
    async fn sweep_removes_only_old_leftovers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        std::fs::write(dir.path().join("left.part"), b"x").expect("write");
        assert_eq!(
            staging
                .sweep(Duration::from_secs(3600))
                .await
                .expect("sweep"),
            0
        );
        assert_eq!(staging.sweep(Duration::ZERO).await.expect("sweep"), 1);
    }
}
