//! A2A v1 objects in their JSON form: camelCase members, enum values by their protocol names
//! (`TASK_STATE_WORKING`, `ROLE_AGENT`), optional members left out rather than sent empty.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version the gateway speaks, as the agent card and the `A2A-Version` header name it.
pub const PROTOCOL_VERSION: &str = "1.0";

/// An A2A task's state. Only the states the gateway reports are here: Colony never asks its client
/// for more input or for authentication once a task is announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TaskState {
    /// Received, not yet taken on by anyone.
    #[serde(rename = "TASK_STATE_SUBMITTED")]
    Submitted,
    /// Someone works on it.
    #[serde(rename = "TASK_STATE_WORKING")]
    Working,
    /// Done, with its result as an artifact.
    #[serde(rename = "TASK_STATE_COMPLETED")]
    Completed,
    /// Ended without a result.
    #[serde(rename = "TASK_STATE_FAILED")]
    Failed,
    /// Cancelled by its client.
    #[serde(rename = "TASK_STATE_CANCELED")]
    Canceled,
    /// Nobody agreed to do it.
    #[serde(rename = "TASK_STATE_REJECTED")]
    Rejected,
}

impl TaskState {
    /// The state's name in messages for people.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Submitted => "submitted",
            TaskState::Working => "working",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Canceled => "canceled",
            TaskState::Rejected => "rejected",
        }
    }
}

/// One piece of content: text, structured data, or a file by URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Any JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Where a file is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Bytes, base64 (accepted only to be refused clearly: Colony takes JSON inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// The content's media type.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "media_type")]
    pub media_type: Option<String>,
    /// Anything more about the part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// A message between the client and the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// The sender's id for the message.
    #[serde(alias = "message_id")]
    pub message_id: String,
    /// The conversation it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "context_id")]
    pub context_id: Option<String>,
    /// The task it continues, if any.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "task_id")]
    pub task_id: Option<String>,
    /// `ROLE_USER` or `ROLE_AGENT`.
    pub role: String,
    /// Its content.
    pub parts: Vec<Part>,
    /// Anything more about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// Where a task stands, and the agent's word on it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// The state.
    pub state: TaskState,
    /// Why, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// When it got there (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// An output of a task.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Its id within the task.
    pub artifact_id: String,
    /// A name for people.
    pub name: String,
    /// Its content.
    pub parts: Vec<Part>,
}

/// A task as A2A sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// The task's id.
    pub id: String,
    /// The conversation it belongs to.
    pub context_id: String,
    /// Where it stands.
    pub status: TaskStatus,
    /// Its outputs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// Colony's own view of it (market id, manager's id, state).
    pub metadata: Value,
}

/// A change of a task's state, in a stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatusUpdateEvent {
    /// The task.
    pub task_id: String,
    /// Its conversation.
    pub context_id: String,
    /// Its new status.
    pub status: TaskStatus,
}

/// An output of a task, in a stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskArtifactUpdateEvent {
    /// The task.
    pub task_id: String,
    /// Its conversation.
    pub context_id: String,
    /// The output, whole.
    pub artifact: Artifact,
    /// Whether it adds to an artifact sent before (never: results come whole).
    pub append: bool,
    /// Whether it is the artifact's last piece (always).
    pub last_chunk: bool,
}

/// One item of a stream: exactly one of its members is set.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StreamResponse {
    /// The task as it stands when the stream starts.
    Task(Task),
    /// A change of state.
    StatusUpdate(TaskStatusUpdateEvent),
    /// A result.
    ArtifactUpdate(TaskArtifactUpdateEvent),
}

/// The parameters of `SendMessage` and `SendStreamingMessage`.
#[derive(Clone, Debug, Deserialize)]
pub struct SendMessageParams {
    /// The message.
    pub message: Message,
    /// Request-wide metadata (the terms may be here too).
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// The parameters of `GetTask`, `CancelTask` and `SubscribeToTask`: the task's id.
#[derive(Clone, Debug, Deserialize)]
pub struct TaskIdParams {
    /// The task's id.
    pub id: String,
}
