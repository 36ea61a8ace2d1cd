//! Requests that wait for something to happen: fetches held with `colony-wait-ms` and key-value
//! watches with `wait_ms`. Each one looks at the state again on every commit, so their number is
//! bounded in all, and per reader, so that one agent holding its places open cannot leave none to
//! the others.

use std::collections::HashMap;
use std::sync::Mutex;

use colony_wire::problem::ServerCode;

use super::auth::Reader;
use super::error::ApiError;

/// At most this many requests wait at once: each costs a look at the state per commit.
pub const WAITING_REQUESTS_MAX: usize = 1_024;
/// At most this many of them are one reader's: an agent needs one per consumer or namespace it
/// follows, a handful; 32 readers at this bound fill the whole, so a single agent never does.
pub const WAITING_REQUESTS_PER_READER_MAX: usize = 32;

/// The places among the waiting requests, counted in all and by reader.
#[derive(Default)]
pub struct WaitingRequests {
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_reader: HashMap<String, usize>,
}

impl WaitingRequests {
    /// Takes a place for `reader` (a signer's id, or a read token's digest), or tells why there
    /// is none. `retry` ends the message with what the caller can do instead of waiting.
    pub(crate) fn enter(&self, reader: String, retry: &str) -> Result<WaitingPlace<'_>, ApiError> {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = counts.by_reader.get(&reader).copied().unwrap_or(0);
        if mine >= WAITING_REQUESTS_PER_READER_MAX {
            return Err(ApiError::new(
                ServerCode::TooManyWaiting,
                format!("{mine} of your requests are waiting already, as many as one reader may; {retry}"),
            ));
        }
        if counts.total >= WAITING_REQUESTS_MAX {
            return Err(ApiError::new(
                ServerCode::Overloaded,
                format!("{WAITING_REQUESTS_MAX} requests are waiting already; {retry}"),
            ));
        }
        counts.total += 1;
        *counts.by_reader.entry(reader.clone()).or_insert(0) += 1;
        Ok(WaitingPlace { requests: self, reader })
    }

    /// How many requests wait now, in all.
    pub fn waiting(&self) -> usize {
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).total
    }
}

/// Whose share a waiting read counts in: a signer's, or a read token's (by its digest, as labels
/// need not be unique).
pub(crate) fn reader_key(reader: &Reader) -> String {
    match reader {
        Reader::Signer(signer) => signer.to_string(),
        Reader::Token { token_sha256, .. } => format!("token {}", token_sha256.to_hex()),
    }
}

/// A place among the waiting requests, given back when dropped (the request answered, or its
/// connection gone).
pub(crate) struct WaitingPlace<'a> {
    requests: &'a WaitingRequests,
    reader: String,
}

impl Drop for WaitingPlace<'_> {
    fn drop(&mut self) {
        let mut counts = self.requests.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.total -= 1;
        let mine = counts.by_reader.get_mut(&self.reader).expect("a place is counted under its reader");
        *mine -= 1;
        if *mine == 0 {
            counts.by_reader.remove(&self.reader);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reader_fills_only_its_share_and_places_come_back() {
        let requests = WaitingRequests::default();
        let places: Vec<_> = (0..WAITING_REQUESTS_PER_READER_MAX)
            .map(|_| requests.enter("greedy".to_owned(), "retry").expect("within the share"))
            .collect();
        let refused = requests.enter("greedy".to_owned(), "retry").err().expect("over the share");
        assert_eq!(refused.problem().code, ServerCode::TooManyWaiting.code());
        // Another reader still finds a place.
        let other = requests.enter("other".to_owned(), "retry").expect("another reader's place");
        assert_eq!(requests.waiting(), WAITING_REQUESTS_PER_READER_MAX + 1);
        drop(places);
        drop(other);
        assert_eq!(requests.waiting(), 0);
        requests.enter("greedy".to_owned(), "retry").expect("places came back");
    }

    #[test]
    fn the_whole_is_bounded_across_readers() {
        let requests = WaitingRequests::default();
        let readers = WAITING_REQUESTS_MAX / WAITING_REQUESTS_PER_READER_MAX;
        let _places: Vec<_> = (0..readers)
            .flat_map(|reader| (0..WAITING_REQUESTS_PER_READER_MAX).map(move |_| reader))
            .map(|reader| requests.enter(format!("reader-{reader}"), "retry").expect("within the whole"))
            .collect();
        let refused = requests.enter("latecomer".to_owned(), "retry").err().expect("the whole is full");
        assert_eq!(refused.problem().code, ServerCode::Overloaded.code());
    }
}
