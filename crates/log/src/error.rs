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
}

impl fmt::Display for OpenError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Database(error) => write!(formatter, "cannot open the command log: {error}"),
            OpenError::IncompatibleFormat { found, supported } => {
                write!(formatter, "the command log has format {found}; this build reads format {supported}")
            }
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
}

impl fmt::Display for AppendError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::OutOfSequence { expected, found } => {
                write!(formatter, "append out of sequence: expected {expected}, got {found}")
            }
            AppendError::Database(error) => write!(formatter, "cannot append to the command log: {error}"),
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
    /// The database failed.
    Database(rusqlite::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Corrupt { sequence, reason } => write!(formatter, "log entry {sequence} is corrupt: {reason}"),
            ReadError::Missing { sequence } => write!(formatter, "log entry {sequence} is missing"),
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

/// A snapshot could not be stored or listed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotStoreError {
    /// The database failed.
    Database(rusqlite::Error),
}

impl fmt::Display for SnapshotStoreError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotStoreError::Database(error) => write!(formatter, "snapshot store: {error}"),
        }
    }
}

impl std::error::Error for SnapshotStoreError {}

impl From<rusqlite::Error> for SnapshotStoreError {
    fn from(error: rusqlite::Error) -> Self {
        SnapshotStoreError::Database(error)
    }
}
