//! The bus over WebSocket: `GET /v1/bus/ws`, authenticated once when the connection opens (with read
//! credentials), then JSON text frames both ways (see `colony_wire::bus::ClientFrame` and
//! `ServerFrame`).
//!
//! Each connection has two halves. The reader handles the client's frames in order (subscribe,
//! publish, request, ping). The writer owns the socket's sending side and sleeps on one `Notify`
//! shared by all the connection's subscription buffers and its control channel, so a connection with
//! many subscriptions still has one task writing, and publishers never wait for it: a client that
//! reads slowly loses its own oldest messages (reported in `dropped` frames), nobody else's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use colony_core::Signer;
use colony_wire::Problem;
use colony_wire::bus::{ClientFrame, ClientOp, REQUEST_TIMEOUT_MS_DEFAULT, ServerFrame, ServerOp};
use colony_wire::problem::ServerCode;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::{Notify, mpsc};

use super::auth::Reader;
use super::bus::{BATCH_MESSAGES_MAX, request_reply, subscribe_request};
use super::{ApiError, AppState};
use crate::bus::{SubscriptionHandle, Transport, check_may_publish};

/// A client frame is at most this large (a message with its largest payload, and room to spare).
pub const FRAME_BYTES_MAX: usize = 256 << 10;
/// One connection holds at most this many subscriptions.
pub const SUBSCRIPTIONS_PER_CONNECTION_MAX: usize = 1_024;
/// One connection waits for at most this many replies at once.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 256;
/// Control frames (acknowledgements, errors, replies) waiting for the writer at most; beyond this
/// the reader waits, which slows only this connection's client.
const CONTROL_FRAMES_MAX: usize = 1_024;
/// The writer takes at most about this many bytes of messages out of its mailboxes before it writes
/// them, so that a slow reader with many subscriptions holds little outside the bus's budget.
const FRAME_BYTES_PER_PASS_MAX: usize = 1 << 20;
/// A write to a client that makes no progress for this long ends its connection.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// A subscription id is at most this long.
const SID_BYTES_MAX: usize = 64;

/// `GET /v1/bus/ws`: upgrades to a WebSocket.
pub async fn upgrade(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<Reader>,
    socket: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // A request that is not a WebSocket handshake is answered with a problem, like every error, and
    // always as a malformed request (see `ServerCode::MalformedRequest`), whatever status axum's
    // rejection suggests.
    let socket = socket.map_err(|rejection| {
        ApiError::new(
            ServerCode::MalformedRequest,
            format!("{}: this endpoint takes a WebSocket handshake", rejection.body_text()),
        )
        .with_field("upgrade")
    })?;
    // A signed connection publishes as its signer without signing each frame: the signed read that
    // opens it is single-use (spent by the authentication layer, as for every stream).
    Ok(socket.max_message_size(FRAME_BYTES_MAX).on_upgrade(move |socket| serve(app, reader, socket)))
}

/// A subscription of this connection: the client's id for it (already encoded as a JSON string, so
/// that each message frame is assembled without another encoding step) and the handle.
struct ConnectionSubscription {
    sid: String,
    sid_json: String,
    handle: SubscriptionHandle,
}

type Subscriptions = Arc<std::sync::Mutex<Vec<ConnectionSubscription>>>;

async fn serve(app: AppState, reader: Reader, socket: WebSocket) {
    let (sink, mut stream) = socket.split();
    let notify = Arc::new(Notify::new());
    let subscriptions: Subscriptions = Arc::default();
    let (control, control_receiver) = mpsc::channel::<String>(CONTROL_FRAMES_MAX);
    let mut writer = tokio::spawn(write_loop(
        sink,
        Arc::clone(&notify),
        Arc::clone(&subscriptions),
        control_receiver,
        app.shutdown.clone(),
    ));
    let requests_in_flight = Arc::new(AtomicUsize::new(0));
    let mut requests = tokio::task::JoinSet::new();
    let mut shutdown = app.shutdown.clone();
    let mut recheck = tokio::time::interval(super::auth::CREDENTIALS_RECHECK);
    let mut writer_finished = false;
    loop {
        let frame = tokio::select! {
            frame = stream.next() => Some(frame),
            _ = shutdown.wait_for(|stopping| *stopping) => break,
            // The writer gave up on a client that stopped reading: the connection is over.
            _ = &mut writer => {
                writer_finished = true;
                break;
            }
            // A connection lives no longer than its credentials: an agent that deregistered, a
            // token revoked or expired, ends it.
            _ = recheck.tick() => if super::auth::credentials_hold(&app, &reader) { continue } else { None },
        };
        let Some(frame) = frame else {
            let problem =
                Problem::new(ServerCode::Unauthenticated, "the credentials of this connection no longer hold");
            let _ = send(&control, ServerFrame::error(None, problem)).await;
            break;
        };
        while requests.try_join_next().is_some() {}
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                let problem = Problem::new(ServerCode::MalformedRequest, "frames are JSON text, not binary");
                if send(&control, ServerFrame::error(None, problem)).await.is_err() {
                    break;
                }
                continue;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
        };
        let frame: ClientFrame = match serde_json::from_str(&text) {
            Ok(frame) => frame,
            Err(error) => {
                let problem = Problem::new(ServerCode::MalformedRequest, error.to_string());
                if send(&control, ServerFrame::error(None, problem)).await.is_err() {
                    break;
                }
                continue;
            }
        };
        let connection = Connection {
            notify: &notify,
            subscriptions: &subscriptions,
            control: &control,
            requests_in_flight: &requests_in_flight,
        };
        let answer = handle_frame(&app, &reader, frame, &connection, &mut requests);
        if let Some(answer) = answer
            && send(&control, answer).await.is_err()
        {
            break;
        }
    }
    // Requests still waiting die with the connection; dropping the handles unsubscribes; dropping
    // the control sender lets the writer finish.
    requests.abort_all();
    subscriptions.lock().expect("subscriptions lock").clear();
    drop(control);
    notify.notify_one();
    if !writer_finished {
        let _ = writer.await;
    }
}

async fn send(control: &mpsc::Sender<String>, frame: ServerFrame) -> Result<(), ()> {
    control.send(serde_json::to_string(&frame).expect("frames encode")).await.map_err(|_| ())
}

/// What a frame handler may touch of its connection.
struct Connection<'a> {
    notify: &'a Arc<Notify>,
    subscriptions: &'a Subscriptions,
    control: &'a mpsc::Sender<String>,
    requests_in_flight: &'a Arc<AtomicUsize>,
}

fn handle_frame(
    app: &AppState,
    reader: &Reader,
    frame: ClientFrame,
    connection: &Connection<'_>,
    requests: &mut tokio::task::JoinSet<()>,
) -> Option<ServerFrame> {
    let Connection { notify, subscriptions, control, requests_in_flight } = *connection;
    let missing = |field: &str, about: Option<String>| {
        Some(ServerFrame::error(
            about,
            Problem::new(ServerCode::MalformedRequest, format!("'{field}' is required for this op")).with_field(field),
        ))
    };
    match frame.op {
        ClientOp::Ping => Some(ServerFrame::new(ServerOp::Pong)),
        ClientOp::Sub => {
            let Some(sid) = frame.sid else { return missing("sid", None) };
            let Some(subject) = frame.subject else { return missing("subject", Some(sid)) };
            let refuse = |problem: Problem| Some(ServerFrame::error(Some(sid.clone()), problem));
            if sid.is_empty() || sid.len() > SID_BYTES_MAX {
                return refuse(
                    Problem::new(ServerCode::MalformedRequest, format!("sid must be 1 to {SID_BYTES_MAX} bytes"))
                        .with_field("sid"),
                );
            }
            let mut open = subscriptions.lock().expect("subscriptions lock");
            if open.iter().any(|subscription| subscription.sid == sid) {
                return refuse(
                    Problem::new(ServerCode::MalformedRequest, format!("subscription '{sid}' is already open"))
                        .with_field("sid"),
                );
            }
            if open.len() >= SUBSCRIPTIONS_PER_CONNECTION_MAX {
                return refuse(Problem::new(
                    ServerCode::BusLimitReached,
                    format!("a connection holds at most {SUBSCRIPTIONS_PER_CONNECTION_MAX} subscriptions"),
                ));
            }
            let request = match subscribe_request(reader, &subject, frame.queue.as_deref(), None, Transport::WebSocket)
            {
                Ok(request) => request,
                Err(error) => return refuse(error.into_problem()),
            };
            match app.bus.router.subscribe(request, Arc::clone(notify)) {
                Ok(handle) => {
                    let sid_json = serde_json::to_string(&sid).expect("strings encode");
                    open.push(ConnectionSubscription { sid: sid.clone(), sid_json, handle });
                    Some(ServerFrame { sid: Some(sid), ..ServerFrame::new(ServerOp::Ok) })
                }
                Err(problem) => refuse(problem),
            }
        }
        ClientOp::Unsub => {
            let Some(sid) = frame.sid else { return missing("sid", None) };
            let mut open = subscriptions.lock().expect("subscriptions lock");
            let before = open.len();
            open.retain(|subscription| subscription.sid != sid);
            (open.len() == before).then(|| {
                ServerFrame::error(
                    Some(sid.clone()),
                    Problem::new(ServerCode::NotFound, format!("no subscription '{sid}' on this connection"))
                        .with_field("sid"),
                )
            })
        }
        ClientOp::Pub => {
            let Some(message) = frame.message else { return missing("message", frame.tag) };
            let signer = match publishing_signer(reader) {
                Ok(signer) => signer,
                Err(error) => return Some(ServerFrame::error(frame.tag, error.into_problem())),
            };
            // A state no reader may see refuses the publish (503 `unavailable`) like any other.
            let checked = message.validate("message.").map_err(ApiError::from).and_then(|subject| {
                check_may_publish(&*app.state()?, signer)?;
                Ok(subject)
            });
            match checked {
                Ok(subject) => {
                    app.bus.publish(signer, app.clock.now_ms(), &subject, message);
                    None
                }
                Err(error) => Some(ServerFrame::error(frame.tag, error.into_problem())),
            }
        }
        ClientOp::Request => {
            let Some(rid) = frame.rid else { return missing("rid", None) };
            let Some(message) = frame.message else { return missing("message", Some(rid)) };
            let signer = match publishing_signer(reader) {
                Ok(signer) => signer.clone(),
                Err(error) => return Some(ServerFrame::error(Some(rid), error.into_problem())),
            };
            if requests_in_flight.fetch_add(1, Ordering::SeqCst) >= REQUESTS_IN_FLIGHT_MAX {
                requests_in_flight.fetch_sub(1, Ordering::SeqCst);
                return Some(ServerFrame::error(
                    Some(rid),
                    Problem::new(
                        ServerCode::BusLimitReached,
                        format!("a connection waits for at most {REQUESTS_IN_FLIGHT_MAX} replies at once"),
                    ),
                ));
            }
            let app = app.clone();
            let control = control.clone();
            let requests_in_flight = Arc::clone(requests_in_flight);
            let timeout_ms = frame.timeout_ms.unwrap_or(REQUEST_TIMEOUT_MS_DEFAULT);
            requests.spawn(async move {
                let frame = match request_reply(&app, &signer, message, timeout_ms).await {
                    Ok(reply) => {
                        let rid_json = serde_json::to_string(&rid).expect("strings encode");
                        format!("{{\"op\":\"reply\",\"rid\":{rid_json},\"message\":{reply}}}")
                    }
                    Err(error) => serde_json::to_string(&ServerFrame::error(Some(rid), error.into_problem()))
                        .expect("frames encode"),
                };
                requests_in_flight.fetch_sub(1, Ordering::SeqCst);
                let _ = control.send(frame).await;
            });
            None
        }
    }
}

fn publishing_signer(reader: &Reader) -> Result<&Signer, ApiError> {
    match reader {
        Reader::Signer(signer) => Ok(signer),
        Reader::Token { .. } => Err(ApiError::new(
            ServerCode::Forbidden,
            "a connection opened with a read token can subscribe but not publish; sign the upgrade request instead",
        )),
    }
}

/// Writes control frames and subscription messages until the connection ends.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    notify: Arc<Notify>,
    subscriptions: Subscriptions,
    mut control: mpsc::Receiver<String>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut taken = Vec::with_capacity(BATCH_MESSAGES_MAX);
    let mut frames: Vec<String> = Vec::with_capacity(BATCH_MESSAGES_MAX);
    // Where the next pass starts, so that a byte cap on one pass stays fair between subscriptions.
    let mut start = 0usize;
    loop {
        // A push after this point leaves a permit, so the wait below cannot miss it.
        let notified = notify.notified();
        while let Ok(frame) = control.try_recv() {
            frames.push(frame);
        }
        {
            let open = subscriptions.lock().expect("subscriptions lock");
            let count = open.len();
            let mut frame_bytes = 0usize;
            start = if count == 0 { 0 } else { (start + 1) % count };
            for subscription in open.iter().cycle().skip(start).take(count) {
                // Frames taken out of mailboxes no longer count against the bus's byte budget: cap
                // what one pass holds before it is written.
                if frame_bytes >= FRAME_BYTES_PER_PASS_MAX {
                    break;
                }
                taken.clear();
                let Some(batch) = subscription.handle.subscriber().mailbox().take(&mut taken, BATCH_MESSAGES_MAX)
                else {
                    continue;
                };
                frame_bytes += taken.iter().map(|message| message.len()).sum::<usize>();
                if batch.dropped > 0 {
                    frames.push(format!(
                        "{{\"op\":\"dropped\",\"sid\":{},\"count\":{},\"total\":{}}}",
                        subscription.sid_json, batch.dropped, batch.dropped_total
                    ));
                }
                for message in taken.drain(..) {
                    frames.push(format!("{{\"op\":\"msg\",\"sid\":{},\"message\":{message}}}", subscription.sid_json));
                }
            }
        }
        if frames.is_empty() {
            tokio::select! {
                _ = notified => continue,
                frame = control.recv() => match frame {
                    Some(frame) => frames.push(frame),
                    None => break,
                },
                _ = shutdown.wait_for(|stopping| *stopping) => break,
            }
        }
        // A client that stops reading altogether would hold this task and its socket forever: a
        // write that makes no progress for WRITE_TIMEOUT ends the connection.
        for frame in frames.drain(..) {
            match tokio::time::timeout(WRITE_TIMEOUT, sink.feed(Message::Text(Utf8Bytes::from(frame)))).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
        if !matches!(tokio::time::timeout(WRITE_TIMEOUT, sink.flush()).await, Ok(Ok(()))) {
            return;
        }
    }
    let _ = sink.send(Message::Close(None)).await;
}
