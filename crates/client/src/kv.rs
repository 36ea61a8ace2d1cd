//! Typed helpers for the key-value store: namespaces, puts and deletes (blind or under a
//! compare-and-swap), and the reads (a key, keys by prefix, the changes since a revision).

use colony_core::bus::JsonText;
use colony_core::command::{ConfigureNamespace, CreateNamespace, DeleteNamespace, DeleteValue, PutValue};
use colony_core::kv::Access;
use colony_core::{Command, Name, StoreKey};
use colony_wire::kv::{ChangePage, EntryPage, EntryView, NamespacePage, NamespaceView};
use colony_wire::views::{KvWriteView, SubmitResponse};

use crate::{Client, ClientError};

fn written(response: &SubmitResponse) -> Result<Option<KvWriteView>, ClientError> {
    match response.results.first() {
        Some(result) if result.ok => Ok(result.kv),
        _ => Err(ClientError::Decode("the write's answer carries no result".to_owned())),
    }
}

impl Client {
    /// Creates a namespace (the same create again is accepted as `unchanged`).
    pub async fn create_namespace(
        &self,
        namespace: Name,
        readers: Access,
        writers: Access,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CreateNamespace(CreateNamespace { namespace, readers, writers })).await
    }

    /// Changes who may read or write a namespace (as its creator or the operator).
    pub async fn configure_namespace(
        &self,
        namespace: Name,
        readers: Option<Access>,
        writers: Option<Access>,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ConfigureNamespace(ConfigureNamespace { namespace, readers, writers })).await
    }

    /// Deletes a namespace with every key in it (as its creator or the operator).
    pub async fn delete_namespace(&self, namespace: Name) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DeleteNamespace(DeleteNamespace { namespace })).await
    }

    /// Stores `value` under `key`; with `expected_revision`, only if the key's last put has that
    /// revision (`Some(0)`: only if it does not exist), refused `kv_revision_mismatch` otherwise.
    /// Returns the put's revision and the key's version.
    pub async fn put_value(
        &self,
        namespace: Name,
        key: StoreKey,
        value: JsonText,
        expected_revision: Option<u64>,
    ) -> Result<KvWriteView, ClientError> {
        self.put(PutValue { namespace, key, value, expected_revision, lease: None }).await
    }

    /// As [`put_value`](Client::put_value), the key living with `lease`, one of this agent's
    /// leases: it is deleted when the lease ends (revoked, expired, or the agent silent or gone).
    /// Keep the lease alive (`keep_lease_alive`) to keep the key.
    pub async fn put_leased_value(
        &self,
        namespace: Name,
        key: StoreKey,
        value: JsonText,
        expected_revision: Option<u64>,
        lease: Name,
    ) -> Result<KvWriteView, ClientError> {
        self.put(PutValue { namespace, key, value, expected_revision, lease: Some(lease) }).await
    }

    async fn put(&self, put: PutValue) -> Result<KvWriteView, ClientError> {
        written(&self.submit_one(Command::PutValue(put)).await?)?
            .ok_or_else(|| ClientError::Decode("the put's result carries no revision".to_owned()))
    }

    /// Deletes a key; with `expected_revision`, only if its last put has that revision. Returns the
    /// deletion's revision, or `None` when the key did not exist.
    pub async fn delete_value(
        &self,
        namespace: Name,
        key: StoreKey,
        expected_revision: Option<u64>,
    ) -> Result<Option<u64>, ClientError> {
        let command = Command::DeleteValue(DeleteValue { namespace, key, expected_revision });
        Ok(written(&self.submit_one(command).await?)?.map(|write| write.revision))
    }

    /// One page of namespaces by name. `query` is a URL query string without `?` (`after=a&limit=10`).
    pub async fn namespaces(&self, query: &str) -> Result<NamespacePage, ClientError> {
        let path = if query.is_empty() { "/v1/kv".to_owned() } else { format!("/v1/kv?{query}") };
        self.get(&path).await
    }

    /// One namespace's access lists, revisions and counts.
    pub async fn namespace(&self, namespace: &Name) -> Result<NamespaceView, ClientError> {
        self.get(&format!("/v1/kv/{namespace}")).await
    }

    /// One key, with the revision a compare-and-swap names.
    pub async fn value(&self, namespace: &Name, key: &StoreKey) -> Result<EntryView, ClientError> {
        self.get(&format!("/v1/kv/{namespace}/keys/{key}")).await
    }

    /// Up to `limit` keys starting with `prefix` after `after`, in key order, with the store's
    /// revision they were read at.
    pub async fn values(
        &self,
        namespace: &Name,
        prefix: &str,
        after: Option<&StoreKey>,
        limit: usize,
    ) -> Result<EntryPage, ClientError> {
        let mut path = format!("/v1/kv/{namespace}/keys?limit={limit}");
        if !prefix.is_empty() {
            // A key's alphabet needs no escaping in a query (`/` and `:` are allowed there as they are).
            path.push_str(&format!("&prefix={prefix}"));
        }
        if let Some(after) = after {
            path.push_str(&format!("&after={after}"));
        }
        self.get(&path).await
    }

    /// Each key's last change after `after_revision`, oldest first; with `wait_ms`, an empty answer
    /// waits up to that long for the next change.
    pub async fn changes(
        &self,
        namespace: &Name,
        after_revision: u64,
        limit: usize,
        wait_ms: u64,
    ) -> Result<ChangePage, ClientError> {
        self.get(&format!("/v1/kv/{namespace}/changes?after_revision={after_revision}&limit={limit}&wait_ms={wait_ms}"))
            .await
    }
}
