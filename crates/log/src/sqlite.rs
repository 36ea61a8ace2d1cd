//! The embedded backend: one SQLite database per swarm.
//!
//! SQLite in WAL mode with `synchronous=FULL` syncs the write-ahead log on every commit, so a batch
//! is durable when `append` returns. [`Durability::Relaxed`] (`synchronous=NORMAL`) skips that sync:
//! a commit is then in the operating system's cache, which survives the process being killed but not
//! the machine losing power. One transaction per batch is the group commit: a thousand
//! envelopes cost one sync. Each row carries a CRC-32 of its fields; SQLite's own page format does not
//! checksum content, so without it a flipped bit would be read back as a different command.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::error::{AppendError, OpenError, ReadError, SnapshotStoreError};
use crate::{CommandLog, DamagedSnapshot, Record, Snapshot};

/// The on-disk format this build writes and reads.
const FORMAT_VERSION: i64 = 1;

/// How far a commit has gone when `append` returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// On stable storage (fsync per group commit): survives power loss.
    #[default]
    Full,
    /// In the operating system's cache (no fsync per commit; WAL checkpoints still sync): survives a
    /// crash or kill of the process, not of the machine. The durability NATS JetStream has by default.
    Relaxed,
}

/// The SQLite command log.
pub struct SqliteLog {
    connection: Connection,
    last_sequence: u64,
}

impl SqliteLog {
    /// Opens (creating if needed) the log at `path`, every commit fsync'd.
    pub fn open(path: &Path) -> Result<SqliteLog, OpenError> {
        SqliteLog::open_with(path, Durability::Full)
    }

    /// Opens (creating if needed) the log at `path` with the given durability.
    pub fn open_with(path: &Path, durability: Durability) -> Result<SqliteLog, OpenError> {
        let connection = Connection::open(path)?;
        // WAL lets readers (audit tooling, backups) work beside the writer; FULL makes each commit
        // durable. The busy timeout covers a checkpoint by another connection.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Relaxed => "NORMAL",
        };
        connection.pragma_update(None, "synchronous", synchronous)?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS entries (
                 sequence INTEGER PRIMARY KEY,
                 timestamp_ms INTEGER NOT NULL,
                 kind INTEGER NOT NULL,
                 payload BLOB NOT NULL,
                 checksum INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS snapshots (
                 sequence INTEGER PRIMARY KEY,
                 state_hash BLOB NOT NULL,
                 body BLOB NOT NULL,
                 checksum INTEGER NOT NULL
             );",
        )?;
        let found: Option<i64> =
            connection.query_row("SELECT value FROM meta WHERE key = 'format'", [], |row| row.get(0)).optional()?;
        match found {
            None => {
                connection.execute("INSERT INTO meta (key, value) VALUES ('format', ?1)", [FORMAT_VERSION])?;
            }
            Some(found) if found != FORMAT_VERSION => {
                return Err(OpenError::IncompatibleFormat { found, supported: FORMAT_VERSION });
            }
            Some(_) => {}
        }
        Self::from_connection(connection)
    }

    /// Opens an existing log without writing to it (for offline audits of a stopped server).
    pub fn open_read_only(path: &Path) -> Result<SqliteLog, OpenError> {
        let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let found: Option<i64> =
            connection.query_row("SELECT value FROM meta WHERE key = 'format'", [], |row| row.get(0)).optional()?;
        if found != Some(FORMAT_VERSION) {
            return Err(OpenError::IncompatibleFormat { found: found.unwrap_or(0), supported: FORMAT_VERSION });
        }
        Self::from_connection(connection)
    }

    fn from_connection(connection: Connection) -> Result<SqliteLog, OpenError> {
        let last: Option<i64> = connection.query_row("SELECT MAX(sequence) FROM entries", [], |row| row.get(0))?;
        Ok(SqliteLog { connection, last_sequence: last.map_or(0, |value| value as u64) })
    }
}

impl CommandLog for SqliteLog {
    fn last_sequence(&self) -> u64 {
        self.last_sequence
    }

    fn append(&mut self, records: &[Record]) -> Result<(), AppendError> {
        let mut expected = self.last_sequence + 1;
        for record in records {
            if record.sequence != expected {
                return Err(AppendError::OutOfSequence { expected, found: record.sequence });
            }
            expected += 1;
        }
        if records.is_empty() {
            return Ok(());
        }
        let transaction = self.connection.transaction().map_err(AppendError::Database)?;
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO entries (sequence, timestamp_ms, kind, payload, checksum) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(AppendError::Database)?;
            for record in records {
                insert
                    .execute(params![
                        record.sequence as i64,
                        record.timestamp_ms as i64,
                        record.kind,
                        record.payload,
                        record.checksum()
                    ])
                    .map_err(AppendError::Database)?;
            }
        }
        transaction.commit().map_err(AppendError::Database)?;
        self.last_sequence = expected - 1;
        Ok(())
    }

    fn read(&self, from: u64, max: usize) -> Result<Vec<Record>, ReadError> {
        let mut select = self.connection.prepare_cached(
            "SELECT sequence, timestamp_ms, kind, payload, checksum FROM entries
             WHERE sequence >= ?1 ORDER BY sequence LIMIT ?2",
        )?;
        let mut rows = select.query(params![from as i64, max as i64])?;
        let mut records = Vec::with_capacity(max.min(65_536));
        let mut expected = from;
        while let Some(row) = rows.next()? {
            let sequence = row.get::<_, i64>(0)? as u64;
            if sequence != expected {
                return Err(ReadError::Missing { sequence: expected });
            }
            let kind: i64 = row.get(2)?;
            let kind = u8::try_from(kind)
                .map_err(|_| ReadError::Corrupt { sequence, reason: format!("record kind {kind} out of range") })?;
            let record = Record { sequence, timestamp_ms: row.get::<_, i64>(1)? as u64, kind, payload: row.get(3)? };
            let stored: u32 = row.get(4)?;
            let computed = record.checksum();
            if stored != computed {
                return Err(ReadError::Corrupt {
                    sequence,
                    reason: format!("checksum mismatch (stored {stored:08x}, computed {computed:08x})"),
                });
            }
            records.push(record);
            expected += 1;
        }
        if records.len() < max && expected <= self.last_sequence {
            return Err(ReadError::Missing { sequence: expected });
        }
        Ok(records)
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot, keep: usize) -> Result<(), SnapshotStoreError> {
        let transaction = self.connection.transaction()?;
        transaction.execute(
            "INSERT OR REPLACE INTO snapshots (sequence, state_hash, body, checksum) VALUES (?1, ?2, ?3, ?4)",
            params![
                snapshot.sequence as i64,
                &snapshot.state_hash[..],
                snapshot.body,
                snapshot_checksum(snapshot.sequence, &snapshot.state_hash, &snapshot.body)
            ],
        )?;
        transaction.execute(
            "DELETE FROM snapshots WHERE sequence NOT IN (SELECT sequence FROM snapshots ORDER BY sequence DESC LIMIT ?1)",
            [keep.max(1) as i64],
        )?;
        transaction.commit()?;
        Ok(())
    }

    fn snapshots(&self) -> Result<(Vec<Snapshot>, Vec<DamagedSnapshot>), SnapshotStoreError> {
        let mut select = self
            .connection
            .prepare("SELECT sequence, state_hash, body, checksum FROM snapshots ORDER BY sequence DESC")?;
        let mut rows = select.query([])?;
        let mut good = Vec::new();
        let mut damaged = Vec::new();
        while let Some(row) = rows.next()? {
            let sequence = row.get::<_, i64>(0)? as u64;
            let hash: Vec<u8> = row.get(1)?;
            let body: Vec<u8> = row.get(2)?;
            let stored: u32 = row.get(3)?;
            let Ok(state_hash) = <[u8; 32]>::try_from(hash.as_slice()) else {
                damaged.push(DamagedSnapshot { sequence, reason: "state hash is not 32 bytes".to_owned() });
                continue;
            };
            if snapshot_checksum(sequence, &state_hash, &body) != stored {
                damaged.push(DamagedSnapshot { sequence, reason: "checksum mismatch".to_owned() });
                continue;
            }
            good.push(Snapshot { sequence, state_hash, body });
        }
        Ok((good, damaged))
    }
}

fn snapshot_checksum(sequence: u64, state_hash: &[u8; 32], body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&sequence.to_le_bytes());
    hasher.update(state_hash);
    hasher.update(body);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sequence: u64) -> Record {
        Record {
            sequence,
            timestamp_ms: 1_000 + sequence,
            kind: 2,
            payload: format!("payload-{sequence}").into_bytes(),
        }
    }

    #[test]
    fn appended_records_read_back_in_order_after_reopening() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("log.db");
        {
            let mut log = SqliteLog::open(&path).unwrap();
            log.append(&(1..=10).map(record).collect::<Vec<_>>()).unwrap();
            log.append(&[record(11)]).unwrap();
        }
        let log = SqliteLog::open(&path).unwrap();
        assert_eq!(log.last_sequence(), 11);
        assert_eq!(log.read(1, 100).unwrap(), (1..=11).map(record).collect::<Vec<_>>());
        assert_eq!(log.read(5, 2).unwrap(), vec![record(5), record(6)]);
        assert!(log.read(12, 10).unwrap().is_empty());
    }

    #[test]
    fn appends_out_of_sequence_are_refused_whole() {
        let directory = tempfile::tempdir().unwrap();
        let mut log = SqliteLog::open(&directory.path().join("log.db")).unwrap();
        log.append(&[record(1)]).unwrap();
        let error = log.append(&[record(2), record(4)]).unwrap_err();
        assert!(matches!(error, AppendError::OutOfSequence { expected: 3, found: 4 }));
        assert_eq!(log.last_sequence(), 1);
        assert_eq!(log.read(1, 10).unwrap().len(), 1);
    }

    #[test]
    fn a_damaged_row_is_reported_with_its_sequence() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("log.db");
        let mut log = SqliteLog::open(&path).unwrap();
        log.append(&(1..=5).map(record).collect::<Vec<_>>()).unwrap();
        log.connection.execute("UPDATE entries SET payload = x'00' WHERE sequence = 3", []).unwrap();
        match log.read(1, 10) {
            Err(ReadError::Corrupt { sequence, .. }) => assert_eq!(sequence, 3),
            other => panic!("expected corruption at 3, got {other:?}"),
        }
        log.connection.execute("DELETE FROM entries WHERE sequence = 4", []).unwrap();
        match log.read(4, 10) {
            Err(ReadError::Missing { sequence }) => assert_eq!(sequence, 4),
            other => panic!("expected entry 4 missing, got {other:?}"),
        }
    }

    #[test]
    fn snapshots_keep_the_newest_and_report_damage() {
        let directory = tempfile::tempdir().unwrap();
        let mut log = SqliteLog::open(&directory.path().join("log.db")).unwrap();
        for sequence in [10, 20, 30] {
            let snapshot = Snapshot { sequence, state_hash: [sequence as u8; 32], body: vec![1, 2, 3] };
            log.save_snapshot(&snapshot, 2).unwrap();
        }
        let (good, damaged) = log.snapshots().unwrap();
        assert_eq!(good.iter().map(|snapshot| snapshot.sequence).collect::<Vec<_>>(), vec![30, 20]);
        assert!(damaged.is_empty());
        log.connection.execute("UPDATE snapshots SET body = x'09' WHERE sequence = 30", []).unwrap();
        let (good, damaged) = log.snapshots().unwrap();
        assert_eq!(good.iter().map(|snapshot| snapshot.sequence).collect::<Vec<_>>(), vec![20]);
        assert_eq!(damaged[0].sequence, 30);
    }

    #[test]
    fn an_incompatible_format_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("log.db");
        let log = SqliteLog::open(&path).unwrap();
        log.connection.execute("UPDATE meta SET value = 99 WHERE key = 'format'", []).unwrap();
        drop(log);
        assert!(matches!(SqliteLog::open(&path), Err(OpenError::IncompatibleFormat { found: 99, .. })));
    }
}
