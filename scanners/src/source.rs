//! The bytes of a batch: a file on disk mapped read-only, or bytes already in memory.
//!
//! A batch of a thousand scanned pages is a gigabyte. Mapped, its bytes are the kernel's page
//! cache rather than the process's own memory, and only the pages touched are resident; as
//! pages are read (structure parsed, page images decoded, segments rebuilt) the resident
//! pages of every live map are dropped from the process every few megabytes
//! ([`note_read`]), so that resident memory stays near a few pages' worth whatever the size
//! of the batch. Dropped pages come back from the page cache when read again.
//!
//! The registry of live maps is process-wide because lopdf calls its object filter, where the
//! structure parse counts what it read, as a plain function pointer. A map leaves the
//! registry, under its lock, before it is unmapped, so that a release never touches an
//! address range that was unmapped and reused.

use std::fs::File;
use std::io;
use std::mem::ManuallyDrop;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use memmap2::Mmap;

/// Live maps: (id, address, length).
static LIVE: Mutex<Vec<(u64, usize, usize)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Bytes read from maps since the last release, over every batch being read.
static SINCE_RELEASE: AtomicUsize = AtomicUsize::new(0);

/// Resident bytes of mapped batches allowed to build up before their pages are released.
const RELEASE_EVERY: usize = 16 << 20;

/// The bytes of one batch.
pub(crate) enum Source {
    /// A file mapped read-only.
    Mapped {
        /// The map's key in the registry.
        id: u64,
        map: ManuallyDrop<Mmap>,
    },
    /// Bytes handed over in memory.
    Memory(Vec<u8>),
}

impl Source {
    /// Maps `path`. The file must not change while the batch is read: the mailroom maps its
    /// own spooled copy of a stored batch, written once and never modified.
    pub(crate) fn map(path: &Path) -> io::Result<Source> {
        let file = File::open(path)?;
        // SAFETY: a read-only map of a file nothing writes while it is mapped (see above); a
        // truncation behind guichet's back would raise SIGBUS, which its spooled files never
        // see.
        let map = unsafe { Mmap::map(&file)? };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock().push((id, map.as_ptr() as usize, map.len()));
        Ok(Source::Mapped {
            id,
            map: ManuallyDrop::new(map),
        })
    }
}

impl AsRef<[u8]> for Source {
    fn as_ref(&self) -> &[u8] {
        match self {
            Source::Mapped { map, .. } => map,
            Source::Memory(bytes) => bytes,
        }
    }
}

impl std::ops::Deref for Source {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_ref()
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Mapped { map, .. } => write!(f, "Source::Mapped({} bytes)", map.len()),
            Source::Memory(bytes) => write!(f, "Source::Memory({} bytes)", bytes.len()),
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Source::Mapped { id, map } = self {
            let mut live = lock();
            live.retain(|(live_id, _, _)| live_id != id);
            // SAFETY: dropped once, here, while the registry is locked, so no release can be
            // advising the range as it is unmapped.
            unsafe { ManuallyDrop::drop(map) };
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(u64, usize, usize)>> {
    // The registry holds plain numbers: a panic elsewhere cannot leave it inconsistent.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts `bytes` as read from a batch; releases every map's pages once enough was.
pub(crate) fn note_read(bytes: usize) {
    let total = SINCE_RELEASE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    if total >= RELEASE_EVERY {
        SINCE_RELEASE.store(0, Ordering::Relaxed);
        release_pages();
    }
}

/// Drops the resident pages of every live map from the process. Nothing is lost: the maps are
/// read-only views of files, and the pages come back from the page cache when read again.
pub(crate) fn release_pages() {
    let live = lock();
    for &(_, address, length) in live.iter() {
        #[cfg(unix)]
        // SAFETY: the range is a live read-only shared file mapping (it leaves the registry
        // before it is unmapped, under this lock); MADV_DONTNEED on such a mapping discards no
        // data, it only makes the next access fault the page in again. A failure only leaves
        // the pages resident.
        unsafe {
            libc::madvise(address as *mut libc::c_void, length, libc::MADV_DONTNEED);
        }
        #[cfg(not(unix))]
        let _ = (address, length);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_mapped_file_reads_as_its_bytes_after_a_release() {
        let dir = std::env::temp_dir().join(format!("scanners-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("batch.bin");
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        File::create(&path).unwrap().write_all(&bytes).unwrap();
        let mapped = Source::map(&path).unwrap();
        assert_eq!(&mapped[..], &bytes[..]);
        release_pages();
        assert_eq!(&mapped[..], &bytes[..]);
        drop(mapped);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
