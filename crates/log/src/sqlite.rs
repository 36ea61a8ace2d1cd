//! The embedded backend: one SQLite database per swarm.
//!
//! SQLite in WAL mode with `synchronous=FULL` syncs the write-ahead log on every commit, so a batch
//! is durable when `append` returns. [`Durability::Relaxed`] (`synchronous=NORMAL`) skips that sync:
//! a commit is then in the operating system's cache, which survives the process being killed but not
//! the machine losing power. One transaction per batch is the group commit: a thousand
//! envelopes cost one sync.
//!
//! Each row stores its chain hash (see [`crate::chain`]), and the `head` table records the newest
//! entry and its chain hash in the same transaction as every append. SQLite's page format does not
//! checksum content, so the chain is what catches a flipped bit; the head is what catches a row
//! deleted from the end, which leaves a log that is otherwise perfectly consistent.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::chain::{ChainHash, LogHead};
use crate::error::{AppendError, OpenError, ReadError};
use crate::wal_checkpointer::{WAL_BACKSTOP_PAGES, WalCheckpointer};
use crate::{ChainedRecord, CommandLog, Record};

/// The on-disk format this build writes and reads. Format 1 (before the hash chain) had a CRC-32 per
/// row and no head; it is refused rather than converted, because a chain computed now over an old
/// log would vouch for whatever that log holds today.
pub const FORMAT_VERSION: i64 = 2;

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
    // Declared first so that it stops before the writer's connection closes (fields drop in order).
    checkpointer: Option<WalCheckpointer>,
    connection: Connection,
    head: LogHead,
}

impl SqliteLog {
    /// Opens (creating if needed) the log at `path`, every commit fsync'd.
    pub fn open(path: &Path) -> Result<SqliteLog, OpenError> {
        SqliteLog::open_with(path, Durability::Full)
    }

    /// Opens (creating if needed) the log at `path` with the given durability. A log whose recorded
    /// head disagrees with its rows (the last entry deleted or substituted, rows appended behind the
    /// head's back) is refused: writing onto it would extend a damaged history.
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
        // Checkpoints run on the checkpointer's thread; this is only the backstop (see there).
        connection.pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_PAGES)?;
        let found: Option<i64> = read_format(&connection)?;
        match found {
            None => {
                connection.execute_batch(
                    "BEGIN;
                     CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                     CREATE TABLE head (
                         id INTEGER PRIMARY KEY CHECK (id = 1),
                         sequence INTEGER NOT NULL,
                         chain BLOB NOT NULL
                     );
                     CREATE TABLE entries (
                         sequence INTEGER PRIMARY KEY,
                         timestamp_ms INTEGER NOT NULL,
                         kind INTEGER NOT NULL,
                         payload BLOB NOT NULL,
                         chain BLOB NOT NULL
                     );
",
                )?;
                connection.execute("INSERT INTO meta (key, value) VALUES ('format', ?1)", [FORMAT_VERSION])?;
                connection
                    .execute("INSERT INTO head (id, sequence, chain) VALUES (1, 0, ?1)", [&ChainHash::EMPTY.0[..]])?;
                connection.execute_batch("COMMIT;")?;
            }
            Some(found) if found != FORMAT_VERSION => {
                return Err(OpenError::IncompatibleFormat { found, supported: FORMAT_VERSION });
            }
            Some(_) => {}
        }
        let mut log = Self::from_connection(connection)?;
        log.check_head().map_err(OpenError::Damaged)?;
        log.checkpointer = Some(WalCheckpointer::start(path, synchronous)?);
        Ok(log)
    }

    /// Opens an existing log without writing to it (for offline audits of a stopped server). A
    /// damaged log is opened all the same, so that [`crate::verify`] can say where it is damaged.
    pub fn open_read_only(path: &Path) -> Result<SqliteLog, OpenError> {
        let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let found = read_format(&connection)?;
        if found != Some(FORMAT_VERSION) {
            return Err(OpenError::IncompatibleFormat { found: found.unwrap_or(0), supported: FORMAT_VERSION });
        }
        Self::from_connection(connection)
    }

    /// Reads the head again, so that a read-only handle kept open (for proofs) reaches entries
    /// appended since it was opened.
    pub fn reload_head(&mut self) -> Result<(), ReadError> {
        self.head = read_head(&self.connection)?;
        Ok(())
    }

    fn from_connection(connection: Connection) -> Result<SqliteLog, OpenError> {
        let head = read_head(&connection)?;
        Ok(SqliteLog { checkpointer: None, connection, head })
    }
}

/// The head the log records, or (when its row is missing, which `check_head` reports) how far the
/// rows go.
fn read_head(connection: &Connection) -> Result<LogHead, rusqlite::Error> {
    let head = connection
        .query_row("SELECT sequence, chain FROM head WHERE id = 1", [], |row| {
            Ok((row.get::<_, i64>(0)? as u64, row.get::<_, Vec<u8>>(1)?))
        })
        .optional()?;
    Ok(match head {
        Some((sequence, chain)) => LogHead { sequence, chain: ChainHash(chain.try_into().unwrap_or([0; 32])) },
        None => {
            let last: Option<i64> = connection.query_row("SELECT MAX(sequence) FROM entries", [], |row| row.get(0))?;
            LogHead { sequence: last.map_or(0, |value| value as u64), chain: ChainHash::EMPTY }
        }
    })
}

impl SqliteLog {
    /// The stored chain hash of one entry (0: the empty chain), as recorded, not recomputed.
    fn stored_chain(&self, sequence: u64) -> Result<ChainHash, ReadError> {
        if sequence == 0 {
            return Ok(ChainHash::EMPTY);
        }
        let chain: Option<Vec<u8>> = self
            .connection
            .query_row("SELECT chain FROM entries WHERE sequence = ?1", [sequence as i64], |row| row.get(0))
            .optional()
            .map_err(|error| self.database_error(sequence, error))?;
        let chain = chain.ok_or(ReadError::Missing { sequence })?;
        chain_from_bytes(sequence, chain)
    }

    /// Turns a database error met while reading from `sequence` on into a report of which entries
    /// are unreadable, when the cause is a damaged file.
    fn database_error(&self, sequence: u64, error: rusqlite::Error) -> ReadError {
        if !is_corruption(&error) {
            return ReadError::Database(error);
        }
        let reason = error.to_string();
        // Probe row by row: a damaged page fails the lookups of the rows it held (or of every row
        // under it, for an interior page) and no others. The report is the first run of failing rows.
        let mut first = None;
        let mut last = sequence;
        for probe in sequence..=self.head.sequence {
            let lookup = self.connection.query_row(
                "SELECT length(payload), chain FROM entries WHERE sequence = ?1",
                [probe as i64],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
            );
            let broken = matches!(&lookup, Err(error) if is_corruption(error));
            match (broken, first) {
                (true, None) => {
                    first = Some(probe);
                    last = probe;
                }
                (true, Some(_)) => last = probe,
                (false, Some(_)) => break,
                (false, None) => {}
            }
        }
        let first = first.unwrap_or(sequence);
        ReadError::Unreadable { first, last: last.max(first), reason }
    }
}

fn read_format(connection: &Connection) -> Result<Option<i64>, rusqlite::Error> {
    let meta_exists: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |row| row.get(0),
    )?;
    if !meta_exists {
        return Ok(None);
    }
    connection.query_row("SELECT value FROM meta WHERE key = 'format'", [], |row| row.get(0)).optional()
}

fn is_corruption(error: &rusqlite::Error) -> bool {
    matches!(error.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase))
}

fn chain_from_bytes(sequence: u64, bytes: Vec<u8>) -> Result<ChainHash, ReadError> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| ReadError::Corrupt { sequence, reason: "its stored chain hash is not 32 bytes".to_owned() })?;
    Ok(ChainHash(bytes))
}

/// A row of `entries` as stored: sequence, timestamp, kind, payload, chain hash.
type StoredRow = (u64, u64, i64, Vec<u8>, Vec<u8>);

/// Reads rows from `from` on, in order, checking that each follows the previous one without a gap
/// and that its stored chain hash is the one its record and its predecessor's chain give. `visit` is
/// called with each verified record; it stops early by returning `false`.
fn scan(
    log: &SqliteLog,
    from: u64,
    limit: Option<usize>,
    mut visit: impl FnMut(ChainedRecord) -> Result<bool, ReadError>,
) -> Result<LogHead, ReadError> {
    let mut previous = log.stored_chain(from - 1)?;
    let mut expected = from;
    let mut select = log
        .connection
        .prepare_cached(
            "SELECT sequence, timestamp_ms, kind, payload, chain FROM entries
             WHERE sequence >= ?1 AND sequence <= ?3 ORDER BY sequence LIMIT ?2",
        )
        .map_err(|error| log.database_error(from, error))?;
    let limit = limit.map_or(-1, |limit| limit as i64);
    // Up to the handle's head only: a reader opened beside the writer sees one consistent history,
    // the one it found when it last read the head, however far the writer has gone since.
    let mut rows = select
        .query(params![from as i64, limit, log.head.sequence as i64])
        .map_err(|error| log.database_error(from, error))?;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(error) => return Err(log.database_error(expected, error)),
        };
        let decoded = (|| -> Result<StoredRow, rusqlite::Error> {
            Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64, row.get(2)?, row.get(3)?, row.get(4)?))
        })();
        let (sequence, timestamp_ms, kind, payload, chain) =
            decoded.map_err(|error| log.database_error(expected, error))?;
        if sequence != expected {
            return Err(ReadError::Missing { sequence: expected });
        }
        let kind = u8::try_from(kind)
            .map_err(|_| ReadError::Corrupt { sequence, reason: format!("record kind {kind} out of range") })?;
        let record = Record { sequence, timestamp_ms, kind, payload };
        let stored = chain_from_bytes(sequence, chain)?;
        let computed = previous.next(&record.digest());
        if stored != computed {
            return Err(ReadError::Corrupt {
                sequence,
                reason: format!(
                    "its chain hash does not follow from entry {}: the entry was changed, reordered or substituted",
                    sequence - 1
                ),
            });
        }
        previous = computed;
        expected += 1;
        if !visit(ChainedRecord { record, chain: computed })? {
            break;
        }
    }
    Ok(LogHead { sequence: expected - 1, chain: previous })
}

impl CommandLog for SqliteLog {
    fn head(&self) -> LogHead {
        self.head
    }

    fn check_head(&self) -> Result<(), ReadError> {
        let recorded = self
            .connection
            .query_row("SELECT sequence, chain FROM head WHERE id = 1", [], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get::<_, Vec<u8>>(1)?))
            })
            .optional()?;
        let Some((recorded_sequence, recorded_chain)) = recorded else {
            return Err(ReadError::HeadMissing);
        };
        let last: Option<(i64, Vec<u8>)> = self
            .connection
            .query_row("SELECT sequence, chain FROM entries ORDER BY sequence DESC LIMIT 1", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        let (last_sequence, last_chain) =
            last.map_or((0, ChainHash::EMPTY.0.to_vec()), |(sequence, chain)| (sequence as u64, chain));
        if last_sequence < recorded_sequence {
            return Err(ReadError::Truncated { recorded: recorded_sequence, found: last_sequence });
        }
        if last_sequence > recorded_sequence {
            return Err(ReadError::Corrupt {
                sequence: recorded_sequence + 1,
                reason: format!(
                    "the log's head records entry {recorded_sequence}, but entries up to {last_sequence} follow it"
                ),
            });
        }
        if last_chain != recorded_chain {
            return Err(ReadError::Corrupt {
                sequence: recorded_sequence,
                reason: "its chain hash differs from the one the log's head records: the last entry was changed or \
                         substituted"
                    .to_owned(),
            });
        }
        Ok(())
    }

    fn append(&mut self, records: &[Record]) -> Result<Vec<ChainHash>, AppendError> {
        let chains = crate::chain_appended(self.head, records)?;
        let (Some(&chain), Some(last)) = (chains.last(), records.last()) else {
            return Ok(chains);
        };
        let transaction = self.connection.transaction().map_err(AppendError::Database)?;
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO entries (sequence, timestamp_ms, kind, payload, chain) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(AppendError::Database)?;
            for (record, chain) in records.iter().zip(&chains) {
                insert
                    .execute(params![
                        record.sequence as i64,
                        record.timestamp_ms as i64,
                        record.kind,
                        record.payload,
                        &chain.0[..]
                    ])
                    .map_err(AppendError::Database)?;
            }
            transaction
                .execute(
                    "UPDATE head SET sequence = ?1, chain = ?2 WHERE id = 1",
                    params![last.sequence as i64, &chain.0[..]],
                )
                .map_err(AppendError::Database)?;
        }
        transaction.commit().map_err(AppendError::Database)?;
        self.head = LogHead { sequence: last.sequence, chain };
        if let Some(checkpointer) = &mut self.checkpointer {
            checkpointer.appended(records.iter().map(|record| record.payload.len() as u64).sum());
        }
        Ok(chains)
    }

    fn read(&self, from: u64, max: usize) -> Result<Vec<ChainedRecord>, ReadError> {
        let mut records = Vec::with_capacity(max.min(65_536));
        if from > self.head.sequence || max == 0 {
            return Ok(records);
        }
        scan(self, from, Some(max), |record| {
            records.push(record);
            Ok(true)
        })?;
        if records.len() < max && from + (records.len() as u64) <= self.head.sequence {
            return Err(ReadError::Missing { sequence: from + records.len() as u64 });
        }
        Ok(records)
    }

    fn open_reader(&self) -> Result<Box<dyn CommandLog>, OpenError> {
        let path = self.connection.path().ok_or(OpenError::NoFile)?;
        Ok(Box::new(SqliteLog::open_read_only(Path::new(path))?))
    }
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

    fn records(range: std::ops::RangeInclusive<u64>) -> Vec<Record> {
        range.map(record).collect()
    }

    fn verify_all(log: &SqliteLog) -> Result<LogHead, ReadError> {
        crate::verify(log, |_| Ok::<(), ReadError>(()))
    }

    fn plain(chained: Vec<ChainedRecord>) -> Vec<Record> {
        chained.into_iter().map(|chained| chained.record).collect()
    }

    fn written(count: u64) -> (tempfile::TempDir, std::path::PathBuf) {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("log.db");
        let mut log = SqliteLog::open(&path).unwrap();
        log.append(&records(1..=count)).unwrap();
        (directory, path)
    }

    /// Changes the file behind the log's back, as someone with the disk could.
    fn tamper(path: &Path, sql: &str) {
        Connection::open(path).unwrap().execute_batch(sql).unwrap();
    }

    #[test]
    fn appended_records_read_back_in_order_with_their_chain_after_reopening() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("log.db");
        let chains = {
            let mut log = SqliteLog::open(&path).unwrap();
            let mut chains = log.append(&records(1..=10)).unwrap();
            chains.extend(log.append(&[record(11)]).unwrap());
            chains
        };
        let log = SqliteLog::open(&path).unwrap();
        assert_eq!(log.head(), LogHead { sequence: 11, chain: chains[10] });
        let read = log.read(1, 100).unwrap();
        assert_eq!(read.iter().map(|chained| chained.chain).collect::<Vec<_>>(), chains);
        assert_eq!(plain(read), records(1..=11));
        assert_eq!(plain(log.read(5, 2).unwrap()), vec![record(5), record(6)]);
        assert!(log.read(12, 10).unwrap().is_empty());
        let digests: Vec<[u8; 32]> = records(1..=11).iter().map(Record::digest).collect();
        assert_eq!(crate::chain::fold(ChainHash::EMPTY, &digests), chains[10]);
        assert_eq!(verify_all(&log).unwrap(), log.head());
    }

    #[test]
    fn the_checkpointer_copies_the_write_ahead_log_into_the_database_while_the_writer_goes_on() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("log.db");
        let mut log = SqliteLog::open(&path).unwrap();
        let payload = vec![7u8; 64 * 1024];
        let batches = 2 * crate::wal_checkpointer::CHECKPOINT_EVERY_BYTES / (8 * 64 * 1024);
        for batch in 0..batches {
            let records: Vec<Record> = (1..=8)
                .map(|index| Record { sequence: batch * 8 + index, timestamp_ms: 1, kind: 2, payload: payload.clone() })
                .collect();
            log.append(&records).unwrap();
        }
        // Far below the writer's own backstop: only the checkpointer's thread can have copied pages.
        let database_bytes = || std::fs::metadata(&path).unwrap().len();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while database_bytes() < crate::wal_checkpointer::CHECKPOINT_EVERY_BYTES && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            database_bytes() >= crate::wal_checkpointer::CHECKPOINT_EVERY_BYTES,
            "the database file holds {} bytes: nothing was checkpointed",
            database_bytes()
        );
        assert_eq!(log.read(1, usize::MAX).unwrap().len() as u64, batches * 8);
        drop(log);
        let log = SqliteLog::open(&path).unwrap();
        assert_eq!(verify_all(&log).unwrap().sequence, batches * 8);
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
    fn a_changed_row_is_reported_with_its_sequence() {
        let (_directory, path) = written(5);
        tamper(&path, "UPDATE entries SET payload = x'00' WHERE sequence = 3");
        let log = SqliteLog::open(&path).unwrap();
        match log.read(1, 10) {
            Err(ReadError::Corrupt { sequence, .. }) => assert_eq!(sequence, 3),
            other => panic!("expected corruption at 3, got {other:?}"),
        }
        assert_eq!(verify_all(&log).unwrap_err().sequence(), Some(3));
    }

    #[test]
    fn a_deleted_middle_row_is_missing_for_reads_and_verification() {
        let (_directory, path) = written(5);
        tamper(&path, "DELETE FROM entries WHERE sequence = 4");
        let log = SqliteLog::open(&path).unwrap();
        assert!(matches!(log.read(4, 10), Err(ReadError::Missing { sequence: 4 })));
        assert!(matches!(log.read(1, 10), Err(ReadError::Missing { sequence: 4 })));
        assert!(matches!(verify_all(&log), Err(ReadError::Missing { sequence: 4 })));
    }

    #[test]
    fn a_deleted_last_row_is_refused_at_open_and_by_verification() {
        let (_directory, path) = written(5);
        tamper(&path, "DELETE FROM entries WHERE sequence = 5");
        match SqliteLog::open(&path) {
            Err(OpenError::Damaged(ReadError::Truncated { recorded: 5, found: 4 })) => {}
            Err(other) => panic!("expected a truncation, got {other}"),
            Ok(_) => panic!("a truncated log was opened for writing"),
        }
        let log = SqliteLog::open_read_only(&path).unwrap();
        let error = verify_all(&log).unwrap_err();
        assert!(matches!(error, ReadError::Truncated { recorded: 5, found: 4 }), "{error}");
        assert!(error.to_string().contains("entries 5..=5 were removed"), "{error}");
    }

    #[test]
    fn a_substituted_last_row_is_refused_even_with_a_plausible_chain() {
        let (_directory, path) = written(5);
        // A forged last entry whose chain hash is computed honestly from its predecessor: only the
        // head, written with the original, tells them apart.
        let log = SqliteLog::open_read_only(&path).unwrap();
        let fourth = log.read(4, 1).unwrap().remove(0).chain;
        let forged = Record { payload: b"forged".to_vec(), ..record(5) };
        let forged_chain = fourth.next(&forged.digest());
        drop(log);
        tamper(
            &path,
            &format!(
                "UPDATE entries SET payload = x'{}', chain = x'{}' WHERE sequence = 5",
                hex::encode(&forged.payload),
                forged_chain.to_hex()
            ),
        );
        assert!(matches!(SqliteLog::open(&path), Err(OpenError::Damaged(ReadError::Corrupt { sequence: 5, .. }))));
    }

    #[test]
    fn swapped_rows_break_the_chain_at_the_first_of_them() {
        let (_directory, path) = written(6);
        tamper(
            &path,
            "UPDATE entries SET sequence = 100 WHERE sequence = 3;
             UPDATE entries SET sequence = 3 WHERE sequence = 4;
             UPDATE entries SET sequence = 4 WHERE sequence = 100;",
        );
        let log = SqliteLog::open(&path).unwrap();
        assert_eq!(verify_all(&log).unwrap_err().sequence(), Some(3));
    }

    #[test]
    fn rows_appended_behind_the_heads_back_are_refused() {
        let (_directory, path) = written(3);
        tamper(
            &path,
            "INSERT INTO entries SELECT 4, timestamp_ms, kind, payload, chain FROM entries WHERE sequence = 3",
        );
        assert!(matches!(SqliteLog::open(&path), Err(OpenError::Damaged(ReadError::Corrupt { sequence: 4, .. }))));
    }

    #[test]
    fn a_damaged_page_is_located_by_the_entries_it_held() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("log.db");
        {
            let mut log = SqliteLog::open(&path).unwrap();
            let big = |sequence| Record { payload: vec![sequence as u8; 900], ..record(sequence) };
            log.append(&(1..=400).map(big).collect::<Vec<_>>()).unwrap();
        }
        // Closing checkpoints the WAL into the main file; pages are 4 KiB, so a page in the middle of
        // the file is a leaf of the entries table holding four rows. Its first byte is the page type.
        let mut bytes = std::fs::read(&path).unwrap();
        let page_size = 4_096;
        let page = bytes.len() / page_size / 2;
        bytes[page * page_size] = 0x7f;
        std::fs::write(&path, &bytes).unwrap();
        let log = SqliteLog::open_read_only(&path).unwrap();
        match verify_all(&log) {
            Err(ReadError::Unreadable { first, last, reason }) => {
                assert!(first > 1 && last < 400 && first <= last, "{first}..={last}");
                assert!(reason.contains("malformed"), "{reason}");
            }
            other => panic!("expected unreadable entries, got {other:?}"),
        }
    }

    #[test]
    fn a_reader_sees_what_was_appended_once_it_reloads_its_head() {
        let directory = tempfile::tempdir().unwrap();
        let mut log = SqliteLog::open(&directory.path().join("log.db")).unwrap();
        log.append(&[record(1)]).unwrap();
        let reader = log.open_reader().unwrap();
        assert_eq!(reader.head(), log.head());
        let mut second = SqliteLog::open_read_only(&directory.path().join("log.db")).unwrap();
        log.append(&[record(2)]).unwrap();
        assert_eq!(reader.last_sequence(), 1, "a reader reads up to the head it found");
        assert!(second.read(2, 1).unwrap().is_empty());
        assert_eq!(reader.read(1, 10).unwrap().len(), 1, "nor does a read from before its head pass it");
        second.reload_head().unwrap();
        assert_eq!(second.head(), log.head());
        assert_eq!(second.read(2, 1).unwrap()[0].record, record(2));
        assert!(reader.open_reader().is_ok(), "a reader can open further readers");
    }

    #[test]
    fn an_incompatible_format_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("log.db");
        let log = SqliteLog::open(&path).unwrap();
        log.connection.execute("UPDATE meta SET value = 1 WHERE key = 'format'", []).unwrap();
        drop(log);
        assert!(matches!(SqliteLog::open(&path), Err(OpenError::IncompatibleFormat { found: 1, supported: 2 })));
    }
}
