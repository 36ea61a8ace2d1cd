//! WAL checkpoints on a thread of their own, off the writer's path.
//!
//! In WAL mode every commit appends to the write-ahead log, and a checkpoint copies those pages into
//! the database file and syncs it, so that the log can start over. SQLite's automatic checkpoint
//! runs inside the commit that crosses its threshold, on the committing thread: the single writer
//! then stalls on a copy and a sync of the database file every few megabytes, and every write
//! queued behind it waits too (the `market` benchmark measured about a tenth of its throughput lost
//! that way). Here the writer only counts what it appended and, every
//! [`CHECKPOINT_EVERY_BYTES`], wakes this thread, which runs a passive checkpoint on its own
//! connection: it copies what is already committed without blocking the writer, who keeps
//! appending meanwhile.
//!
//! A passive checkpoint cannot let the log start over while the writer keeps appending, and it may
//! fall behind, so the writer keeps SQLite's automatic checkpoint as a backstop at
//! [`WAL_BACKSTOP_PAGES`]: when it fires, most pages have already been copied, and what is left is
//! short. Durability is unchanged: a checkpoint syncs the database file before SQLite counts a page
//! as copied, whichever connection runs it.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::error::OpenError;

/// Appended bytes between two requests for a checkpoint: about SQLite's own default of 1,000 pages
/// of 4 KiB, so the database file is written about as often as before, only elsewhere.
pub const CHECKPOINT_EVERY_BYTES: u64 = 4 * 1024 * 1024;

/// The writer checkpoints by itself when the write-ahead log reaches this many pages (64 MiB of
/// 4 KiB pages): the most disk the log takes beyond the database when the checkpointer falls behind.
pub const WAL_BACKSTOP_PAGES: i64 = 16_384;

#[derive(Default)]
struct Requests {
    pending: bool,
    stopping: bool,
}

struct Shared {
    requests: Mutex<Requests>,
    wake: Condvar,
}

/// The checkpointing thread of one writable log; stopped and joined when dropped.
pub struct WalCheckpointer {
    shared: Arc<Shared>,
    appended_since_request: u64,
    thread: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Starts the thread with its own connection to the database at `path`. `synchronous` is the
    /// writer's setting: with `FULL` or `NORMAL` a checkpoint syncs the database file.
    pub fn start(path: &Path, synchronous: &str) -> Result<WalCheckpointer, OpenError> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "synchronous", synchronous)?;
        let shared = Arc::new(Shared { requests: Mutex::new(Requests::default()), wake: Condvar::new() });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("colony-checkpoint".to_owned())
            .spawn(move || run(&connection, &thread_shared))
            .map_err(OpenError::Thread)?;
        Ok(WalCheckpointer { shared, appended_since_request: 0, thread: Some(thread) })
    }

    /// Counts `bytes` appended by a commit; asks for a checkpoint every [`CHECKPOINT_EVERY_BYTES`].
    pub fn appended(&mut self, bytes: u64) {
        self.appended_since_request += bytes;
        if self.appended_since_request >= CHECKPOINT_EVERY_BYTES {
            self.appended_since_request = 0;
            self.shared.requests.lock().expect("checkpointer lock").pending = true;
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        self.shared.requests.lock().expect("checkpointer lock").stopping = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(connection: &Connection, shared: &Shared) {
    loop {
        {
            let mut requests = shared.requests.lock().expect("checkpointer lock");
            while !requests.pending && !requests.stopping {
                requests = shared.wake.wait(requests).expect("checkpointer lock");
            }
            if requests.stopping {
                return;
            }
            requests.pending = false;
        }
        // A failed checkpoint loses nothing: the pages stay in the write-ahead log, the next request
        // tries again, and the writer's backstop copies them at the latest; a failing disk shows in
        // the writer's own commits.
        let _ = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
}
