//! Large content verified through a read-only memory map instead of a copy in memory.
//!
//! A 200 MB upload read with `std::fs::read` costs 200 MB of the process's own memory before
//! any check starts. Mapped, its pages are the kernel's page cache, shared and reclaimable,
//! and only the pages touched are resident. The checks still touch every page once as they
//! parse; [`release_pages`] drops the pages of every live map from the process (they are read
//! again from the page cache on the next access), so resident memory stays near what was read
//! since the last release, whatever the size of the file.
//!
//! The registry of live maps is process-wide because lopdf calls its object filter, which is
//! where the PDF check releases pages as it goes, as a plain function pointer on any thread.
//! A map is removed from the registry, under the registry's lock, before it is unmapped, so a
//! release never touches an address range that was unmapped and reused.
//!
//! Decoders read large content through a [`ReleasingReader`], which counts what they read.
//! Some checks walk the bytes of a whole file on their own (the search for another file in a
//! JPEG's segments and after its end, for one); so that they too leave few pages resident, a
//! background thread releases the pages of the live maps every [`RELEASE_PERIOD`] while any
//! map is live, and sleeps otherwise. Reading from the page cache runs at about a gigabyte a
//! second, so a walk makes at most some tens of megabytes resident between two releases.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::mem::ManuallyDrop;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, Once};
use std::time::Duration;

use memmap2::Mmap;

/// Live maps: (id, address, length).
static LIVE: Mutex<Vec<(u64, usize, usize)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Bytes parsed since the last release, summed over every verification in progress.
static SINCE_RELEASE: AtomicUsize = AtomicUsize::new(0);

/// Resident bytes of mapped content allowed to build up before its pages are released.
const RELEASE_EVERY: usize = 16 << 20;

/// How often the background release runs while a map is live.
const RELEASE_PERIOD: Duration = Duration::from_millis(10);

/// Wakes the background release when a map opens.
static OPENED: Condvar = Condvar::new();
static RELEASER: Once = Once::new();

/// A file mapped read-only for the length of one verification.
pub struct MappedFile {
    id: u64,
    map: ManuallyDrop<Mmap>,
}

impl MappedFile {
    /// Maps `path`. The file must not change while mapped: guichet maps only its own staged
    /// files, written once and never modified, and files named on `guichet validate`'s
    /// command line, which a concurrent writer could at worst make judged on mixed bytes.
    pub fn open(path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        // SAFETY: read-only map of a file nothing writes while it is mapped (see above); a
        // truncation behind guichet's back would raise SIGBUS, which staged files never see.
        let map = unsafe { Mmap::map(&file)? };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock().push((id, map.as_ptr() as usize, map.len()));
        start_releaser();
        OPENED.notify_all();
        Ok(MappedFile {
            id,
            map: ManuallyDrop::new(map),
        })
    }
}

impl std::ops::Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        let mut live = lock();
        live.retain(|(id, _, _)| *id != self.id);
        // SAFETY: dropped once, here, while the registry is locked, so no release can be
        // advising the range as it is unmapped.
        unsafe { ManuallyDrop::drop(&mut self.map) };
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(u64, usize, usize)>> {
    // The registry holds plain numbers: a panic elsewhere cannot leave it inconsistent.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts, once per process, the thread that releases the pages of the live maps every
/// [`RELEASE_PERIOD`] while there are any. If the thread cannot be started, pages are still
/// released by the checks themselves ([`note_read`]).
fn start_releaser() {
    RELEASER.call_once(|| {
        let started = std::thread::Builder::new()
            .name("mapped-release".into())
            .spawn(|| {
                loop {
                    let mut live = lock();
                    while live.is_empty() {
                        live = OPENED
                            .wait(live)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                    drop(live);
                    std::thread::sleep(RELEASE_PERIOD);
                    release_pages();
                }
            });
        // Only a resident-memory optimisation is missing without it.
        drop(started);
    });
}

/// Counts `bytes` as read from mapped content; releases every map's pages once enough was.
pub fn note_read(bytes: usize) {
    let total = SINCE_RELEASE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    if total >= RELEASE_EVERY {
        SINCE_RELEASE.store(0, Ordering::Relaxed);
        release_pages();
    }
}

/// Drops the resident pages of every live map from the process. Nothing is lost: the maps
/// are read-only views of files, and the pages come back from the page cache when read again.
pub fn release_pages() {
    let live = lock();
    for &(_, address, length) in live.iter() {
        // SAFETY: the range is a live read-only shared file mapping (it leaves the registry
        // before it is unmapped, under this lock); MADV_DONTNEED on such a mapping discards no
        // data, it only makes the next access fault the page in again.
        let result =
            unsafe { libc::madvise(address as *mut libc::c_void, length, libc::MADV_DONTNEED) };
        if result != 0 {
            // Only a resident-memory optimisation failed; the checks go on unaffected.
            continue;
        }
    }
}

/// Visits `content` in windows that overlap by `overlap` bytes, releasing mapped pages after
/// each, until `visit` returns `Some`. For scans over the whole content (a marker search)
/// that would otherwise leave every page of a large map resident.
pub(crate) fn scan_windows<T>(
    content: &[u8],
    overlap: usize,
    mut visit: impl FnMut(&[u8], usize) -> Option<T>,
) -> Option<T> {
    let mut start = 0;
    loop {
        let end = (start + RELEASE_EVERY).min(content.len());
        if let Some(found) = visit(&content[start..end], start) {
            return Some(found);
        }
        note_read(end - start);
        if end == content.len() {
            return None;
        }
        start = end.saturating_sub(overlap).max(start + 1);
    }
}

/// A reader over content, mapped or not, for decoders that take `std::io::Read`: it counts
/// what they read ([`note_read`]), so that a decoder going through a large file from start to
/// end releases the pages behind it as it goes.
pub(crate) struct ReleasingReader<'a> {
    inner: Cursor<&'a [u8]>,
    /// Bytes read and not counted yet (counted a megabyte at a time).
    pending: usize,
}

impl<'a> ReleasingReader<'a> {
    pub(crate) fn new(content: &'a [u8]) -> Self {
        ReleasingReader {
            inner: Cursor::new(content),
            pending: 0,
        }
    }

    /// Where the next read starts.
    pub(crate) fn position(&self) -> u64 {
        self.inner.position()
    }
}

impl Read for ReleasingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pending += n;
        if self.pending >= 1 << 20 {
            note_read(self.pending);
            self.pending = 0;
        }
        Ok(n)
    }
}

impl Seek for ReleasingReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_mapped_file_reads_as_its_bytes_and_after_a_release() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&bytes).unwrap();
        let mapped = MappedFile::open(file.path()).unwrap();
        assert_eq!(&mapped[..], &bytes[..]);
        release_pages();
        assert_eq!(&mapped[..], &bytes[..], "released pages read back the same");
    }

    #[test]
    fn a_dropped_map_leaves_the_registry() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), b"some bytes").unwrap();
        let mapped = MappedFile::open(file.path()).unwrap();
        let id = mapped.id;
        assert!(lock().iter().any(|(i, _, _)| *i == id));
        drop(mapped);
        assert!(!lock().iter().any(|(i, _, _)| *i == id));
    }

    #[test]
    fn a_releasing_reader_reads_and_seeks_as_a_cursor() {
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut reader = ReleasingReader::new(&bytes);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, bytes);
        reader.seek(SeekFrom::Start(1_000_001)).unwrap();
        assert_eq!(reader.position(), 1_000_001);
        let mut one = [0u8; 1];
        reader.read_exact(&mut one).unwrap();
        assert_eq!(one[0], bytes[1_000_001]);
    }

    #[test]
    fn windows_find_a_marker_across_their_boundary() {
        let mut content = vec![b'.'; RELEASE_EVERY + 10];
        content[RELEASE_EVERY - 3..RELEASE_EVERY + 4].copy_from_slice(b"<script");
        let at = scan_windows(&content, 7, |window, offset| {
            window
                .windows(7)
                .position(|w| w == b"<script")
                .map(|i| offset + i)
        });
        assert_eq!(at, Some(RELEASE_EVERY - 3));
    }
}
