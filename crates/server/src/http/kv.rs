//! The key-value store's read endpoints: namespaces, a key, keys by prefix, and the changes since a
//! revision (a watch, which may wait for the next change). Keys and values are served only to the
//! namespace's readers; namespaces' names and counts to every reader. Writes are commands.

use axum::Json;
use axum::extract::State;
use colony_core::kv::{KvRejection, Namespace, StoreChange};
use colony_core::{Name, Rejection, StoreKey};
use colony_wire::kv::{ChangePage, ChangeView, EntryPage, EntryView, NamespacePage, NamespaceView};
use serde::Deserialize;

use super::auth::Reader;
use super::extract::{PathSegment, QueryParameters};
use super::waiting::reader_key;
use super::{ApiError, AppState, ValidPath, ValidQuery};

/// Namespaces, keys or changes per page when the client does not say.
pub(crate) const KV_PAGE_DEFAULT: usize = 100;
/// Namespaces, keys or changes per page at most: a page of keys is at most 16 MiB of values.
pub(crate) const KV_PAGE_MAX: usize = 1_000;
/// The longest a watch may wait for a change.
pub(crate) const WATCH_WAIT_MS_MAX: u64 = 30_000;

impl PathSegment for StoreKey {
    fn parse_segment(text: &str) -> Result<StoreKey, String> {
        StoreKey::new(text).map_err(|error| error.to_string())
    }
}

/// A page of keys or changes carries at most this many bytes of values, beyond its first: a
/// thousand 16 KiB values would be 16 MiB built under the state's read lock, holding the writer
/// back, for one request.
pub(crate) const KV_PAGE_VALUE_BYTES_MAX: usize = 1 << 20;

/// How many of the items whose value sizes are `sizes` a page takes: up to `limit`, and no more
/// values than [`KV_PAGE_VALUE_BYTES_MAX`] once it holds one (so that one large value still pages).
fn page_length(sizes: impl Iterator<Item = usize>, limit: usize) -> usize {
    let mut bytes = 0;
    let mut taken = 0;
    for size in sizes.take(limit) {
        bytes += size;
        if taken > 0 && bytes > KV_PAGE_VALUE_BYTES_MAX {
            break;
        }
        taken += 1;
    }
    taken
}

fn rejection(rejection: KvRejection) -> ApiError {
    ApiError::from_rejection(&Rejection::Kv(rejection))
}

fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(KV_PAGE_DEFAULT);
    if limit == 0 || limit > KV_PAGE_MAX {
        return Err(ApiError::invalid_query("limit", format!("must be between 1 and {KV_PAGE_MAX}")));
    }
    Ok(limit)
}

/// The namespace, when `reader` may read its keys.
fn readable<'a>(state: &'a colony_core::State, reader: &Reader, namespace: &Name) -> Result<&'a Namespace, ApiError> {
    let Some(found) = state.kv().namespace(namespace) else {
        return Err(rejection(KvRejection::NamespaceNotFound { namespace: namespace.clone() }));
    };
    let admitted = match reader {
        Reader::Signer(signer) => found.readers.admits(signer, &found.creator),
        Reader::Token { .. } => found.readers.admits_anyone(),
    };
    if !admitted {
        return Err(rejection(KvRejection::NotReader { namespace: namespace.clone() }));
    }
    Ok(found)
}

/// Query of `GET /v1/kv`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// Query of `GET /v1/kv`, checked.
#[derive(Debug)]
pub struct NamespaceFilter {
    after: Option<Name>,
    limit: usize,
}

impl QueryParameters for NamespaceFilter {
    type Decoded = NamespaceQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: NamespaceQuery) -> Result<NamespaceFilter, ApiError> {
        let limit = page_limit(query.limit)?;
        let after = query
            .after
            .map(Name::new)
            .transpose()
            .map_err(|error| ApiError::invalid_query("after", error.to_string()))?;
        Ok(NamespaceFilter { after, limit })
    }
}

/// `GET /v1/kv?after=&limit=`: namespaces by name, one page at a time.
pub async fn list_namespaces(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<NamespaceFilter>,
) -> Result<Json<NamespacePage>, ApiError> {
    let state = app.state()?;
    let found = state.kv().namespaces_after(filter.after.as_ref(), filter.limit + 1);
    let more = found.len() > filter.limit;
    let namespaces: Vec<NamespaceView> = found.into_iter().take(filter.limit).map(NamespaceView::new).collect();
    let next_after = if more { namespaces.last().map(|last| last.name.clone()) } else { None };
    Ok(Json(NamespacePage { namespaces, next_after }))
}

/// `GET /v1/kv/{namespace}`: its access lists, revisions and counts.
pub async fn get_namespace(
    State(app): State<AppState>,
    ValidPath(namespace): ValidPath<Name>,
) -> Result<Json<NamespaceView>, ApiError> {
    let state = app.state()?;
    match state.kv().namespace(&namespace) {
        Some(found) => Ok(Json(NamespaceView::new(found))),
        None => Err(rejection(KvRejection::NamespaceNotFound { namespace })),
    }
}

/// `GET /v1/kv/{namespace}/keys/{key}`: one key, with the revision a compare-and-swap names.
pub async fn get_entry(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<Reader>,
    ValidPath((namespace, key)): ValidPath<(Name, StoreKey)>,
) -> Result<Json<EntryView>, ApiError> {
    let state = app.state()?;
    let found = readable(&state, &reader, &namespace)?;
    match found.get(&key) {
        Some(entry) => Ok(Json(EntryView::new(&key, entry))),
        None => Err(rejection(KvRejection::KeyNotFound { namespace, key })),
    }
}

/// Query of `GET /v1/kv/{namespace}/keys`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    prefix: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// Query of `GET /v1/kv/{namespace}/keys`, checked.
#[derive(Debug)]
pub struct RangeFilter {
    prefix: String,
    after: Option<StoreKey>,
    limit: usize,
}

impl QueryParameters for RangeFilter {
    type Decoded = RangeQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: RangeQuery) -> Result<RangeFilter, ApiError> {
        let limit = page_limit(query.limit)?;
        let prefix = query.prefix.unwrap_or_default();
        if !prefix.is_empty() {
            StoreKey::new(&prefix).map_err(|error| ApiError::invalid_query("prefix", error.to_string()))?;
        }
        let after = query
            .after
            .map(StoreKey::new)
            .transpose()
            .map_err(|error| ApiError::invalid_query("after", error.to_string()))?;
        Ok(RangeFilter { prefix, after, limit })
    }
}

/// `GET /v1/kv/{namespace}/keys?prefix=&after=&limit=`: keys starting with `prefix`, in key order,
/// with the store's revision they were read at.
pub async fn list_entries(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<Reader>,
    ValidPath(namespace): ValidPath<Name>,
    ValidQuery(filter): ValidQuery<RangeFilter>,
) -> Result<Json<EntryPage>, ApiError> {
    let state = app.state()?;
    let found = readable(&state, &reader, &namespace)?;
    let range = found.range(&filter.prefix, filter.after.as_ref(), filter.limit + 1);
    let taken = page_length(range.iter().map(|(_, entry)| entry.value.as_str().len()), filter.limit);
    let more = range.len() > taken;
    let entries: Vec<EntryView> =
        range.into_iter().take(taken).map(|(key, entry)| EntryView::new(key, entry)).collect();
    let next_after = if more { entries.last().map(|last| last.key.clone()) } else { None };
    Ok(Json(EntryPage { namespace, revision: state.kv().revision(), entries, next_after }))
}

/// Query of `GET /v1/kv/{namespace}/changes`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    after_revision: u64,
    limit: Option<usize>,
    wait_ms: Option<u64>,
}

/// Query of `GET /v1/kv/{namespace}/changes`, checked.
#[derive(Debug)]
pub struct ChangesFilter {
    after_revision: u64,
    limit: usize,
    wait_ms: u64,
}

impl QueryParameters for ChangesFilter {
    type Decoded = ChangesQuery;
    const UNDECODABLE_FIELD: &'static str = "after_revision";

    fn validate(query: ChangesQuery) -> Result<ChangesFilter, ApiError> {
        let limit = page_limit(query.limit)?;
        let wait_ms = query.wait_ms.unwrap_or(0);
        if wait_ms > WATCH_WAIT_MS_MAX {
            return Err(ApiError::invalid_query("wait_ms", format!("must be at most {WATCH_WAIT_MS_MAX}")));
        }
        Ok(ChangesFilter { after_revision: query.after_revision, limit, wait_ms })
    }
}

/// The changes after the filter's revision (possibly none), with the revision to go on from, both
/// read under one look at the state: a change applied after the look is after that revision.
fn changes(app: &AppState, reader: &Reader, namespace: &Name, filter: &ChangesFilter) -> Result<ChangePage, ApiError> {
    let state = app.state()?;
    let found = readable(&state, reader, namespace)?;
    // A revision beyond the store's is allowed, as etcd's watches allow it: its changes come once
    // the store passes it.
    let store_revision = state.kv().revision().max(filter.after_revision);
    let changes = found.changes_after(filter.after_revision, filter.limit).map_err(|compacted| {
        rejection(KvRejection::Compacted {
            namespace: namespace.clone(),
            compacted_revision: compacted.compacted_revision,
        })
    })?;
    let sizes = changes.iter().map(|change| match change {
        StoreChange::Put { entry, .. } => entry.value.as_str().len(),
        StoreChange::Deleted { .. } => 0,
    });
    let taken = page_length(sizes, filter.limit);
    let more = taken < changes.len() || changes.len() == filter.limit;
    let changes: Vec<ChangeView> = changes.iter().take(taken).map(ChangeView::new).collect();
    let next_after_revision =
        if more { changes.last().map_or(store_revision, |last| last.revision) } else { store_revision };
    Ok(ChangePage { namespace: namespace.clone(), changes, next_after_revision, more })
}

/// `GET /v1/kv/{namespace}/changes?after_revision=&limit=&wait_ms=`: each key's last change after
/// `after_revision`, oldest first (a watch). With `wait_ms`, an empty answer waits up to that long
/// for the next change. A revision from before what the namespace remembers is refused with
/// `kv_compacted`: read the keys again, then watch from the page's revision.
pub async fn watch_changes(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<Reader>,
    ValidPath(namespace): ValidPath<Name>,
    ValidQuery(filter): ValidQuery<ChangesFilter>,
) -> Result<Json<ChangePage>, ApiError> {
    // Subscribed before the first look, so that a change applied just after it wakes the wait.
    let mut applied = app.driver.shared.applied.subscribe();
    let page = changes(&app, &reader, &namespace, &filter)?;
    if !page.changes.is_empty() || filter.wait_ms == 0 {
        return Ok(Json(page));
    }
    let _place = app.waiting_requests.enter(reader_key(&reader), "retry, or watch without waiting")?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(filter.wait_ms);
    let mut shutdown = app.shutdown.clone();
    loop {
        let over = tokio::select! {
            // A writer gone tells nothing more: answer with what there is.
            changed = applied.changed() => changed.is_err(),
            _ = tokio::time::sleep_until(deadline) => true,
            _ = shutdown.changed() => true,
        };
        let page = changes(&app, &reader, &namespace, &filter)?;
        if over || !page.changes.is_empty() {
            return Ok(Json(page));
        }
    }
}
