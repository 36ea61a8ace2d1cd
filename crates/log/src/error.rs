//! Errors, one enum per operation, each saying what the operator can do about it.

use std::fmt;

/// The log could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The database could not be opened or its schema created.
    Database(rusqlite::Error),
    /// The database was written by an incompatible version of Colony.
    IncompatibleFormat {
        /// The format found.
        found: i64,
        /// The format this build reads.
        supported: i64,
    },
    /// The log is damaged; nothing may be written onto it.
    Damaged(ReadError),
    /// A second handle was asked of a log that lives only in one connection's memory.
    NoFile,
    /// The thread that checkpoints the write-ahead log could not be started.
    Thread(std::io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Database(error) => write!(formatter, "cannot open the command log: {error}"),
            OpenError::IncompatibleFormat { found, supported } => {
                write!(formatter, "the command log has format {found}; this build reads format {supported}")
            }
            OpenError::Damaged(error) => write!(formatter, "the command log is damaged: {error}"),
            OpenError::NoFile => formatter.write_str("the command log has no file to open a second handle on"),
            OpenError::Thread(error) => write!(formatter, "cannot start the command log's checkpoint thread: {error}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<rusqlite::Error> for OpenError {
    fn from(error: rusqlite::Error) -> Self {
        OpenError::Database(error)
    }
}

/// Records could not be appended. Nothing was appended.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppendError {
    /// The records do not continue the log's sequence.
    OutOfSequence {
        /// The sequence number expected next.
        expected: u64,
        /// The sequence number offered.
        found: u64,
    },
    /// The database failed; durability of this batch is unknown, and the writer must stop.
    Database(rusqlite::Error),
    /// The storage failed (a device error, or the process died during the write); durability of
    /// this batch is unknown, and the writer must stop.
    Storage(String),
}

impl fmt::Display for AppendError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::OutOfSequence { expected, found } => {
                write!(formatter, "append out of sequence: expected {expected}, got {found}")
            }
            AppendError::Database(error) => write!(formatter, "cannot append to the command log: {error}"),
            AppendError::Storage(reason) => write!(formatter, "cannot append to the command log: {reason}"),
        }
    }
}

impl std::error::Error for AppendError {}

/// Records could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// A record failed its checksum or is malformed: the log is damaged at this entry.
    Corrupt {
        /// The damaged entry.
        sequence: u64,
        /// What is wrong.
        reason: String,
    },
    /// An entry is missing: the log was truncated or tampered with.
    Missing {
        /// The missing entry.
        sequence: u64,
    },
    /// The log ends before the entry its head records: entries were removed from the end.
    Truncated {
        /// The last entry the head records.
        recorded: u64,
        /// The last entry found.
        found: u64,
    },
    /// The record of the log's head is gone.
    HeadMissing,
    /// The file is damaged where these entries are stored: the database cannot read them.
    Unreadable {
        /// The first unreadable entry.
        first: u64,
        /// The last unreadable entry of the damaged run.
        last: u64,
        /// What the database said.
        reason: String,
    },
    /// The database failed.
    Database(rusqlite::Error),
}

impl ReadError {
    /// The first entry the damage touches, where there is one.
    pub fn sequence(&self) -> Option<u64> {
        match self {
            ReadError::Corrupt { sequence, .. } | ReadError::Missing { sequence } => Some(*sequence),
            ReadError::Truncated { found, .. } => Some(found + 1),
            ReadError::Unreadable { first, .. } => Some(*first),
            ReadError::HeadMissing | ReadError::Database(_) => None,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Corrupt { sequence, reason } => write!(formatter, "log entry {sequence} is corrupt: {reason}"),
            ReadError::Missing { sequence } => write!(formatter, "log entry {sequence} is missing"),
            ReadError::Truncated { recorded, found } => write!(
                formatter,
                "the log ends at entry {found} but its head records entry {recorded}: entries {}..={recorded} were \
                 removed from its end",
                found + 1
            ),
            ReadError::HeadMissing => formatter.write_str("the record of the log's head is missing"),
            ReadError::Unreadable { first, last, reason } if first == last => {
                write!(formatter, "log entry {first} is unreadable, the file is damaged there: {reason}")
            }
            ReadError::Unreadable { first, last, reason } => {
                write!(formatter, "log entries {first}..={last} are unreadable, the file is damaged there: {reason}")
            }
            ReadError::Database(error) => write!(formatter, "cannot read the command log: {error}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<rusqlite::Error> for ReadError {
    fn from(error: rusqlite::Error) -> Self {
        ReadError::Database(error)
    }
}
