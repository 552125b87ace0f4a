//! Master keys, and what they do: wrap and unwrap data keys, and prove which key is which.
//!
//! A data key is wrapped with XChaCha20-Poly1305 under a master key, with a fresh random nonce,
//! the associated data naming the content object, the data key's id and the master key's id:
//! a wrapped key cannot be moved to another object or relabelled with another master key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use crate::blob::{ContentKey, StoreError};

/// Master and data keys are 32 bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// A data key: random, one per content object.
pub type DataKey = Key;

/// The configured master keys: the first one wraps new data keys, every one unwraps.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

#[derive(Clone)]
struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ids only: key material never reaches a log.
        f.debug_struct("Keyring")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish()
    }
}

/// A data key as kept in its sidecar object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedKey {
    pub version: u32,
    /// The master key that wraps it.
    pub key_id: String,
    /// Base64 of the 24-byte nonce.
    pub nonce: String,
    /// Base64 of the wrapped data key (32 bytes and the 16-byte tag).
    pub wrapped: String,
}

impl Keyring {
    /// Parses `ID:BASE64[,ID:BASE64...]` (`GUICHET_ENCRYPTION_KEYS`): ids of letters, digits,
    /// `.`, `_` and `-`, distinct; keys of 32 bytes in standard base64.
    pub fn parse(text: &str) -> Result<Keyring, String> {
        let mut keys: Vec<MasterKey> = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((id, encoded)) = entry.split_once(':') else {
                return Err("expected ID:BASE64 entries separated by commas".to_string());
            };
            let id = id.trim();
            let valid_id = !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !valid_id {
                return Err(format!(
                    "key id {id:?}: 1 to 64 letters, digits, '.', '_' or '-'"
                ));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("key id {id:?} appears twice"));
            }
            let bytes = BASE64
                .decode(encoded.trim())
                .map_err(|e| format!("key {id:?} is not standard base64: {e}"))?;
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
                .ok()
                .filter(|_| bytes.len() == KEY_LEN)
                .ok_or_else(|| {
                    format!(
                        "key {id:?} is {} bytes, expected {KEY_LEN} (head -c 32 /dev/urandom | base64)",
                        bytes.len()
                    )
                })?;
            keys.push(MasterKey {
                id: id.to_string(),
                cipher,
            });
        }
        if keys.is_empty() {
            return Err("no key".to_string());
        }
        Ok(Keyring { keys })
    }

    /// The ids, the current one first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// The id of the key that wraps new data keys.
    pub fn current(&self) -> &str {
        &self.keys[0].id
    }

    fn key(&self, id: &str) -> Result<&MasterKey, StoreError> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| StoreError::KeyUnavailable {
                key_id: id.to_string(),
                reason: "is not configured (GUICHET_ENCRYPTION_KEYS)".to_string(),
            })
    }

    /// Wraps `data_key` (of `content`'s object, data key id `dek_id`) under the current key.
    pub fn wrap(&self, data_key: &DataKey, content: &ContentKey, dek_id: &str) -> WrappedKey {
        let master = &self.keys[0];
        let nonce = XNonce::generate();
        let aad = wrapping_context(content, dek_id, &master.id);
        let wrapped = master
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: data_key.as_slice(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("32 bytes are within XChaCha20-Poly1305's limits");
        WrappedKey {
            version: 1,
            key_id: master.id.clone(),
            nonce: BASE64.encode(nonce),
            wrapped: BASE64.encode(wrapped),
        }
    }

    /// The data key a sidecar holds, opened with the master key it names.
    pub fn unwrap(
        &self,
        wrapped: &WrappedKey,
        content: &ContentKey,
        dek_id: &str,
    ) -> Result<DataKey, StoreError> {
        let master = self.key(&wrapped.key_id)?;
        let refused = || StoreError::KeyUnavailable {
            key_id: wrapped.key_id.clone(),
            reason: format!(
                "does not open the data key of {content} (a wrong key under that id, or an altered key object)"
            ),
        };
        let nonce = BASE64
            .decode(&wrapped.nonce)
            .ok()
            .and_then(|n| XNonce::try_from(n.as_slice()).ok())
            .ok_or_else(refused)?;
        let sealed = BASE64.decode(&wrapped.wrapped).map_err(|_| refused())?;
        let aad = wrapping_context(content, dek_id, &master.id);
        let opened = master
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| refused())?;
        Key::try_from(opened.as_slice()).map_err(|_| refused())
    }

    /// A proof that the current key is the one named by its id, for the store's marker: an
    /// empty message sealed under it.
    pub fn check_value(&self, id: &str) -> Result<String, StoreError> {
        let master = self.key(id)?;
        let nonce = XNonce::generate();
        let tag = master
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: b"",
                    aad: check_context(id).as_bytes(),
                },
            )
            .expect("an empty message is within limits");
        let mut value = nonce.to_vec();
        value.extend(tag);
        Ok(BASE64.encode(value))
    }

    /// Whether the configured key `id` is the one that made `value`.
    pub fn verify_check(&self, id: &str, value: &str) -> Result<(), StoreError> {
        let master = self.key(id)?;
        let opened = BASE64
            .decode(value)
            .ok()
            .filter(|v| v.len() > NONCE_LEN)
            .and_then(|v| {
                let (nonce, tag) = v.split_at(NONCE_LEN);
                let nonce = XNonce::try_from(nonce).ok()?;
                master
                    .cipher
                    .decrypt(
                        &nonce,
                        Payload {
                            msg: tag,
                            aad: check_context(id).as_bytes(),
                        },
                    )
                    .ok()
            });
        match opened {
            Some(_) => Ok(()),
            None => Err(StoreError::KeyUnavailable {
                key_id: id.to_string(),
                reason: "is not the key the store's content was sealed with (check its value)"
                    .to_string(),
            }),
        }
    }
}

/// A fresh random data key.
pub fn new_data_key() -> DataKey {
    Key::generate()
}

fn wrapping_context(content: &ContentKey, dek_id: &str, key_id: &str) -> String {
    format!("guichet data key v1|{}|{dek_id}|{key_id}", content.hex())
}

fn check_context(key_id: &str) -> String {
    format!("guichet key check v1|{key_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        BASE64.encode([byte; KEY_LEN])
    }

    #[test]
    fn parses_the_list_and_refuses_what_is_wrong() {
        let ring = Keyring::parse(&format!("new:{}, old:{}", key(1), key(2))).expect("valid");
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["new", "old"]);
        assert_eq!(ring.current(), "new");
        assert!(format!("{ring:?}").contains("new") && !format!("{ring:?}").contains(&key(1)));
        for wrong in [
            "".to_string(),
            "nocolon".to_string(),
            format!("a:{}", BASE64.encode([0u8; 16])),
            "a:!!!".to_string(),
            format!("a b:{}", key(1)),
            format!("a:{},a:{}", key(1), key(2)),
        ] {
            assert!(Keyring::parse(&wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn a_wrapped_key_opens_only_where_it_was_made() {
        let ring = Keyring::parse(&format!("k1:{}", key(1))).expect("valid");
        let content = ContentKey::of(b"a");
        let data_key = new_data_key();
        let wrapped = ring.wrap(&data_key, &content, "d1");
        assert_eq!(
            ring.unwrap(&wrapped, &content, "d1").expect("opens"),
            data_key
        );
        assert!(ring.unwrap(&wrapped, &ContentKey::of(b"b"), "d1").is_err());
        assert!(ring.unwrap(&wrapped, &content, "d2").is_err());

        let wrong = Keyring::parse(&format!("k1:{}", key(9))).expect("valid");
        let err = wrong
            .unwrap(&wrapped, &content, "d1")
            .expect_err("wrong key");
        assert!(matches!(err, StoreError::KeyUnavailable { ref key_id, .. } if key_id == "k1"));
        let other = Keyring::parse(&format!("k2:{}", key(1))).expect("valid");
        let err = other
            .unwrap(&wrapped, &content, "d1")
            .expect_err("missing id");
        assert!(
            err.to_string().contains("\"k1\" is not configured"),
            "{err}"
        );
    }

    #[test]
    fn check_values_tell_a_wrong_key() {
        let ring = Keyring::parse(&format!("k1:{}", key(1))).expect("valid");
        let check = ring.check_value("k1").expect("check");
        ring.verify_check("k1", &check).expect("same key");
        let wrong = Keyring::parse(&format!("k1:{}", key(2))).expect("valid");
        assert!(wrong.verify_check("k1", &check).is_err());
    }
}
