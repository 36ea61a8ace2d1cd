//! The `verify-ceiling` scenario: how fast this machine verifies Ed25519 signatures right now.
//!
//! Machines drift (REFERENCES.md warns of up to 5× between runs), so every other scenario is compared
//! with these figures measured in the same run rather than with published ones.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::report::{Report, Row};

/// Signatures per `verify_batch` call.
pub const BATCH_SIZE: usize = 1_024;

const SCENARIO: &str = "verify-ceiling";

/// Published anchors (REFERENCES.md, 2 cores).
const ANCHOR_VERIFY_PER_CORE: f64 = 32_700.0;
const ANCHOR_VERIFY_TWO_THREADS: f64 = 66_000.0;
const ANCHOR_BATCH_PER_CORE: f64 = 95_000.0;
const ANCHOR_BATCH_TWO_THREADS: f64 = 201_000.0;
const ANCHOR_SIGN_PER_CORE: f64 = 70_000.0;

/// Measured Ed25519 rates, in signatures per second.
#[derive(Clone, Debug)]
pub struct Ceiling {
    /// Threads used for the all-threads figures.
    pub threads: usize,
    /// `verify_strict` one at a time, one thread.
    pub verify_one_thread: f64,
    /// `verify_strict` one at a time, all threads.
    pub verify_all_threads: f64,
    /// Colony's `keys::verify` (decodes the public key on every call, then `verify_strict`), all
    /// threads: what the HTTP write path pays per request.
    pub colony_verify_all_threads: f64,
    /// `verify_batch` in batches of [`BATCH_SIZE`], one thread.
    pub batch_one_thread: f64,
    /// `verify_batch` in batches of [`BATCH_SIZE`], all threads.
    pub batch_all_threads: f64,
    /// Signing, one thread.
    pub sign_one_thread: f64,
}

/// Signatures to verify: distinct keys, envelope-sized messages with Colony's domain prefix.
struct Corpus {
    signing_keys: Vec<SigningKey>,
    keys: Vec<VerifyingKey>,
    colony_keys: Vec<colony_core::PublicKey>,
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
    signature_bytes: Vec<[u8; 64]>,
}

impl Corpus {
    fn new() -> Corpus {
        let signing_keys: Vec<SigningKey> = (0..BATCH_SIZE)
            .map(|index| {
                let mut seed = [0xc3u8; 32];
                seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
                SigningKey::from_bytes(&seed)
            })
            .collect();
        let messages: Vec<Vec<u8>> = (0..BATCH_SIZE)
            .map(|index| {
                let body = format!(
                    r#"{{"signer":"agent-{index:04}","nonce":{},"commands":[{{"type":"agent.heartbeat"}}]}}"#,
                    1_700_000_000_000_000u64 + index as u64
                );
                colony_wire::envelope::signing_message(body.as_bytes())
            })
            .collect();
        let signatures: Vec<Signature> =
            signing_keys.iter().zip(&messages).map(|(key, message)| key.sign(message)).collect();
        Corpus {
            keys: signing_keys.iter().map(SigningKey::verifying_key).collect(),
            colony_keys: signing_keys
                .iter()
                .map(|key| colony_core::PublicKey(key.verifying_key().to_bytes()))
                .collect(),
            signature_bytes: signatures.iter().map(Signature::to_bytes).collect(),
            signing_keys,
            messages,
            signatures,
        }
    }

    /// One `verify_strict` with a pre-decoded key.
    fn verify(&self, iteration: usize) -> u64 {
        let index = iteration % self.keys.len();
        assert!(self.keys[index].verify_strict(&self.messages[index], &self.signatures[index]).is_ok());
        1
    }

    /// One Colony `keys::verify`: decodes the key from bytes, then `verify_strict`.
    fn colony_verify(&self, iteration: usize) -> u64 {
        let index = iteration % self.keys.len();
        assert!(colony_wire::keys::verify(
            &self.colony_keys[index],
            &self.messages[index],
            &self.signature_bytes[index]
        ));
        1
    }

    /// One `verify_batch` of the whole corpus.
    fn verify_batch(&self) -> u64 {
        let messages: Vec<&[u8]> = self.messages.iter().map(Vec::as_slice).collect();
        assert!(ed25519_dalek::verify_batch(&messages, &self.signatures, &self.keys).is_ok());
        self.keys.len() as u64
    }

    /// One signature.
    fn sign(&self, iteration: usize) -> u64 {
        let index = iteration % self.keys.len();
        black_box(self.signing_keys[index].sign(&self.messages[index]));
        1
    }
}

/// Runs `work(iteration)` on `threads` threads for `duration`; `work` returns how many operations it
/// did. Returns the summed rate of all threads, in operations per second.
fn rate(threads: usize, duration: Duration, work: &(dyn Fn(usize) -> u64 + Sync)) -> f64 {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let started = Instant::now();
                    let mut done = 0u64;
                    let mut iteration = thread * 101;
                    loop {
                        done += work(iteration);
                        iteration += 1;
                        if started.elapsed() >= duration {
                            break;
                        }
                    }
                    done as f64 / started.elapsed().as_secs_f64()
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("benchmark thread")).sum()
    })
}

/// Measures every rate for `duration` each.
pub fn measure(threads: usize, duration: Duration) -> Ceiling {
    let corpus = Corpus::new();
    Ceiling {
        threads,
        verify_one_thread: rate(1, duration, &|iteration| corpus.verify(iteration)),
        verify_all_threads: rate(threads, duration, &|iteration| corpus.verify(iteration)),
        colony_verify_all_threads: rate(threads, duration, &|iteration| corpus.colony_verify(iteration)),
        batch_one_thread: rate(1, duration, &|_| corpus.verify_batch()),
        batch_all_threads: rate(threads, duration, &|_| corpus.verify_batch()),
        sign_one_thread: rate(1, duration, &|iteration| corpus.sign(iteration)),
    }
}

/// A ceiling to measure again next to a measurement that is compared with it.
#[derive(Clone, Copy, Debug)]
pub enum Spot {
    /// `verify_strict` one by one, all threads.
    Verify,
    /// `verify_batch` in batches of [`BATCH_SIZE`], all threads.
    Batch,
}

/// Measures one all-threads rate for `duration`: the machine drifts, so a ratio is only as good as
/// the time between its two figures is short.
pub fn spot(kind: Spot, threads: usize, duration: Duration) -> f64 {
    let corpus = Corpus::new();
    match kind {
        Spot::Verify => rate(threads, duration, &|iteration| corpus.verify(iteration)),
        Spot::Batch => rate(threads, duration, &|_| corpus.verify_batch()),
    }
}

impl Ceiling {
    /// Adds the ceiling's rows to the report.
    pub fn add_rows(&self, report: &mut Report) {
        let threads = self.threads;
        report.row(
            Row::new(SCENARIO, "verify_strict, 1 thread", self.verify_one_thread, "sig/s")
                .reference("REFERENCES.md, per core", ANCHOR_VERIFY_PER_CORE),
        );
        report.row(
            Row::new(SCENARIO, format!("verify_strict, {threads} threads"), self.verify_all_threads, "sig/s")
                .reference("REFERENCES.md, 2 threads", ANCHOR_VERIFY_TWO_THREADS),
        );
        report.row(
            Row::new(
                SCENARIO,
                format!("colony keys::verify (+ key decoding), {threads} thr"),
                self.colony_verify_all_threads,
                "sig/s",
            )
            .reference(format!("verify_strict, {threads} threads (above)"), self.verify_all_threads),
        );
        report.row(
            Row::new(SCENARIO, format!("verify_batch ×{BATCH_SIZE}, 1 thread"), self.batch_one_thread, "sig/s")
                .reference("REFERENCES.md, per core", ANCHOR_BATCH_PER_CORE),
        );
        report.row(
            Row::new(
                SCENARIO,
                format!("verify_batch ×{BATCH_SIZE}, {threads} threads"),
                self.batch_all_threads,
                "sig/s",
            )
            .reference("REFERENCES.md, 2 threads", ANCHOR_BATCH_TWO_THREADS),
        );
        report.row(
            Row::new(SCENARIO, "sign, 1 thread", self.sign_one_thread, "sig/s")
                .reference("REFERENCES.md, per core", ANCHOR_SIGN_PER_CORE),
        );
        report.note(
            SCENARIO,
            format!(
                "{BATCH_SIZE} distinct keys; ~100-byte envelope messages with the colony-envelope-v1 prefix; \
                 each rate measured for a fixed time while the benchmark runs nothing else"
            ),
        );
    }
}
