//! Identifiers and API tokens.
//!
//! All ids are random (never sequential integers), so they leak no volume. Rows written at volume
//! (contacts, calls, runs and their steps, jobs, webhook deliveries) get time-ordered UUIDs
//! ([`new_row_id`]); the rest get fully random ones ([`new_uuid`]). API tokens are
//! 32 random bytes; only their SHA-256 is stored. A fast hash is right here (unlike for passwords):
//! the input has 256 bits of entropy, so there is nothing to brute-force.

use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// A new random UUID (v4), for rows created rarely (teams, webhook subscriptions).
pub fn new_uuid() -> Uuid {
    Uuid::new_v4()
}

/// A new time-ordered UUID (v7: a millisecond timestamp, then 74 random bits) for the rows
/// written at volume: contacts, calls and their events, automation runs and steps, jobs, webhook
/// deliveries.
///
/// Why not v4: a random key lands each new row on a random page of its primary-key index, so a
/// commit of a hundred rows rewrote about a hundred pages of each index (the automation
/// benchmark wrote ~100 MB/s of WAL). Time-ordered keys append to the index's right edge and
/// share pages: same-run automation throughput rose by about 40% and contact creation by about
/// 8% (`automation_bench`, see `bench/README.md`, 2026-12-02). What the id reveals, its creation
/// time to the millisecond, the API already returns as `created`, to the same team only; it is
/// still unguessable (74 random bits) and says nothing about how many rows exist.
pub fn new_row_id() -> Uuid {
    Uuid::now_v7()
}

/// A voice agent (interview) id: 8 alphanumeric characters.
pub fn new_agent_id() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 8)
}

/// An automation id: 12 alphanumeric characters.
pub fn new_automation_id() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 12)
}

/// Whether `s` has the shape of an agent id (so a malformed id is answered as a missing one
/// without a database round trip).
pub fn is_agent_id(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Parses a UUID path or body parameter; `None` for anything else.
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}

/// A freshly generated API token: the secret shown once, and what is stored.
pub struct NewToken {
    /// `pk_` + 43 base64url characters; shown once, never stored.
    pub secret: String,
    /// Hex SHA-256 of the secret; the only thing the database keeps.
    pub hash: String,
    /// The first characters, to tell tokens apart in listings without revealing them.
    pub prefix: String,
}

pub fn new_api_token() -> NewToken {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = format!("pk_{}", hex::encode(bytes));
    let hash = hash_token(&secret);
    let prefix = secret[..11].to_string();
    NewToken { secret, hash, prefix }
}

/// A webhook signing secret for a team.
pub fn new_signing_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two strings (token hashes, team ids), so timing reveals nothing
/// about how much of a guess was right.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_and_automation_ids_have_their_shapes() {
        for _ in 0..100 {
            let a = new_agent_id();
            assert!(is_agent_id(&a), "{a}");
            let b = new_automation_id();
            assert_eq!(b.len(), 12);
            assert!(b.bytes().all(|c| c.is_ascii_alphanumeric()));
        }
        assert_ne!(new_agent_id(), new_agent_id());
        assert!(!is_agent_id("abc"));
        assert!(!is_agent_id("abcd-fgh"));
    }

    #[test]
    fn row_ids_are_time_ordered_and_distinct() {
        let ids: Vec<Uuid> = (0..1000).map(|_| new_row_id()).collect();
        assert!(ids.iter().all(|u| u.get_version_num() == 7));
        // Ordered by creation time to the millisecond; within one millisecond, random.
        let ms = |u: &Uuid| u.get_timestamp().expect("v7 carries a timestamp").to_unix();
        assert!(ids.windows(2).all(|w| ms(&w[0]) <= ms(&w[1])));
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn tokens_hash_and_compare() {
        let t = new_api_token();
        assert_eq!(hash_token(&t.secret), t.hash);
        assert!(t.secret.starts_with(&t.prefix));
        assert!(ct_eq(&t.hash, &hash_token(&t.secret)));
        assert!(!ct_eq(&t.hash, &hash_token("pk_wrong")));
        assert!(!ct_eq("abc", "abcd"));
    }
}
