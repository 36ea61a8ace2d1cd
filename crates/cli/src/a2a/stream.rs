//! Streams of a task's changes as server-sent events (`SendStreamingMessage`, `SubscribeToTask`):
//! the task first, then a `TaskStatusUpdateEvent` each time its A2A state or its status message
//! changes, and, when it completes, a `TaskArtifactUpdateEvent` with the result before the last
//! status. The stream ends with the task.
//!
//! Changes come from Colony's event stream (`task.*` events of the task); on each, the task is read
//! again, so what is sent is always the task as Colony holds it, whatever events were merged or
//! missed. Colony's stream is opened before the task is first read, from the entry after the state
//! the read could reflect at the earliest, so no change falls between the two.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use colony_core::EventKind;
use colony_wire::views::TaskView;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::Gateway;
use super::protocol::{StreamResponse, TaskArtifactUpdateEvent, TaskState, TaskStatusUpdateEvent};
use super::rpc::{RpcError, answer};
use super::state::{a2a_context_id, a2a_state, a2a_task_id, result_artifact, status_of, task_from_view};

/// Items a stream may hold for a slow reader before the gateway waits for it (a task changes a few
/// times in its life; a reader this far behind holds only its own stream up).
const STREAM_BUFFER_ITEMS: usize = 16;

/// How often an idle stream sends a comment, so proxies and clients do not take it for dead.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Times in a row Colony's event stream may be reopened without delivering an event before the
/// gateway gives up on the task's stream (a server going down ends it instead of spinning).
const EVENT_STREAM_REOPENS_MAX: u32 = 5;

/// How the stream was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// `SendStreamingMessage`: the task was just announced (or found again); a task that already
    /// ended is sent once.
    Announced,
    /// `SubscribeToTask`: refused for a task that already ended, as A2A asks.
    Subscribed,
}

/// The answer to a streaming method for the task in `view`.
pub async fn task_updates(gateway: Arc<Gateway>, id: Value, view: TaskView, start: Start) -> Response {
    if start == Start::Subscribed && view.state.is_terminal() {
        let message = format!("task {} has ended ({}): read it with GetTask", view.id, a2a_state(view.state).name());
        return answer(&id, Err(RpcError::new(RpcError::UNSUPPORTED_OPERATION, message)));
    }
    let Ok(permit) = Arc::clone(&gateway.streams).try_acquire_owned() else {
        let message =
            format!("{} streams are open, the most this gateway serves: retry later", super::CONCURRENT_STREAMS_MAX);
        return answer(&id, Err(RpcError::new(RpcError::INTERNAL_ERROR, message)));
    };
    let (sender, mut receiver) = mpsc::channel::<SseEvent>(STREAM_BUFFER_ITEMS);
    tokio::spawn(follow(gateway, id, view.id, sender, permit));
    let events = futures_util::stream::poll_fn(move |context| {
        receiver.poll_recv(context).map(|item| item.map(Ok::<_, Infallible>))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE_INTERVAL)).into_response()
}

/// What the reader was last told: the A2A state and the status text.
#[derive(Default, PartialEq, Eq)]
struct Shown {
    state: Option<TaskState>,
    text: Option<String>,
}

impl Shown {
    fn of(view: &TaskView) -> Shown {
        let status = status_of(view);
        let text = status.message.and_then(|message| message.parts.into_iter().next()).and_then(|part| part.text);
        Shown { state: Some(a2a_state(view.state)), text }
    }
}

/// Sends the task, then its changes, until it ends, the reader leaves, or Colony cannot be read.
async fn follow(
    gateway: Arc<Gateway>,
    id: Value,
    task: u64,
    sender: mpsc::Sender<SseEvent>,
    permit: OwnedSemaphorePermit,
) {
    let _permit = permit;
    let client = &gateway.client;
    let frame = |result: Result<StreamResponse, RpcError>| {
        let body = match result {
            Ok(item) => json!({ "jsonrpc": "2.0", "id": id, "result": item }),
            Err(error) => error.response(&id),
        };
        SseEvent::default().data(body.to_string())
    };
    let mut next_sequence = match client.status().await {
        Ok(status) => status.sequence + 1,
        Err(error) => return drop(sender.send(frame(Err(error.into()))).await),
    };
    let mut events = match client.events(Some(next_sequence)).await {
        Ok(events) => events,
        Err(error) => return drop(sender.send(frame(Err(error.into()))).await),
    };
    let view = match client.task(task).await {
        Ok(view) => view,
        Err(error) => return drop(sender.send(frame(Err(error.into()))).await),
    };
    let mut shown = Shown::of(&view);
    if sender.send(frame(Ok(StreamResponse::Task(task_from_view(&view))))).await.is_err() || view.state.is_terminal() {
        return;
    }
    let mut reopens = 0;
    loop {
        let event = tokio::select! {
            _ = sender.closed() => return,
            event = events.next() => event,
        };
        match event {
            Some(Ok(event)) => {
                reopens = 0;
                next_sequence = event.sequence + 1;
                if task_of(&event.kind) != Some(task) {
                    continue;
                }
            }
            // Behind or cut off: resume where the stream stopped, then read the task again.
            Some(Err(_)) | None => {
                reopens += 1;
                let reopened = if reopens > EVENT_STREAM_REOPENS_MAX {
                    Err(RpcError::new(RpcError::INTERNAL_ERROR, "Colony's event stream keeps ending"))
                } else {
                    client.events(Some(next_sequence)).await.map_err(RpcError::from)
                };
                match reopened {
                    Ok(reopened) => events = reopened,
                    Err(error) => return drop(sender.send(frame(Err(error))).await),
                }
            }
        }
        let view = match client.task(task).await {
            Ok(view) => view,
            Err(error) => return drop(sender.send(frame(Err(error.into()))).await),
        };
        for item in changes(&mut shown, &view) {
            if sender.send(frame(Ok(item))).await.is_err() {
                return;
            }
        }
        if view.state.is_terminal() {
            return;
        }
    }
}

/// What to tell a reader who was last told `shown`: nothing if the A2A state and the status text
/// are the same; else the new status, after the result when the task completed.
fn changes(shown: &mut Shown, view: &TaskView) -> Vec<StreamResponse> {
    let now = Shown::of(view);
    if now == *shown {
        return Vec::new();
    }
    *shown = now;
    let mut items = Vec::new();
    if let Some(artifact) = result_artifact(view) {
        items.push(StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
            task_id: a2a_task_id(view),
            context_id: a2a_context_id(view),
            artifact,
            append: false,
            last_chunk: true,
        }));
    }
    items.push(StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
        task_id: a2a_task_id(view),
        context_id: a2a_context_id(view),
        status: status_of(view),
    }));
    items
}

/// The market id of the task a `task.*` event is about.
fn task_of(kind: &EventKind) -> Option<u64> {
    match kind {
        EventKind::TaskAnnounced { task, .. }
        | EventKind::TaskOpened { task, .. }
        | EventKind::TaskBid { task, .. }
        | EventKind::TaskBidWithdrawn { task, .. }
        | EventKind::TaskAwarded { task, .. }
        | EventKind::TaskAccepted { task, .. }
        | EventKind::TaskProgress { task, .. }
        | EventKind::TaskSubmitted { task, .. }
        | EventKind::TaskVerified { task, .. }
        | EventKind::TaskAttemptEnded { task, .. }
        | EventKind::TaskEnded { task, .. } => Some(*task),
        _ => None,
    }
}
