//! The bytes of a batch: a file on disk mapped read-only, or bytes already in memory.
//!
//! A batch of a thousand scanned pages is a gigabyte. Mapped, its bytes are the kernel's page
//! cache rather than the process's own memory, and only the pages touched are resident; as
//! pages are read (structure parsed, page images decoded, segments rebuilt) the resident
//! pages of every live map are dropped from the process every few megabytes
//! ([`note_read`]), so that resident memory stays near a few pages' worth whatever the size
//! of the batch. Dropped pages come back from the page cache when read again.
//!
//! The maps, their process-wide registry and the release are `validators::mapped`'s, which
//! large uploads are verified through the same way.

use std::io;
use std::path::Path;

use validators::mapped::MappedFile;

pub(crate) use validators::mapped::{note_read, release_pages};

/// The bytes of one batch.
pub(crate) enum Source {
    /// A file mapped read-only, its pages released as they are read (see
    /// `validators::mapped`, whose registry of live maps serves verification and batches
    /// alike).
    Mapped(MappedFile),
    /// Bytes handed over in memory.
    Memory(Vec<u8>),
}

impl Source {
    /// Maps `path`. The file must not change while the batch is read: the mailroom maps its
    /// own spooled copy of a stored batch, written once and never modified.
    pub(crate) fn map(path: &Path) -> io::Result<Source> {
        MappedFile::open(path).map(Source::Mapped)
    }
}

impl AsRef<[u8]> for Source {
    fn as_ref(&self) -> &[u8] {
        match self {
            Source::Mapped(map) => map,
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
            Source::Mapped(map) => write!(f, "Source::Mapped({} bytes)", map.len()),
            Source::Memory(bytes) => write!(f, "Source::Memory({} bytes)", bytes.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
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
