//! Secrets at rest: the key, and sealing one column value with it. No I/O here; the database
//! side (the key check row, sealing legacy plaintext in place) is [`crate::keyring`].
//!
//! A sealed value is one self-describing string, `enc:v1:<key id>:<base64 of nonce ‖ ciphertext
//! ‖ tag>`, so a value names the key that opens it (keys can be rotated later: a [`SecretBox`]
//! holds the current key and may hold older ones) and the format can change under a new version.
//!
//! Decisions a reader would otherwise question:
//! - **XChaCha20-Poly1305** (RustCrypto's `chacha20poly1305`, audited): its 192-bit nonce can be
//!   drawn at random for every value with no practical risk of reuse, whatever the number of
//!   values or processes sealing with one key. AES-GCM's 96-bit random nonces have a reuse bound
//!   (2^32 values per key) one has to keep count of, and its software fallback (no AES-NI) is
//!   slower and harder to keep constant-time.
//! - **Associated data** binds a value to its place: the [`Purpose`] (which column) and the id of
//!   its row. A ciphertext copied into another team's row, or from the signing-secret column into
//!   the LLM-key column, fails to open instead of handing one team another's secret.
//! - **Key ids** are derived from the key (HMAC-SHA256 of a fixed label, truncated), so the id in
//!   a value identifies its key without a registry, and a wrong key is named as such at start.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use std::fmt;
use zeroize::Zeroizing;

/// Length of a key, in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// What every sealed value starts with (any version). Plaintext that starts with it would be
/// mistaken for a sealed value; no secret Parley stores has that form.
pub const SEALED_PREFIX: &str = "enc:";
const V1: &str = "v1";

/// Which secret a value is: each column that holds a secret has its own purpose, and its label is
/// sealed into the value (as associated data).
///
/// Adding a secret column (a SIP trunk's password, a carrier's auth token): add a variant with a
/// new label, and list the column in [`crate::keyring::SEALED_COLUMNS`] so plaintext left in it
/// by an older version is sealed at start. Never change a label: values sealed under it would no
/// longer open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// The check value that proves at start that the configured key is the database's.
    KeyCheck,
    /// `teams.signing_secret`: the HMAC key of the team's webhook signatures.
    TeamSigningSecret,
    /// `teams.llm_api_key`: the API key of the team's own LLM endpoint.
    TeamLlmApiKey,
    /// `sip_trunks.password`: a SIP trunk's digest-authentication password.
    SipTrunkPassword,
    /// `phone_numbers.twilio_auth_token`: the auth token of the Twilio account of a number.
    TwilioAuthToken,
    /// `team_speech_keys.api_key`: a team's key for a cloud speech provider.
    TeamSpeechKey,
}

impl Purpose {
    /// The label bound into sealed values of this purpose.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::KeyCheck => "secret_keys.check_value",
            Purpose::TeamSigningSecret => "teams.signing_secret",
            Purpose::TeamLlmApiKey => "teams.llm_api_key",
            Purpose::SipTrunkPassword => "sip_trunks.password",
            Purpose::TwilioAuthToken => "phone_numbers.twilio_auth_token",
            Purpose::TeamSpeechKey => "team_speech_keys.api_key",
        }
    }
}

/// Why a key could not be loaded or a value could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Key material that is not base64 of exactly [`KEY_LEN`] bytes (the text is never echoed).
    #[error("not a secret key: {0}; make one with `openssl rand -base64 32`")]
    BadKey(String),
    /// The store was asked for a secret before a key was installed.
    #[error("no secret key is installed, so secrets can be neither sealed nor opened")]
    NoKey,
    /// A value that is not in a sealed format this version knows.
    #[error("the value is not a sealed secret (expected enc:v1:<key id>:<base64>)")]
    Malformed,
    /// A value sealed with a key that is not configured.
    #[error("the value was sealed with key {0}, which is not configured")]
    UnknownKey(KeyId),
    /// Authentication failed: the value belongs to another row or column, or was altered.
    #[error("the value does not open with key {0}: it belongs to another row or column, or was altered")]
    DoesNotOpen(KeyId),
    /// The database's current key is not the configured one.
    #[error("the database's secrets are sealed with key {recorded}, but the configured key is {configured}")]
    WrongKey { recorded: KeyId, configured: KeyId },
}

/// A key's public name: 12 hex digits derived from the key (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// A key id as stored (in a sealed value or the key check row); `None` if it has not the form.
    pub fn parse(s: &str) -> Option<KeyId> {
        (s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
            .then(|| KeyId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 256-bit key, wiped from memory on drop; its `Debug` shows only its id.
#[derive(Clone)]
pub struct SecretKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    id: KeyId,
}

impl SecretKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> SecretKey {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        SecretKey::from_bytes(bytes)
    }

    /// A key from its base64 text (standard alphabet; surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<SecretKey, SecretError> {
        let decoded = Zeroizing::new(
            B64.decode(text.trim())
                .map_err(|_| SecretError::BadKey("it is not base64".into()))?,
        );
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::BadKey(format!("it decodes to {} bytes, not {KEY_LEN}", decoded.len())))?;
        Ok(SecretKey::from_bytes(Zeroizing::new(bytes)))
    }

    /// The key as base64 text (what a key file and `PARLEY_SECRET_KEY` hold).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(B64.encode(self.bytes.as_ref()))
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> SecretKey {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(bytes.as_ref()).expect("HMAC takes any key length");
        mac.update(b"parley secret key id");
        let id = KeyId(hex::encode(&mac.finalize().into_bytes()[..6]));
        SecretKey { bytes, id }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.bytes.as_ref().into())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

/// Seals and opens secrets: the current key seals, any held key opens the values it sealed.
#[derive(Debug, Clone)]
pub struct SecretBox {
    current: SecretKey,
    older: Vec<SecretKey>,
}

impl SecretBox {
    pub fn new(current: SecretKey) -> SecretBox {
        SecretBox {
            current,
            older: Vec::new(),
        }
    }

    /// A box that also opens values sealed with `older` keys (for a rotation).
    pub fn with_older(mut self, older: SecretKey) -> SecretBox {
        self.older.push(older);
        self
    }

    /// The id of the key that seals.
    pub fn key_id(&self) -> &KeyId {
        self.current.id()
    }

    /// Whether a stored value is in sealed form (rather than legacy plaintext).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(SEALED_PREFIX)
    }

    /// Seals `plaintext` as the `purpose` secret of row `row_id`, with a fresh random nonce (so
    /// sealing one value twice gives two different strings).
    pub fn seal(&self, purpose: Purpose, row_id: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(purpose, row_id);
        let sealed = self
            .current
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any message that fits in memory");
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{V1}:{}:{}", self.current.id(), B64.encode(blob))
    }

    /// Opens a value sealed by [`SecretBox::seal`] for the same purpose and row.
    pub fn open(&self, purpose: Purpose, row_id: &str, sealed: &str) -> Result<String, SecretError> {
        let rest = sealed.strip_prefix(SEALED_PREFIX).ok_or(SecretError::Malformed)?;
        let mut parts = rest.splitn(3, ':');
        let (Some(V1), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SecretError::Malformed);
        };
        let id = KeyId::parse(id).ok_or(SecretError::Malformed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| *k.id() == id)
            .ok_or_else(|| SecretError::UnknownKey(id.clone()))?;
        let blob = B64.decode(body).map_err(|_| SecretError::Malformed)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let aad = associated_data(purpose, row_id);
        let plain = Zeroizing::new(
            key.cipher()
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| SecretError::DoesNotOpen(id.clone()))?,
        );
        String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Malformed)
    }
}

/// What a value is bound to: the format version, its purpose, its row. Purpose labels hold no
/// NUL, so the encoding is unambiguous.
fn associated_data(purpose: Purpose, row_id: &str) -> Vec<u8> {
    format!("parley-secret\0{V1}\0{}\0{row_id}", purpose.label()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb() -> SecretBox {
        SecretBox::new(SecretKey::generate())
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_purpose_row_and_key() {
        let b = sb();
        let v = b.seal(Purpose::TeamSigningSecret, "team-a", "whsec_123");
        assert!(v.starts_with(&format!("enc:v1:{}:", b.key_id())), "{v}");
        assert!(!v.contains("whsec_123"));
        assert_eq!(b.open(Purpose::TeamSigningSecret, "team-a", &v).unwrap(), "whsec_123");
        let not = SecretError::DoesNotOpen(b.key_id().clone());
        assert_eq!(b.open(Purpose::TeamSigningSecret, "team-b", &v), Err(not.clone()));
        assert_eq!(b.open(Purpose::TeamLlmApiKey, "team-a", &v), Err(not));
        let other = sb();
        assert_eq!(
            other.open(Purpose::TeamSigningSecret, "team-a", &v),
            Err(SecretError::UnknownKey(b.key_id().clone()))
        );
    }

    #[test]
    fn sealing_twice_gives_two_values() {
        let b = sb();
        let one = b.seal(Purpose::TeamLlmApiKey, "t", "sk-1");
        let two = b.seal(Purpose::TeamLlmApiKey, "t", "sk-1");
        assert_ne!(one, two);
        assert_eq!(b.open(Purpose::TeamLlmApiKey, "t", &two).unwrap(), "sk-1");
    }

    #[test]
    fn an_altered_value_does_not_open() {
        let b = sb();
        let v = b.seal(Purpose::TeamLlmApiKey, "t", "sk-1");
        let (head, body) = v.rsplit_once(':').unwrap();
        let mut blob = B64.decode(body).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let altered = format!("{head}:{}", B64.encode(blob));
        assert_eq!(
            b.open(Purpose::TeamLlmApiKey, "t", &altered),
            Err(SecretError::DoesNotOpen(b.key_id().clone()))
        );
        for bad in [
            "sk-plain",
            "enc:v2:abc",
            "enc:v1:0123456789ab:!!",
            "enc:v1:0123456789ab:AAAA",
        ] {
            assert!(
                matches!(
                    b.open(Purpose::TeamLlmApiKey, "t", bad),
                    Err(SecretError::Malformed | SecretError::UnknownKey(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_older_key_still_opens_its_values() {
        let old = SecretKey::generate();
        let v = SecretBox::new(old.clone()).seal(Purpose::TeamSigningSecret, "t", "s");
        let rotated = SecretBox::new(SecretKey::generate()).with_older(old);
        assert_eq!(rotated.open(Purpose::TeamSigningSecret, "t", &v).unwrap(), "s");
        assert!(rotated
            .seal(Purpose::TeamSigningSecret, "t", "s")
            .contains(rotated.key_id().as_str()));
    }

    #[test]
    fn keys_round_trip_through_base64_and_bad_keys_are_named() {
        let k = SecretKey::generate();
        let again = SecretKey::from_base64(&format!(" {}\n", k.to_base64().as_str())).unwrap();
        assert_eq!(again.id(), k.id());
        assert!(!format!("{k:?}").contains(k.to_base64().as_str()));
        let short = B64.encode([7u8; 16]);
        match SecretKey::from_base64(&short) {
            Err(SecretError::BadKey(m)) => assert!(m.contains("16 bytes"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            SecretKey::from_base64("not base64!"),
            Err(SecretError::BadKey(_))
        ));
    }
}
