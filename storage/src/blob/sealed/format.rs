//! The sealed object format: a header, then the content in chunks, each encrypted and
//! authenticated on its own (XChaCha20-Poly1305 in the STREAM construction, `aead-stream`'s
//! `StreamBE32`), so that content of any size is sealed and opened with one chunk in memory.
//!
//! ```text
//! header (55 bytes)
//!   magic "GCHSEAL"  7      version 1             1
//!   chunk size       4 (u32, big-endian: plaintext bytes per chunk, 64 KiB)
//!   plaintext size   8 (u64, big-endian)
//!   data key id     16 (random; names the sidecar `keys/<2 hex>/<hex>/<id in hex>`)
//!   stream nonce    19 (random; STREAM appends a 32-bit counter and a last-chunk flag)
//! chunks: max(1, ceil(size / chunk size)) of them, each its ciphertext then its 16-byte tag
//! ```
//!
//! Every chunk is authenticated with the header and the content key as associated data, so an
//! object cannot be moved to another key, nor its header changed. The last chunk is sealed as
//! the last (STREAM's flag): an object cut short at a chunk boundary fails like any other
//! altered one, and bytes after the last chunk are refused.

use std::io::{Read, Write};
use std::pin::Pin;

use aead_stream::{DecryptorBE32, EncryptorBE32};
use bytes::Bytes;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::Generate;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::keyring::DataKey;
use crate::blob::ContentKey;

pub const MAGIC: &[u8; 7] = b"GCHSEAL";
const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 7 + 1 + 4 + 8 + DEK_ID_LEN + STREAM_NONCE_LEN;
pub const CHUNK_SIZE: u32 = 64 * 1024;
/// The largest chunk a reader accepts: a header may not make it allocate more.
const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
const TAG_LEN: u64 = 16;
const DEK_ID_LEN: usize = 16;
const STREAM_NONCE_LEN: usize = 19;

/// What the header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub chunk_size: u32,
    pub size: u64,
    pub dek_id: [u8; DEK_ID_LEN],
    pub nonce: [u8; STREAM_NONCE_LEN],
}

impl Header {
    /// A header for `size` bytes of content, with a fresh data key id and nonce.
    pub fn new(size: u64) -> Header {
        Header {
            chunk_size: CHUNK_SIZE,
            size,
            dek_id: <[u8; DEK_ID_LEN]>::generate(),
            nonce: <[u8; STREAM_NONCE_LEN]>::generate(),
        }
    }

    pub fn dek_id(&self) -> String {
        hex::encode(self.dek_id)
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut at = 0;
        for part in [
            &MAGIC[..],
            &[VERSION],
            &self.chunk_size.to_be_bytes(),
            &self.size.to_be_bytes(),
            &self.dek_id,
            &self.nonce,
        ] {
            out[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        out
    }

    /// Whether `bytes` (an object's first bytes) begin as a sealed object does.
    pub fn is_sealed(bytes: &[u8]) -> bool {
        bytes.starts_with(MAGIC)
    }

    /// Parses a header; the reason when it is not a valid one.
    pub fn decode(bytes: &[u8]) -> Result<Header, String> {
        if bytes.len() < HEADER_LEN || !Header::is_sealed(bytes) {
            return Err("no sealed header".to_string());
        }
        if bytes[7] != VERSION {
            return Err(format!("unknown sealed format version {}", bytes[7]));
        }
        let field = |from: usize, len: usize| &bytes[from..from + len];
        let chunk_size = u32::from_be_bytes(field(8, 4).try_into().expect("4 bytes"));
        if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
            return Err(format!("chunk size {chunk_size} out of bounds"));
        }
        Ok(Header {
            chunk_size,
            size: u64::from_be_bytes(field(12, 8).try_into().expect("8 bytes")),
            dek_id: field(20, DEK_ID_LEN).try_into().expect("16 bytes"),
            nonce: field(36, STREAM_NONCE_LEN).try_into().expect("19 bytes"),
        })
    }

    /// How many chunks the content is sealed in: at least one, the last possibly empty.
    pub fn chunks(&self) -> u64 {
        self.size.div_ceil(u64::from(self.chunk_size)).max(1)
    }

    /// The sealed object's whole length.
    pub fn sealed_len(&self) -> u64 {
        HEADER_LEN as u64 + self.size + self.chunks() * TAG_LEN
    }

    /// Plaintext bytes in chunk `index`.
    fn chunk_len(&self, index: u64) -> usize {
        let start = index * u64::from(self.chunk_size);
        let len = (self.size - start).min(u64::from(self.chunk_size));
        usize::try_from(len).expect("chunks are at most 16 MiB")
    }

    /// What every chunk is authenticated with besides itself.
    fn associated_data(&self, key: &ContentKey) -> Vec<u8> {
        let mut aad = self.encode().to_vec();
        aad.extend_from_slice(key.hex().as_bytes());
        aad
    }

    fn nonce(
        &self,
    ) -> aead_stream::Nonce<XChaCha20Poly1305, aead_stream::StreamBE32<XChaCha20Poly1305>> {
        self.nonce.into()
    }
}

/// Why content could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the content does not hash to its key")]
    DigestMismatch,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Seals `header.size` bytes read from `plain` into `out`, chunk after chunk, checking on the
/// way that they are the content `key` names. Blocking: run it off the async workers.
pub fn seal(
    plain: &mut impl Read,
    key: &ContentKey,
    header: &Header,
    data_key: &DataKey,
    out: &mut impl Write,
) -> Result<(), SealError> {
    out.write_all(&header.encode())?;
    let aad = header.associated_data(key);
    let mut encryptor = EncryptorBE32::<XChaCha20Poly1305>::new(data_key, &header.nonce());
    let mut hasher = Sha256::new();
    let mut buffer = Vec::with_capacity(header.chunk_size as usize + TAG_LEN as usize);
    let chunks = header.chunks();
    for index in 0..chunks {
        buffer.clear();
        buffer.resize(header.chunk_len(index), 0);
        plain.read_exact(&mut buffer)?;
        hasher.update(&buffer);
        if index + 1 == chunks {
            let mut extra = [0u8; 1];
            if plain.read(&mut extra)? != 0 {
                return Err(SealError::DigestMismatch);
            }
            encryptor
                .encrypt_last_in_place(&aad, &mut buffer)
                .map_err(|_| std::io::Error::other("sealing the last chunk"))?;
            out.write_all(&buffer)?;
            break;
        }
        encryptor
            .encrypt_next_in_place(&aad, &mut buffer)
            .map_err(|_| std::io::Error::other("sealing a chunk"))?;
        out.write_all(&buffer)?;
    }
    if hasher.finalize().as_slice() != hex::decode(key.hex()).expect("keys are hex") {
        return Err(SealError::DigestMismatch);
    }
    Ok(())
}

/// The plaintext of a sealed object, as a stream of chunks, each checked before it is given
/// out. `reader` is positioned after the header. A failure is an `InvalidData` error naming
/// the object, and nothing after it is given out.
pub fn open(
    reader: Pin<Box<dyn AsyncRead + Send>>,
    key: &ContentKey,
    header: Header,
    data_key: &DataKey,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    let state = Opening {
        reader,
        decryptor: Some(DecryptorBE32::<XChaCha20Poly1305>::new(
            data_key,
            &header.nonce(),
        )),
        aad: header.associated_data(key),
        path: key.path(),
        index: 0,
        header,
    };
    futures::stream::try_unfold(state, |mut state| async move {
        Ok(state.next().await?.map(|chunk| (chunk, state)))
    })
    .into_stream()
    .boxed()
}

struct Opening {
    reader: Pin<Box<dyn AsyncRead + Send>>,
    decryptor: Option<DecryptorBE32<XChaCha20Poly1305>>,
    aad: Vec<u8>,
    path: String,
    index: u64,
    header: Header,
}

impl Opening {
    fn corrupt(&self, reason: String) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("stored object {} is corrupt: {reason}", self.path),
        )
    }

    async fn next(&mut self) -> std::io::Result<Option<Bytes>> {
        let Some(decryptor) = self.decryptor.as_mut() else {
            return Ok(None);
        };
        let chunks = self.header.chunks();
        let last = self.index + 1 == chunks;
        let mut buffer = vec![0u8; self.header.chunk_len(self.index) + TAG_LEN as usize];
        if let Err(e) = self.reader.read_exact(&mut buffer).await {
            return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.corrupt(format!("cut short in chunk {} of {chunks}", self.index + 1))
            } else {
                e
            });
        }
        let opened = if last {
            let decryptor = self.decryptor.take().expect("present until the last chunk");
            decryptor.decrypt_last_in_place(&self.aad, &mut buffer)
        } else {
            decryptor.decrypt_next_in_place(&self.aad, &mut buffer)
        };
        if opened.is_err() {
            self.decryptor = None;
            return Err(self.corrupt(format!(
                "chunk {} of {chunks} fails its authentication (altered or cut short)",
                self.index + 1
            )));
        }
        if last {
            let mut extra = [0u8; 1];
            if self.reader.read(&mut extra).await? != 0 {
                return Err(self.corrupt("bytes after its last chunk".to_string()));
            }
        }
        self.index += 1;
        Ok(Some(Bytes::from(buffer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::sealed::keyring::new_data_key;

    fn sealed(content: &[u8], header: &Header, data_key: &DataKey) -> Vec<u8> {
        let mut out = Vec::new();
        seal(
            &mut &content[..],
            &ContentKey::of(content),
            header,
            data_key,
            &mut out,
        )
        .expect("seal");
        out
    }

    async fn opened(
        object: Vec<u8>,
        key: &ContentKey,
        data_key: &DataKey,
    ) -> std::io::Result<Vec<u8>> {
        let header = Header::decode(&object).map_err(std::io::Error::other)?;
        let reader = Box::pin(std::io::Cursor::new(object[HEADER_LEN..].to_vec()));
        let chunks: Vec<Bytes> = open(reader, key, header, data_key).try_collect().await?;
        Ok(chunks.concat())
    }

    #[tokio::test]
    async fn round_trips_at_every_chunk_boundary() {
        let data_key = new_data_key();
        for size in [0, 1, 65_535, 65_536, 65_537, 3 * 65_536, 200_000] {
            let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let header = Header::new(size as u64);
            let object = sealed(&content, &header, &data_key);
            assert_eq!(object.len() as u64, header.sealed_len());
            let back = opened(object, &ContentKey::of(&content), &data_key)
                .await
                .expect("opens");
            assert!(back == content, "size {size}");
        }
    }

    #[tokio::test]
    async fn altered_cut_or_extended_objects_fail() {
        let data_key = new_data_key();
        let content = vec![7u8; 200_000];
        let key = ContentKey::of(&content);
        let header = Header::new(content.len() as u64);
        let object = sealed(&content, &header, &data_key);

        let mut flipped = object.clone();
        flipped[HEADER_LEN + 100_000] ^= 1;
        let err = opened(flipped, &key, &data_key).await.expect_err("altered");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("chunk 2 of 4"), "{err}");

        // Cut at a chunk boundary: the chunk now last was not sealed as the last.
        let mut header_cut = Header::decode(&object).expect("header");
        header_cut.size = 3 * 65_536;
        let mut cut = header_cut.encode().to_vec();
        cut.extend_from_slice(&object[HEADER_LEN..HEADER_LEN + 3 * (65_536 + 16)]);
        assert!(opened(cut, &key, &data_key).await.is_err(), "cut short");
        let cut_plain = object[..object.len() - 10].to_vec();
        assert!(
            opened(cut_plain, &key, &data_key).await.is_err(),
            "truncated"
        );

        let mut extended = object.clone();
        extended.push(0);
        let err = opened(extended, &key, &data_key)
            .await
            .expect_err("extended");
        assert!(err.to_string().contains("after its last chunk"), "{err}");

        let err = opened(object.clone(), &ContentKey::of(b"other"), &data_key)
            .await
            .expect_err("another key");
        assert!(err.to_string().contains("authentication"), "{err}");
        assert!(
            opened(object, &key, &new_data_key()).await.is_err(),
            "another data key"
        );
    }

    #[test]
    fn refuses_content_that_is_not_its_key() {
        let header = Header::new(3);
        let mut out = Vec::new();
        let err = seal(
            &mut &b"abc"[..],
            &ContentKey::of(b"abd"),
            &header,
            &new_data_key(),
            &mut out,
        )
        .expect_err("mismatch");
        assert!(matches!(err, SealError::DigestMismatch));
        let err = seal(
            &mut &b"abcd"[..],
            &ContentKey::of(b"abc"),
            &header,
            &new_data_key(),
            &mut out,
        )
        .expect_err("longer than announced");
        assert!(matches!(err, SealError::DigestMismatch));
    }
}
