//! Where snapshots are kept: apart from the log, so that writing one never holds up an append.
//!
//! A snapshot is the state encoded at one entry, with the chain hash of the log up to that entry
//! and the state hash. The store checks only the framing; whoever decodes a snapshot checks the
//! body against the state hash and the chain against the log (`recovery.rs` in the server), so a
//! snapshot from another history or a damaged one is never used.
//!
//! [`FileSnapshots`] keeps each snapshot in a file of its own, `<sequence>.snapshot`, written to a
//! temporary name, synced, renamed into place and the directory synced, so that a crash leaves
//! either the whole snapshot or none of it. SQLite could hold them, but a 200 MiB blob written into
//! the log's database holds its write lock, and so every append, for as long as the write takes.

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::chain::ChainHash;

/// A stored snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last entry the snapshot includes.
    pub sequence: u64,
    /// The chain hash of the log up to and including that entry: a snapshot belongs to one history.
    pub chain: ChainHash,
    /// The state hash at that entry, to check the body against.
    pub state_hash: [u8; 32],
    /// The encoded state.
    pub body: Vec<u8>,
}

/// Why a snapshot could not be stored, listed or read.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotStoreError {
    /// The file system failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// A stored snapshot is not whole: recovery falls back to an older one.
    Damaged {
        /// Its sequence.
        sequence: u64,
        /// What is wrong.
        reason: String,
    },
}

impl std::fmt::Display for SnapshotStoreError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotStoreError::Io { path, error } => write!(formatter, "snapshot store: {}: {error}", path.display()),
            SnapshotStoreError::Damaged { sequence, reason } => {
                write!(formatter, "the snapshot at entry {sequence} is damaged: {reason}")
            }
        }
    }
}

impl std::error::Error for SnapshotStoreError {}

/// The durable store of snapshots. Shared between the thread that writes periodic snapshots and the
/// writer (its final one at shutdown), hence `&self` and `Sync`.
pub trait SnapshotStore: Send + Sync {
    /// The sequences of the stored snapshots, newest first.
    fn list(&self) -> Result<Vec<u64>, SnapshotStoreError>;

    /// Reads the snapshot at `sequence` (one of [`SnapshotStore::list`]'s).
    fn read(&self, sequence: u64) -> Result<Snapshot, SnapshotStoreError>;

    /// Stores a snapshot durably, then keeps only the newest `keep` (at least one).
    fn save(&self, snapshot: &Snapshot, keep: usize) -> Result<(), SnapshotStoreError>;
}

/// The first bytes of a snapshot file, with its format version.
const FILE_MAGIC: &[u8; 16] = b"colony-snap-v1\n\0";
/// Magic, sequence, chain hash, state hash, body length.
const HEADER_BYTES: usize = 16 + 8 + 32 + 32 + 8;
const EXTENSION: &str = "snapshot";

/// Snapshots as files in one directory.
#[derive(Debug)]
pub struct FileSnapshots {
    directory: PathBuf,
}

impl FileSnapshots {
    /// Opens (creating it if needed) the directory of snapshots, and removes temporary files that a
    /// crash left half-written.
    pub fn open(directory: &Path) -> Result<FileSnapshots, SnapshotStoreError> {
        let io = |error| SnapshotStoreError::Io { path: directory.to_owned(), error };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        // Snapshots hold the whole state: readable by the server's user only, like the log.
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(directory).map_err(io)?;
        for item in fs::read_dir(directory).map_err(io)? {
            let path = item.map_err(io)?.path();
            if path.extension().is_some_and(|extension| extension == "partial") {
                fs::remove_file(&path).map_err(|error| SnapshotStoreError::Io { path: path.clone(), error })?;
            }
        }
        Ok(FileSnapshots { directory: directory.to_owned() })
    }

    /// Opens an existing directory of snapshots to read, changing nothing in it (the audit, which may
    /// run beside a server writing a snapshot).
    pub fn open_read_only(directory: &Path) -> Result<FileSnapshots, SnapshotStoreError> {
        fs::read_dir(directory).map_err(|error| SnapshotStoreError::Io { path: directory.to_owned(), error })?;
        Ok(FileSnapshots { directory: directory.to_owned() })
    }

    /// The path of the snapshot at `sequence`. Zero-padded, so that names sort as sequences do.
    pub fn path(&self, sequence: u64) -> PathBuf {
        self.directory.join(format!("{sequence:020}.{EXTENSION}"))
    }

    fn sync_directory(&self) -> Result<(), SnapshotStoreError> {
        // A rename is durable only once the directory holding it is synced.
        fs::File::open(&self.directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|error| SnapshotStoreError::Io { path: self.directory.clone(), error })
    }
}

impl SnapshotStore for FileSnapshots {
    fn list(&self) -> Result<Vec<u64>, SnapshotStoreError> {
        let io = |error| SnapshotStoreError::Io { path: self.directory.clone(), error };
        let mut sequences = Vec::new();
        for item in fs::read_dir(&self.directory).map_err(io)? {
            let path = item.map_err(io)?.path();
            if path.extension().is_some_and(|extension| extension == EXTENSION)
                && let Some(sequence) = path.file_stem().and_then(|stem| stem.to_str()?.parse::<u64>().ok())
            {
                sequences.push(sequence);
            }
        }
        sequences.sort_unstable_by(|left, right| right.cmp(left));
        Ok(sequences)
    }

    fn read(&self, sequence: u64) -> Result<Snapshot, SnapshotStoreError> {
        let path = self.path(sequence);
        let io = |error| SnapshotStoreError::Io { path: path.clone(), error };
        let mut file = fs::File::open(&path).map_err(io)?;
        let length = file.metadata().map_err(io)?.len() as usize;
        // The header apart, so that the body (hundreds of MiB) is read once into its own buffer
        // rather than copied out of the file's.
        let mut header = Vec::with_capacity(HEADER_BYTES);
        (&mut file).take(HEADER_BYTES as u64).read_to_end(&mut header).map_err(io)?;
        let mut body = Vec::with_capacity(length.saturating_sub(HEADER_BYTES));
        file.read_to_end(&mut body).map_err(io)?;
        decode_file(sequence, &header, body)
    }

    fn save(&self, snapshot: &Snapshot, keep: usize) -> Result<(), SnapshotStoreError> {
        let path = self.path(snapshot.sequence);
        let partial = path.with_extension("partial");
        let io = |error| SnapshotStoreError::Io { path: partial.clone(), error };
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial).map_err(io)?;
        file.write_all(&encode_header(snapshot)).map_err(io)?;
        file.write_all(&snapshot.body).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        fs::rename(&partial, &path).map_err(|error| SnapshotStoreError::Io { path: path.clone(), error })?;
        self.sync_directory()?;
        for older in self.list()?.into_iter().skip(keep.max(1)) {
            let path = self.path(older);
            fs::remove_file(&path).map_err(|error| SnapshotStoreError::Io { path, error })?;
        }
        Ok(())
    }
}

fn encode_header(snapshot: &Snapshot) -> Vec<u8> {
    let mut header = Vec::with_capacity(HEADER_BYTES);
    header.extend_from_slice(FILE_MAGIC);
    header.extend_from_slice(&snapshot.sequence.to_le_bytes());
    header.extend_from_slice(&snapshot.chain.0);
    header.extend_from_slice(&snapshot.state_hash);
    header.extend_from_slice(&(snapshot.body.len() as u64).to_le_bytes());
    header
}

/// Splits a stored snapshot into its header's fields and its body, refusing one whose framing is
/// wrong (a file cut short, another file, one renamed to another sequence).
fn decode_file(sequence: u64, header: &[u8], body: Vec<u8>) -> Result<Snapshot, SnapshotStoreError> {
    let damaged = |reason: String| SnapshotStoreError::Damaged { sequence, reason };
    if header.len() < HEADER_BYTES || &header[..FILE_MAGIC.len()] != FILE_MAGIC {
        return Err(damaged("not a snapshot file of this version".to_owned()));
    }
    let field = |from: usize, length: usize| &header[from..from + length];
    let stored_sequence = u64::from_le_bytes(field(16, 8).try_into().expect("8 bytes"));
    let chain = ChainHash(field(24, 32).try_into().expect("32 bytes"));
    let state_hash: [u8; 32] = field(56, 32).try_into().expect("32 bytes");
    let body_length = u64::from_le_bytes(field(88, 8).try_into().expect("8 bytes"));
    if stored_sequence != sequence {
        return Err(damaged(format!("the file names entry {stored_sequence}")));
    }
    if body_length != body.len() as u64 {
        return Err(damaged(format!("{} body bytes where the header says {body_length}", body.len())));
    }
    Ok(Snapshot { sequence, chain, state_hash, body })
}

/// Snapshots in memory, for tests and the simulator.
#[derive(Debug, Default)]
pub struct MemorySnapshots {
    snapshots: Mutex<std::collections::BTreeMap<u64, Snapshot>>,
}

impl MemorySnapshots {
    /// Replaces the body of a stored snapshot, to test what recovery makes of a damaged one.
    pub fn damage(&self, sequence: u64, body: Vec<u8>) {
        if let Some(snapshot) = self.snapshots.lock().expect("snapshots lock").get_mut(&sequence) {
            snapshot.body = body;
        }
    }
}

impl SnapshotStore for MemorySnapshots {
    fn list(&self) -> Result<Vec<u64>, SnapshotStoreError> {
        Ok(self.snapshots.lock().expect("snapshots lock").keys().rev().copied().collect())
    }

    fn read(&self, sequence: u64) -> Result<Snapshot, SnapshotStoreError> {
        self.snapshots
            .lock()
            .expect("snapshots lock")
            .get(&sequence)
            .cloned()
            .ok_or_else(|| SnapshotStoreError::Damaged { sequence, reason: "no such snapshot".to_owned() })
    }

    fn save(&self, snapshot: &Snapshot, keep: usize) -> Result<(), SnapshotStoreError> {
        let mut snapshots = self.snapshots.lock().expect("snapshots lock");
        snapshots.insert(snapshot.sequence, snapshot.clone());
        while snapshots.len() > keep.max(1) {
            snapshots.pop_first();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(sequence: u64) -> Snapshot {
        Snapshot {
            sequence,
            chain: ChainHash([sequence as u8; 32]),
            state_hash: [!(sequence as u8); 32],
            body: vec![sequence as u8; 100 + sequence as usize],
        }
    }

    #[test]
    fn files_keep_the_newest_and_read_back_what_was_saved() {
        let directory = tempfile::tempdir().unwrap();
        let store = FileSnapshots::open(directory.path()).unwrap();
        for sequence in [10, 30, 20] {
            store.save(&snapshot(sequence), 2).unwrap();
        }
        assert_eq!(store.list().unwrap(), vec![30, 20]);
        assert_eq!(store.read(30).unwrap(), snapshot(30));
        assert_eq!(store.read(20).unwrap(), snapshot(20));
    }

    #[test]
    fn damaged_files_are_reported_with_their_sequence() {
        let directory = tempfile::tempdir().unwrap();
        let store = FileSnapshots::open(directory.path()).unwrap();
        store.save(&snapshot(7), 3).unwrap();
        store.save(&snapshot(8), 3).unwrap();
        store.save(&snapshot(9), 3).unwrap();
        // Cut short.
        let bytes = fs::read(store.path(9)).unwrap();
        fs::write(store.path(9), &bytes[..bytes.len() - 1]).unwrap();
        // Renamed to another sequence.
        fs::rename(store.path(8), store.path(5)).unwrap();
        // Not a snapshot at all.
        fs::write(store.path(7), b"hello").unwrap();
        for (sequence, expected) in [(9, "body bytes"), (5, "names entry 8"), (7, "not a snapshot")] {
            match store.read(sequence) {
                Err(SnapshotStoreError::Damaged { sequence: reported, reason }) => {
                    assert_eq!(reported, sequence);
                    assert!(reason.contains(expected), "{reason}");
                }
                other => panic!("snapshot {sequence}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_half_written_snapshot_is_removed_on_open_and_never_listed() {
        let directory = tempfile::tempdir().unwrap();
        let store = FileSnapshots::open(directory.path()).unwrap();
        store.save(&snapshot(4), 2).unwrap();
        let partial = store.path(6).with_extension("partial");
        fs::write(&partial, b"half").unwrap();
        assert_eq!(store.list().unwrap(), vec![4]);
        let store = FileSnapshots::open(directory.path()).unwrap();
        assert!(!partial.exists());
        assert_eq!(store.list().unwrap(), vec![4]);
    }

    #[test]
    fn memory_snapshots_keep_the_newest() {
        let store = MemorySnapshots::default();
        for sequence in 1..=5 {
            store.save(&snapshot(sequence), 2).unwrap();
        }
        assert_eq!(store.list().unwrap(), vec![5, 4]);
        assert_eq!(store.read(4).unwrap(), snapshot(4));
        assert!(matches!(store.read(1), Err(SnapshotStoreError::Damaged { .. })));
    }
}
