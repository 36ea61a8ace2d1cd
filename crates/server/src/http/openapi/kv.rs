//! The key-value store's paths: namespaces, a key, keys by prefix, and the changes since a revision.

use serde_json::{Value, json};

use colony_core::kv::key::STORE_KEY_CLASS;
use colony_core::limits::KV_KEY_BYTES_MAX;
use colony_core::{Name, StoreKey};
use colony_wire::kv::{ChangePage, EntryPage, EntryView, NamespacePage, NamespaceView};

use super::operations::{page_limit, read_operation};
use super::schemas::Schemas;
use crate::http::kv::{KV_PAGE_DEFAULT, KV_PAGE_MAX, WATCH_WAIT_MS_MAX};

pub(super) fn kv_paths(schemas: &mut Schemas) -> Value {
    let name = schemas.of::<Name>();
    let key = schemas.of::<StoreKey>();
    let namespace = json!({ "name": "namespace", "in": "path", "required": true, "schema": name });
    // A key's alphabet, and empty for every key.
    let prefix = json!({ "type": "string", "pattern": format!("^{STORE_KEY_CLASS}{{0,{KV_KEY_BYTES_MAX}}}$") });
    let list_parameters = json!([
        { "name": "after", "in": "query", "schema": name, "description": "Pagination: the `next_after` of the previous page." },
        page_limit(KV_PAGE_MAX, KV_PAGE_DEFAULT)
    ]);
    let entry_parameters = json!([
        namespace,
        { "name": "key", "in": "path", "required": true, "schema": key, "description": "The key; its `/` need no escaping (the rest of the path is the key)." }
    ]);
    let range_parameters = json!([
        namespace,
        { "name": "prefix", "in": "query", "schema": prefix, "description": "Only keys starting with this (all keys unless given)." },
        { "name": "after", "in": "query", "schema": key, "description": "Pagination: the `next_after` of the previous page." },
        page_limit(KV_PAGE_MAX, KV_PAGE_DEFAULT)
    ]);
    let changes_parameters = json!([
        namespace,
        { "name": "after_revision", "in": "query", "required": true, "schema": { "type": "integer", "minimum": 0 }, "description": "The revision a copy was read at (a key page's `revision`, or the previous page's `next_after_revision`)." },
        page_limit(KV_PAGE_MAX, KV_PAGE_DEFAULT),
        { "name": "wait_ms", "in": "query", "schema": { "type": "integer", "minimum": 0, "maximum": WATCH_WAIT_MS_MAX, "default": 0 }, "description": "When nothing changed yet, wait up to this long for a change (a long poll)." }
    ]);
    json!({
        "/v1/kv": { "get": read_operation("Namespaces of the key-value store, by name", schemas.of::<NamespacePage>(), list_parameters, &["400"]) },
        "/v1/kv/{namespace}": { "get": read_operation("One namespace: its access lists, revisions and counts", schemas.of::<NamespaceView>(), json!([namespace]), &["400", "404"]) },
        "/v1/kv/{namespace}/keys": { "get": read_operation("A namespace's keys starting with a prefix, in key order, with the store's revision they were read at (its readers only)", schemas.of::<EntryPage>(), range_parameters, &["400", "403", "404"]) },
        "/v1/kv/{namespace}/keys/{key}": { "get": read_operation("One key, with the revision a compare-and-swap names (the namespace's readers only)", schemas.of::<EntryView>(), entry_parameters, &["400", "403", "404"]) },
        "/v1/kv/{namespace}/changes": { "get": read_operation("Each key's last change after a revision, oldest first: a watch, resumable from any revision the namespace remembers (409 `kv_compacted` otherwise)", schemas.of::<ChangePage>(), changes_parameters, &["400", "403", "404", "409"]) }
    })
}
