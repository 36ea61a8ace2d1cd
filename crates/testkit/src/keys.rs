//! Deterministic keys, digests, ids and names.
//!
//! Core never verifies signatures, but it refuses to register bytes that are not a usable key (a
//! point on the curve, not of small order), so a test key is a stable, distinct, usable key per name.
//! Keys are derived with a simple byte fill (FNV-1a of a domain tag and the name, stretched with
//! SplitMix64), retried with a counter until the bytes are a usable point (about half are): the same
//! name gives the same key in every run and on every machine, and different names or domains give
//! different keys for all practical purposes.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use colony_core::{AgentId, Digest, Name, PublicKey};

/// The name the operator's key is derived from (the reserved signer name, so no agent shares it).
pub const OPERATOR_KEY_NAME: &str = "operator";

/// The key registered for `name` (an agent id, or [`OPERATOR_KEY_NAME`]).
pub fn key_for(name: &str) -> PublicKey {
    usable_key(b"colony-testkit/key", name)
}

/// A key that is not `name`'s but is just as deterministic: for key-mismatch cases.
pub fn wrong_key_for(name: &str) -> PublicKey {
    usable_key(b"colony-testkit/wrong-key", name)
}

/// Bytes that are not a usable key (the identity point, of small order), for refusal tests.
pub fn unusable_key() -> PublicKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    PublicKey(bytes)
}

/// Keys remembered per thread, at most: the names of a test's swarm or a generated stream's pool,
/// with room to spare, while a test that registers thousands of agents does not keep them all.
const REMEMBERED_KEYS_MAX: usize = 4_096;

fn usable_key(domain: &'static [u8], name: &str) -> PublicKey {
    thread_local! {
        // Deriving a key decompresses a curve point per attempt: most of the time it takes to render a
        // generated stream, which names the same few agents in every envelope.
        static REMEMBERED: RefCell<BTreeMap<(&'static [u8], String), PublicKey>> =
            const { RefCell::new(BTreeMap::new()) };
    }
    let key = (domain, name.to_owned());
    if let Some(known) = REMEMBERED.with(|remembered| remembered.borrow().get(&key).copied()) {
        return known;
    }
    let derived = (0u32..)
        .map(|attempt| PublicKey(fill(domain, &format!("{name}#{attempt}"))))
        .find(PublicKey::is_usable)
        .expect("about half of all 32-byte strings are usable keys");
    REMEMBERED.with(|remembered| {
        let mut remembered = remembered.borrow_mut();
        if remembered.len() < REMEMBERED_KEYS_MAX {
            remembered.insert(key, derived);
        }
    });
    derived
}

/// The operator's key: `key_for(OPERATOR_KEY_NAME)`.
pub fn operator_key() -> PublicKey {
    key_for(OPERATOR_KEY_NAME)
}

/// A stand-in for the SHA-256 of a read token's text (deterministic, not a real SHA-256).
pub fn digest_for(token_text: &str) -> Digest {
    Digest(fill(b"colony-testkit/digest", token_text))
}

/// Parses an agent id; panics with the reason when `text` is not one (test inputs are literals).
#[track_caller]
pub fn agent_id(text: &str) -> AgentId {
    AgentId::new(text).unwrap_or_else(|error| panic!("'{text}' is not a valid agent id: {error}"))
}

/// Parses a role or capability name; panics with the reason when `text` is not one.
#[track_caller]
pub fn name(text: &str) -> Name {
    Name::new(text).unwrap_or_else(|error| panic!("'{text}' is not a valid name: {error}"))
}

/// A set of names, for capabilities.
#[track_caller]
pub fn names<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeSet<Name> {
    texts.into_iter().map(name).collect()
}

/// `count` distinct capability names (`cap-0`, `cap-1`, ...), for limit tests.
pub fn numbered_capabilities(count: usize) -> BTreeSet<Name> {
    (0..count).map(|index| name(&format!("cap-{index}"))).collect()
}

/// Fills 32 bytes from a domain tag and a text: FNV-1a seeds SplitMix64, which produces four words.
fn fill(domain: &[u8], text: &str) -> [u8; 32] {
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in domain.iter().chain([0u8].iter()).chain(text.as_bytes()) {
        seed ^= u64::from(byte);
        seed = seed.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_exact_mut(8) {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut word = seed;
        word = (word ^ (word >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        word = (word ^ (word >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        word ^= word >> 31;
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// The hashlock of `preimage`: its real SHA-256, as `escrow.lock` expects and `escrow.release` checks.
pub fn hashlock_for(preimage: &str) -> Digest {
    use sha2::Digest as _;
    Digest(sha2::Sha256::digest(preimage.as_bytes()).into())
}
