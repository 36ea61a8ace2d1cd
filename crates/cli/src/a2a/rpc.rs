//! JSON-RPC 2.0 over HTTP POST: the request's envelope, the dispatch of A2A's methods, and errors as
//! JSON-RPC error objects with A2A's codes.
//!
//! Every answer, error or not, is HTTP 200 with a JSON-RPC body: A2A clients read the error from the
//! body, and treat any other status as a broken transport. The exceptions come before dispatch: a
//! request without the gateway's token is 401 (`auth.rs`), one that a web page could have sent is
//! 403 or 415 (`browser.rs`): failures of the transport rather than of the call.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use colony_client::ClientError;
use colony_core::{Command, command::AnnounceTask};
use colony_wire::views::TaskView;
use serde_json::{Value, json};
use std::sync::Arc;

use super::Gateway;
use super::announce::announce_from;
use super::protocol::{PROTOCOL_VERSION, SendMessageParams, TaskIdParams};
use super::state::task_from_view;
use super::stream;

/// The header in which A2A clients name the protocol version they speak.
const VERSION_HEADER: &str = "a2a-version";

/// A JSON-RPC error: A2A's code, a message, and Colony's own code when Colony refused.
#[derive(Debug)]
pub struct RpcError {
    /// The JSON-RPC code.
    pub code: i64,
    /// What went wrong.
    pub message: String,
    /// Colony's problem: its stable code, its detail and the field to blame.
    pub colony: Option<Box<colony_wire::Problem>>,
}

impl RpcError {
    /// The body was not JSON.
    pub const PARSE_ERROR: i64 = -32_700;
    /// The body was JSON but not a JSON-RPC request.
    pub const INVALID_REQUEST: i64 = -32_600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32_601;
    /// The parameters do not fit the method.
    pub const INVALID_PARAMS: i64 = -32_602;
    /// Something failed on the gateway's side or beyond it.
    pub const INTERNAL_ERROR: i64 = -32_603;
    /// No such task (or not one this gateway's agent manages).
    pub const TASK_NOT_FOUND: i64 = -32_001;
    /// The task can no longer be cancelled.
    pub const TASK_NOT_CANCELABLE: i64 = -32_002;
    /// Push notifications are not offered.
    pub const PUSH_NOTIFICATION_NOT_SUPPORTED: i64 = -32_003;
    /// A method A2A defines that the gateway does not offer, or not in this case.
    pub const UNSUPPORTED_OPERATION: i64 = -32_004;
    /// The client speaks a protocol version the gateway does not.
    pub const VERSION_NOT_SUPPORTED: i64 = -32_009;

    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError { code, message: message.into(), colony: None }
    }

    /// No task `id` that this gateway's agent manages.
    pub fn task_not_found(id: &str) -> RpcError {
        RpcError::new(RpcError::TASK_NOT_FOUND, format!("no task {id} announced through this gateway's agent"))
    }

    /// The reason A2A gives the code, as its error details name it.
    fn reason(&self) -> &'static str {
        match self.code {
            RpcError::PARSE_ERROR => "PARSE_ERROR",
            RpcError::INVALID_REQUEST => "INVALID_REQUEST",
            RpcError::METHOD_NOT_FOUND => "METHOD_NOT_FOUND",
            RpcError::INVALID_PARAMS => "INVALID_PARAMS",
            RpcError::TASK_NOT_FOUND => "TASK_NOT_FOUND",
            RpcError::TASK_NOT_CANCELABLE => "TASK_NOT_CANCELABLE",
            RpcError::PUSH_NOTIFICATION_NOT_SUPPORTED => "PUSH_NOTIFICATION_NOT_SUPPORTED",
            RpcError::UNSUPPORTED_OPERATION => "UNSUPPORTED_OPERATION",
            RpcError::VERSION_NOT_SUPPORTED => "VERSION_NOT_SUPPORTED",
            _ => "INTERNAL_ERROR",
        }
    }

    /// The JSON-RPC response carrying this error. `data` is A2A's list of error details: one
    /// `google.rpc.ErrorInfo` whose metadata holds Colony's code, detail and field when Colony refused.
    pub fn response(&self, id: &Value) -> Value {
        let mut metadata = serde_json::Map::new();
        if let Some(problem) = &self.colony {
            metadata.insert("colonyCode".to_owned(), problem.code.clone().into());
            metadata.insert("detail".to_owned(), problem.detail.clone().into());
            if let Some(field) = &problem.field {
                metadata.insert("field".to_owned(), field.clone().into());
            }
        }
        json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {
                "code": self.code,
                "message": self.message,
                "data": [{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": self.reason(),
                    "domain": "a2a-protocol.org",
                    "metadata": metadata,
                }],
            },
        })
    }
}

impl From<ClientError> for RpcError {
    /// A refusal by Colony keeps its code; its status says whose fault it was: the request's (the
    /// parameters cannot be carried out: bad terms, a conflicting retry, no funds) or nobody's that
    /// the client can fix (the server is unreachable or busy).
    fn from(error: ClientError) -> RpcError {
        match error {
            ClientError::Problem(problem) => {
                let code = match (problem.code.as_str(), problem.status) {
                    ("task_not_found", _) => RpcError::TASK_NOT_FOUND,
                    (_, 400..=428 | 430..=499) => RpcError::INVALID_PARAMS,
                    _ => RpcError::INTERNAL_ERROR,
                };
                RpcError { code, message: format!("Colony refused: {}", problem.detail), colony: Some(problem) }
            }
            other => RpcError::new(RpcError::INTERNAL_ERROR, other.to_string()),
        }
    }
}

/// A JSON-RPC request, checked.
struct Request {
    id: Value,
    method: String,
    params: Value,
}

/// `POST /`: one JSON-RPC request, answered with JSON or, for the streaming methods, an event stream.
pub async fn dispatch(State(gateway): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    let request = match parse_request(&headers, body).await {
        Ok(request) => request,
        Err((id, error)) => return answer(&id, Err(error)),
    };
    let id = request.id.clone();
    match request.method.as_str() {
        "SendMessage" => answer(&id, send_message(&gateway, request.params).await),
        "GetTask" => answer(&id, get_task(&gateway, request.params).await),
        "CancelTask" => answer(&id, cancel_task(&gateway, request.params).await),
        "SendStreamingMessage" => match announce(&gateway, request.params).await {
            Ok(view) => stream::task_updates(gateway, id, view, stream::Start::Announced).await,
            Err(error) => answer(&id, Err(error)),
        },
        "SubscribeToTask" => match managed_task(&gateway, request.params).await {
            Ok(view) => stream::task_updates(gateway, id, view, stream::Start::Subscribed).await,
            Err(error) => answer(&id, Err(error)),
        },
        "CreateTaskPushNotificationConfig"
        | "GetTaskPushNotificationConfig"
        | "ListTaskPushNotificationConfigs"
        | "DeleteTaskPushNotificationConfig" => answer(
            &id,
            Err(RpcError::new(
                RpcError::PUSH_NOTIFICATION_NOT_SUPPORTED,
                "push notifications are not offered: subscribe to the task instead",
            )),
        ),
        "GetExtendedAgentCard" => answer(&id, super::card::extended_card(&gateway, &headers).await),
        "ListTasks" => answer(
            &id,
            Err(RpcError::new(RpcError::UNSUPPORTED_OPERATION, format!("{} is not offered", request.method))),
        ),
        other => answer(&id, Err(RpcError::new(RpcError::METHOD_NOT_FOUND, format!("no method {other}")))),
    }
}

/// A JSON-RPC response for `id`.
pub fn answer(id: &Value, result: Result<Value, RpcError>) -> Response {
    let body = match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => error.response(id),
    };
    Json(body).into_response()
}

/// Reads the body within the gateway's limit and checks the JSON-RPC envelope and the protocol
/// version. An error carries the request's id when it was readable.
async fn parse_request(headers: &HeaderMap, body: Body) -> Result<Request, (Value, RpcError)> {
    let bytes = axum::body::to_bytes(body, super::REQUEST_BODY_BYTES_MAX).await.map_err(|_| {
        let message = format!("the request is larger than {} bytes", super::REQUEST_BODY_BYTES_MAX);
        (Value::Null, RpcError::new(RpcError::INVALID_REQUEST, message))
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|error| {
        (Value::Null, RpcError::new(RpcError::PARSE_ERROR, format!("the body is not JSON: {error}")))
    })?;
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let invalid = |message: &str| (id.clone(), RpcError::new(RpcError::INVALID_REQUEST, message));
    if !value.is_object() {
        return Err(invalid("a request is one JSON object (batches are not offered)"));
    }
    if value.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err(invalid("\"jsonrpc\" must be \"2.0\""));
    }
    if !matches!(id, Value::String(_) | Value::Number(_)) {
        return Err(invalid("\"id\" must be a string or a number: every A2A call has an answer"));
    }
    let Some(method) = value.get("method").and_then(Value::as_str) else {
        return Err(invalid("\"method\" must be a string"));
    };
    if let Some(version) = headers.get(VERSION_HEADER) {
        let version = version.to_str().unwrap_or_default().trim();
        let major = PROTOCOL_VERSION.split('.').next().unwrap_or_default();
        if version.split('.').next() != Some(major) {
            let message = format!("this agent speaks A2A {PROTOCOL_VERSION}, not {version}");
            return Err((id.clone(), RpcError::new(RpcError::VERSION_NOT_SUPPORTED, message)));
        }
    }
    let params = value.get("params").cloned().unwrap_or(Value::Null);
    Ok(Request { id: id.clone(), method: method.to_owned(), params })
}

/// The method's parameters, decoded.
fn params<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|error| RpcError::new(RpcError::INVALID_PARAMS, error.to_string()))
}

/// `SendMessage`: announces the task and answers with it (in `submitted`, or wherever an earlier
/// send of the same message got it).
async fn send_message(gateway: &Gateway, raw: Value) -> Result<Value, RpcError> {
    let view = announce(gateway, raw).await?;
    Ok(json!({ "task": task_from_view(&view) }))
}

/// Announces the task a message describes and reads it back. A message sent again (same message id,
/// or same task id in its terms) finds the task its first send announced.
async fn announce(gateway: &Gateway, raw: Value) -> Result<TaskView, RpcError> {
    let request: SendMessageParams = params(raw)?;
    if let Some(task) = &request.message.task_id {
        // A Colony task takes its whole input when announced: there is no turn after it.
        managed_view(gateway, task).await?;
        return Err(RpcError::new(
            RpcError::UNSUPPORTED_OPERATION,
            format!("task {task} takes no further messages: a Colony task receives its input when announced"),
        ));
    }
    let command: AnnounceTask = announce_from(&request)?;
    let response = gateway.client.submit_one(Command::AnnounceTask(command)).await?;
    let task = response
        .results
        .first()
        .and_then(|result| result.task)
        .ok_or_else(|| RpcError::new(RpcError::INTERNAL_ERROR, "the announce's answer names no task"))?;
    Ok(gateway.client.task(task).await?)
}

/// `GetTask`.
async fn get_task(gateway: &Gateway, raw: Value) -> Result<Value, RpcError> {
    let view = managed_task(gateway, raw).await?;
    Ok(serde_json::to_value(task_from_view(&view)).expect("a task encodes"))
}

/// `CancelTask`: `task.cancel`, which Colony allows until the winner accepts; answers with the task
/// as it is after the cancellation.
async fn cancel_task(gateway: &Gateway, raw: Value) -> Result<Value, RpcError> {
    let view = managed_task(gateway, raw).await?;
    let not_cancelable = |detail: String| RpcError::new(RpcError::TASK_NOT_CANCELABLE, detail);
    if view.state.is_terminal() {
        return Err(not_cancelable(format!("task {} has ended ({})", view.id, view.state.name())));
    }
    if let Err(error) = gateway.client.cancel_task(view.id, "cancelled by its A2A client").await {
        let mut error = RpcError::from(error);
        if error.colony.as_ref().is_some_and(|problem| problem.code == "task_state") {
            error.code = RpcError::TASK_NOT_CANCELABLE;
        }
        return Err(error);
    }
    let view = gateway.client.task(view.id).await?;
    Ok(serde_json::to_value(task_from_view(&view)).expect("a task encodes"))
}

/// The task the parameters name, if this gateway's agent manages it.
async fn managed_task(gateway: &Gateway, raw: Value) -> Result<TaskView, RpcError> {
    let request: TaskIdParams = params(raw)?;
    managed_view(gateway, &request.id).await
}

/// The task with A2A id `id` (the market's id in decimal), if this gateway's agent manages it.
/// Another manager's task is not found: the gateway speaks for its own agent only.
async fn managed_view(gateway: &Gateway, id: &str) -> Result<TaskView, RpcError> {
    let market_id: u64 = id.parse().map_err(|_| RpcError::task_not_found(id))?;
    let view = gateway.client.task(market_id).await?;
    if view.manager != gateway.agent {
        return Err(RpcError::task_not_found(id));
    }
    Ok(view)
}
