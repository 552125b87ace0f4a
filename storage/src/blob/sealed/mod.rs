//! Encryption at rest, as a layer over any backend: a [`BlobStore`] that seals what it stores.
//!
//! Layout in the backend:
//!
//! ```text
//! sha256/<2 hex>/<hex>               the content, sealed (format.rs); still keyed by the SHA-256
//!                                    of the plaintext, so identical content is stored once
//! keys/<2 hex>/<hex>/<data key id>   its data key, wrapped under a master key (keyring.rs)
//! guichet/encryption.json            the master key ids the store's data keys are wrapped
//!                                    under, each with a check value: the marker
//! ```
//!
//! Invariants:
//! - A data key is written before the content sealed with it, and is never rewritten but by
//!   [`SealedStore::rotate`], which wraps the same data key again. A data key without its
//!   content is a harmless leftover ([`BlobStore::strays`]); content without its key would be
//!   lost, and cannot happen.
//! - Each write of a content object has a data key of its own, named in the content's header:
//!   two processes storing the same content at once never overwrite each other's key, and
//!   whichever content lands last finds its own.
//! - Content is never rewritten for the keys' sake: rotation touches only the wrapped keys.
//! - An object with neither a sealed header nor a data key was stored before keys were
//!   configured: it is served as it is. One with only one of the two was altered: refused.
//! - A missing or wrong key is [`StoreError::KeyUnavailable`], a damaged object
//!   [`StoreError::Corrupt`] (or, past the first chunk, an `InvalidData` read error): never a
//!   guess, never partial content given out as whole.

mod format;
mod keyring;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

pub use keyring::Keyring;

use self::format::{HEADER_LEN, Header, SealError};
use self::keyring::{DataKey, WrappedKey, new_data_key};
use super::{Blob, BlobStore, ContentKey, ObjectStore, Put, StoreError, StoredObject};
use crate::staging::StagedFile;

const KEYS_PREFIX: &str = "keys/";
const MARKER: &str = "guichet/encryption.json";
/// Wrapped keys and the marker are a few hundred bytes; more is not one of them.
const SMALL_OBJECT_LIMIT: u64 = 64 * 1024;
const READ_BUFFER: usize = 256 * 1024;

pub struct SealedStore {
    raw: Arc<dyn ObjectStore>,
    keyring: Keyring,
}

/// What [`SealedStore::rotate`] did.
#[derive(Debug, Default)]
pub struct Rotation {
    /// Data keys wrapped again under the current master key.
    pub rewrapped: usize,
    /// Data keys that already were.
    pub current: usize,
    /// Data keys that could not be, by path: the marker is left as it was.
    pub failed: Vec<(String, StoreError)>,
}

/// The marker: which master keys the store's data keys are wrapped under.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    version: u32,
    keys: Vec<MarkerKey>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkerKey {
    id: String,
    /// Made by the key itself: tells a wrong key under the right id at start.
    check: String,
}

impl SealedStore {
    /// The sealed store over `raw`, if `keyring` holds every master key the store's content
    /// needs (the marker's), each the same key as when it sealed: otherwise
    /// [`StoreError::KeyUnavailable`] naming the key id. Records the current key in the marker.
    pub async fn open(raw: Arc<dyn ObjectStore>, keyring: Keyring) -> Result<Self, StoreError> {
        let store = SealedStore { raw, keyring };
        let mut marker = store.marker().await?.unwrap_or(Marker {
            version: 1,
            keys: Vec::new(),
        });
        for key in &marker.keys {
            store.keyring.verify_check(&key.id, &key.check)?;
        }
        let current = store.keyring.current().to_string();
        if !marker.keys.iter().any(|k| k.id == current) {
            marker.keys.push(MarkerKey {
                check: store.keyring.check_value(&current)?,
                id: current,
            });
            store.write_marker(&marker).await?;
        }
        Ok(store)
    }

    /// Wraps every data key under the current master key, without touching content; then
    /// records the current key alone in the marker, so the others may be removed from the
    /// configuration. Every process must run with the new key first before this starts, or
    /// one of them may still wrap new data keys under the old one.
    pub async fn rotate(&self) -> Result<Rotation, StoreError> {
        let current = self.keyring.current();
        let mut rotation = Rotation::default();
        let mut sidecars = self.raw.list(KEYS_PREFIX);
        while let Some(listed) = sidecars.try_next().await? {
            let Some((key, dek_id)) = parse_sidecar_path(&listed.path) else {
                continue;
            };
            let outcome = async {
                let wrapped = self.wrapped_key(&listed.path).await?;
                if wrapped.key_id == current {
                    return Ok(false);
                }
                let data_key = self.keyring.unwrap(&wrapped, &key, &dek_id)?;
                let again = self.keyring.wrap(&data_key, &key, &dek_id);
                self.raw
                    .write_small(&listed.path, to_json(&again))
                    .await
                    .map(|()| true)
            }
            .await;
            match outcome {
                Ok(true) => rotation.rewrapped += 1,
                Ok(false) => rotation.current += 1,
                Err(e) => rotation.failed.push((listed.path, e)),
            }
        }
        if rotation.failed.is_empty() {
            self.write_marker(&Marker {
                version: 1,
                keys: vec![MarkerKey {
                    id: current.to_string(),
                    check: self.keyring.check_value(current)?,
                }],
            })
            .await?;
        }
        Ok(rotation)
    }

    /// The id of the master key that wraps new data keys.
    pub fn current_key(&self) -> &str {
        self.keyring.current()
    }

    async fn marker(&self) -> Result<Option<Marker>, StoreError> {
        read_marker(self.raw.as_ref()).await
    }

    async fn write_marker(&self, marker: &Marker) -> Result<(), StoreError> {
        self.raw.write_small(MARKER, to_json(marker)).await
    }

    async fn wrapped_key(&self, path: &str) -> Result<WrappedKey, StoreError> {
        let bytes =
            read_small(self.raw.as_ref(), path)
                .await?
                .ok_or_else(|| StoreError::Corrupt {
                    path: path.to_string(),
                    reason: "gone while read".to_string(),
                })?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.to_string(),
            reason: format!("not a wrapped data key: {e}"),
        })
    }

    /// The data key `header` names for `key`'s content.
    async fn data_key(&self, key: &ContentKey, header: &Header) -> Result<DataKey, StoreError> {
        let dek_id = header.dek_id();
        let path = sidecar_path(key, &dek_id);
        if !self.raw.contains(&path).await? {
            return Err(StoreError::Corrupt {
                path: key.path(),
                reason: format!("its data key {path} is missing"),
            });
        }
        let wrapped = self.wrapped_key(&path).await?;
        self.keyring.unwrap(&wrapped, key, &dek_id)
    }

    async fn has_data_keys(&self, key: &ContentKey) -> Result<bool, StoreError> {
        let dir = sidecar_dir(key);
        let mut listed = self.raw.list(&dir);
        Ok(listed.try_next().await?.is_some())
    }

    /// The data key id the content object's header names: `None` when the object is absent
    /// or has no readable sealed header.
    async fn referenced_data_key(&self, key: &ContentKey) -> Result<Option<String>, StoreError> {
        let Some(blob) = self.raw.read(&key.path()).await? else {
            return Ok(None);
        };
        let mut head = Vec::with_capacity(HEADER_LEN);
        blob.reader
            .take(HEADER_LEN as u64)
            .read_to_end(&mut head)
            .await
            .map_err(|e| StoreError::Io {
                path: key.path(),
                source: e,
            })?;
        Ok(Header::decode(&head).ok().map(|h| h.dek_id()))
    }
}

/// Refuses a backend whose content is sealed when no key is configured, naming the keys it
/// needs: otherwise ciphertext would be served as content.
pub async fn require_no_keys(raw: &dyn ObjectStore) -> Result<(), StoreError> {
    match read_marker(raw).await? {
        Some(marker) if !marker.keys.is_empty() => {
            let ids: Vec<&str> = marker.keys.iter().map(|k| k.id.as_str()).collect();
            Err(StoreError::KeyUnavailable {
                key_id: ids.join(", "),
                reason: format!(
                    "is needed: the store holds encrypted content ({MARKER}) and no encryption \
                     key is configured (GUICHET_ENCRYPTION_KEYS)"
                ),
            })
        }
        _ => Ok(()),
    }
}

async fn read_marker(raw: &dyn ObjectStore) -> Result<Option<Marker>, StoreError> {
    let Some(bytes) = read_small(raw, MARKER).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            path: MARKER.to_string(),
            reason: e.to_string(),
        })
}

async fn read_small(raw: &dyn ObjectStore, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(blob) = raw.read(path).await? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    blob.reader
        .take(SMALL_OBJECT_LIMIT)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| StoreError::Io {
            path: path.to_string(),
            source: e,
        })?;
    Ok(Some(bytes))
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("plain structures serialize")
}

/// `keys/<2 hex>/<hex>/`: where the data keys of `key`'s content live.
fn sidecar_dir(key: &ContentKey) -> String {
    format!("{KEYS_PREFIX}{}/{}/", &key.hex()[..2], key.hex())
}

fn sidecar_path(key: &ContentKey, dek_id: &str) -> String {
    format!("{}{dek_id}", sidecar_dir(key))
}

/// The content key and data key id of a path made by [`sidecar_path`].
fn parse_sidecar_path(path: &str) -> Option<(ContentKey, String)> {
    let rest = path.strip_prefix(KEYS_PREFIX)?;
    let mut parts = rest.split('/');
    let (Some(prefix), Some(hex), Some(dek_id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let key = ContentKey::from_hex(hex).filter(|k| k.hex()[..2] == *prefix)?;
    let valid = dek_id.len() == 32 && dek_id.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| (key, dek_id.to_string()))
}

/// Seals a staged file into another beside it (blocking: run off the async workers).
fn seal_staged(
    staged: &StagedFile,
    header: &Header,
    data_key: &DataKey,
) -> Result<StagedFile, StoreError> {
    let io = |e| StoreError::io(staged.path(), e);
    let file = std::fs::File::open(staged.path()).map_err(io)?;
    let mut plain = std::io::BufReader::with_capacity(READ_BUFFER, file);
    let mut sealed = staged.beside("sealed").map_err(io)?;
    match format::seal(&mut plain, staged.key(), header, data_key, &mut sealed) {
        Ok(()) => sealed.finish().map_err(io),
        Err(SealError::DigestMismatch) => Err(StoreError::DigestMismatch {
            key: staged.key().clone(),
        }),
        Err(SealError::Io(e)) => Err(io(e)),
    }
}

/// The reason a read error of the format gives, when it is one.
fn corruption(key: &ContentKey, error: std::io::Error) -> StoreError {
    if error.kind() == std::io::ErrorKind::InvalidData {
        StoreError::Corrupt {
            path: key.path(),
            reason: error
                .to_string()
                .split_once(" is corrupt: ")
                .map_or_else(|| error.to_string(), |(_, reason)| reason.to_string()),
        }
    } else {
        StoreError::Io {
            path: key.path(),
            source: error,
        }
    }
}

#[async_trait]
impl BlobStore for SealedStore {
    fn name(&self) -> &'static str {
        self.raw.kind()
    }

    fn describe(&self) -> String {
        format!(
            "{}, encrypted (current key {})",
            self.raw.location(),
            self.keyring.current()
        )
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.raw.reach().await
    }

    async fn put(&self, staged: StagedFile) -> Result<Put, StoreError> {
        let key = staged.key().clone();
        if self.raw.contains(&key.path()).await? {
            return Ok(Put::AlreadyPresent);
        }
        let header = Header::new(staged.size());
        let data_key = new_data_key();
        let wrapped = self.keyring.wrap(&data_key, &key, &header.dek_id());
        self.raw
            .write_small(&sidecar_path(&key, &header.dek_id()), to_json(&wrapped))
            .await?;
        // Encrypting and hashing hundreds of megabytes is CPU work: off the async workers.
        let sealed = tokio::task::spawn_blocking(move || {
            let sealed = seal_staged(&staged, &header, &data_key);
            drop(staged);
            sealed
        })
        .await
        .expect("sealing does not panic")?;
        self.raw.write(&key.path(), sealed).await?;
        Ok(Put::Stored)
    }

    async fn open(&self, key: &ContentKey) -> Result<Option<Blob>, StoreError> {
        let Some(blob) = self.raw.read(&key.path()).await? else {
            return Ok(None);
        };
        let mut reader = blob.reader;
        let mut head = Vec::with_capacity(HEADER_LEN);
        (&mut reader)
            .take(HEADER_LEN as u64)
            .read_to_end(&mut head)
            .await
            .map_err(|e| corruption(key, e))?;
        if !Header::is_sealed(&head) {
            if self.has_data_keys(key).await? {
                return Err(StoreError::Corrupt {
                    path: key.path(),
                    reason: "it has a data key but no sealed header (altered)".to_string(),
                });
            }
            // Stored before keys were configured: as it is.
            let reader = std::io::Cursor::new(head).chain(reader);
            return Ok(Some(Blob {
                size: blob.size,
                reader: Box::pin(reader),
            }));
        }
        let header = Header::decode(&head).map_err(|reason| StoreError::Corrupt {
            path: key.path(),
            reason,
        })?;
        if blob.size != header.sealed_len() {
            return Err(StoreError::Corrupt {
                path: key.path(),
                reason: format!(
                    "{} bytes where its header announces {} (cut short or extended)",
                    blob.size,
                    header.sealed_len()
                ),
            });
        }
        let data_key = self.data_key(key, &header).await?;
        let size = header.size;
        let mut chunks = format::open(reader, key, header, &data_key);
        // The first chunk is opened now: a damaged small object fails here, before any answer.
        let first = chunks
            .next()
            .await
            .transpose()
            .map_err(|e| corruption(key, e))?;
        let plaintext = futures::stream::iter(first.map(Ok)).chain(chunks);
        Ok(Some(Blob {
            size,
            reader: Box::pin(tokio_util::io::StreamReader::new(plaintext)),
        }))
    }

    async fn exists(&self, key: &ContentKey) -> Result<bool, StoreError> {
        self.raw.contains(&key.path()).await
    }

    /// Removes the content, then its data keys (a data key left by a failure half-way is a
    /// harmless stray).
    async fn delete(&self, key: &ContentKey) -> Result<bool, StoreError> {
        let dir = sidecar_dir(key);
        let data_keys: Vec<String> = self
            .raw
            .list(&dir)
            .map_ok(|listed| listed.path)
            .try_collect()
            .await?;
        let removed = self.raw.remove(&key.path()).await?;
        for path in data_keys {
            self.raw.remove(&path).await?;
        }
        Ok(removed)
    }

    fn objects(&self) -> BoxStream<'_, Result<StoredObject, StoreError>> {
        super::content_objects(self.raw.as_ref())
    }

    /// Data keys older than `older_than` whose content is gone, or whose content names
    /// another data key (a write that lost a race, or was interrupted and done again).
    async fn strays(&self, older_than: Duration) -> Result<Vec<String>, StoreError> {
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut old: BTreeMap<ContentKey, Vec<(String, String)>> = BTreeMap::new();
        let mut listed = self.raw.list(KEYS_PREFIX);
        while let Some(sidecar) = listed.try_next().await? {
            // Of unknown age: it may be being written.
            let is_old = sidecar.modified.is_some_and(|m| m <= cutoff);
            if let (true, Some((key, dek_id))) = (is_old, parse_sidecar_path(&sidecar.path)) {
                old.entry(key).or_default().push((sidecar.path, dek_id));
            }
        }
        let mut strays = Vec::new();
        for (key, data_keys) in old {
            let referenced = if self.raw.contains(&key.path()).await? {
                match self.referenced_data_key(&key).await? {
                    Some(dek_id) => dek_id,
                    // Content without a readable header: its keys are evidence, kept.
                    None => continue,
                }
            } else {
                String::new()
            };
            strays.extend(
                data_keys
                    .into_iter()
                    .filter(|(_, dek_id)| *dek_id != referenced)
                    .map(|(path, _)| path),
            );
        }
        Ok(strays)
    }

    async fn remove_stray(&self, path: &str) -> Result<bool, StoreError> {
        if parse_sidecar_path(path).is_none() {
            return Err(StoreError::Config(format!(
                "{path} is not a data key's path"
            )));
        }
        self.raw.remove(path).await
    }

    async fn sweep(&self, older_than: Duration) -> Result<usize, StoreError> {
        self.raw.sweep_leftovers(older_than).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_paths_parse_back() {
        let key = ContentKey::of(b"x");
        let path = sidecar_path(&key, &"ab".repeat(16));
        assert_eq!(
            parse_sidecar_path(&path),
            Some((key.clone(), "ab".repeat(16)))
        );
        assert!(parse_sidecar_path(&key.path()).is_none());
        assert!(parse_sidecar_path(&format!("{}../x", sidecar_dir(&key))).is_none());
    }
}
