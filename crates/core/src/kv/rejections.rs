//! Why the key-value store refuses a namespace's creation, configuration or deletion, a put or a
//! delete, or a read.

use std::fmt;

use super::key::StoreKey;
use crate::ids::Name;
use crate::outcome::RejectionClass;

/// A refusal particular to the key-value store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvRejection {
    /// No namespace of that name.
    NamespaceNotFound {
        /// The name asked for.
        namespace: Name,
    },
    /// A namespace of that name exists with other access lists or another creator.
    NamespaceExists {
        /// The name.
        namespace: Name,
    },
    /// Only the namespace's creator (or the operator) may configure or delete it.
    NotNamespaceCreator {
        /// The namespace.
        namespace: Name,
    },
    /// The signer is not among the namespace's writers.
    NotWriter {
        /// The namespace.
        namespace: Name,
    },
    /// The reader is not among the namespace's readers.
    NotReader {
        /// The namespace.
        namespace: Name,
    },
    /// The namespace holds no such key.
    KeyNotFound {
        /// The namespace.
        namespace: Name,
        /// The key.
        key: StoreKey,
    },
    /// A compare-and-swap found the key at another revision.
    RevisionMismatch {
        /// The namespace.
        namespace: Name,
        /// The key.
        key: StoreKey,
        /// The revision the command expected.
        expected: u64,
        /// The key's revision (0: it does not exist).
        actual: u64,
    },
    /// A watch asked for changes from before the oldest the namespace remembers.
    Compacted {
        /// The namespace.
        namespace: Name,
        /// The oldest revision a watch may resume from.
        compacted_revision: u64,
    },
}

impl KvRejection {
    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            KvRejection::NamespaceNotFound { .. } => "kv_namespace_not_found",
            KvRejection::NamespaceExists { .. } => "kv_namespace_exists",
            KvRejection::NotNamespaceCreator { .. } => "not_namespace_creator",
            KvRejection::NotWriter { .. } => "kv_not_writer",
            KvRejection::NotReader { .. } => "kv_not_reader",
            KvRejection::KeyNotFound { .. } => "kv_key_not_found",
            KvRejection::RevisionMismatch { .. } => "kv_revision_mismatch",
            KvRejection::Compacted { .. } => "kv_compacted",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            KvRejection::NamespaceNotFound { .. } => "Namespace not found",
            KvRejection::NamespaceExists { .. } => "Namespace exists",
            KvRejection::NotNamespaceCreator { .. } => "Not the namespace's creator",
            KvRejection::NotWriter { .. } => "Not a writer of the namespace",
            KvRejection::NotReader { .. } => "Not a reader of the namespace",
            KvRejection::KeyNotFound { .. } => "Key not found",
            KvRejection::RevisionMismatch { .. } => "Revision mismatch",
            KvRejection::Compacted { .. } => "History compacted",
        }
    }

    /// What kind of refusal this is.
    pub fn class(&self) -> RejectionClass {
        match self {
            KvRejection::NamespaceNotFound { .. } | KvRejection::KeyNotFound { .. } => RejectionClass::NotFound,
            KvRejection::NamespaceExists { .. }
            | KvRejection::RevisionMismatch { .. }
            | KvRejection::Compacted { .. } => RejectionClass::Conflict,
            KvRejection::NotNamespaceCreator { .. } | KvRejection::NotWriter { .. } | KvRejection::NotReader { .. } => {
                RejectionClass::Forbidden
            }
        }
    }

    /// The input field to blame.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            KvRejection::NamespaceNotFound { .. }
            | KvRejection::NamespaceExists { .. }
            | KvRejection::NotNamespaceCreator { .. }
            | KvRejection::NotWriter { .. }
            | KvRejection::NotReader { .. } => Some("namespace"),
            KvRejection::KeyNotFound { .. } => Some("key"),
            KvRejection::RevisionMismatch { .. } => Some("expected_revision"),
            KvRejection::Compacted { .. } => Some("after_revision"),
        }
    }
}

impl fmt::Display for KvRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvRejection::NamespaceNotFound { namespace } => write!(formatter, "no namespace '{namespace}'"),
            KvRejection::NamespaceExists { namespace } => {
                write!(formatter, "namespace '{namespace}' already exists with other access lists or another creator")
            }
            KvRejection::NotNamespaceCreator { namespace } => {
                write!(formatter, "only the creator of namespace '{namespace}' or the operator may change it")
            }
            KvRejection::NotWriter { namespace } => {
                write!(formatter, "the signer is not among namespace '{namespace}''s writers")
            }
            KvRejection::NotReader { namespace } => {
                write!(formatter, "the reader is not among namespace '{namespace}''s readers")
            }
            KvRejection::KeyNotFound { namespace, key } => {
                write!(formatter, "namespace '{namespace}' holds no key '{key}'")
            }
            KvRejection::RevisionMismatch { namespace, key, expected, actual: 0 } => write!(
                formatter,
                "key '{key}' of namespace '{namespace}' does not exist; the command expected revision {expected}"
            ),
            KvRejection::RevisionMismatch { namespace, key, expected: 0, actual } => write!(
                formatter,
                "key '{key}' of namespace '{namespace}' exists (revision {actual}); the command expected it not to"
            ),
            KvRejection::RevisionMismatch { namespace, key, expected, actual } => write!(
                formatter,
                "key '{key}' of namespace '{namespace}' is at revision {actual}; the command expected {expected}"
            ),
            KvRejection::Compacted { namespace, compacted_revision } => write!(
                formatter,
                "namespace '{namespace}' no longer holds every change that far back: read it whole, then watch from the revision read (at least {compacted_revision})"
            ),
        }
    }
}
