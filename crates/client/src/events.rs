//! Reading server-sent event streams: the state-change events and bus subscriptions.

use colony_core::Event;

use crate::ClientError;

/// Frames of a `text/event-stream` response: `(event name, data)`.
pub(crate) struct SseFrames {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl SseFrames {
    pub(crate) fn new(response: reqwest::Response) -> SseFrames {
        SseFrames { response, buffer: Vec::new() }
    }

    /// The next frame with data (keep-alive comments are skipped); `None` when the stream ends.
    pub(crate) async fn next(&mut self) -> Option<Result<(String, String), ClientError>> {
        loop {
            if let Some(end) = find_frame_end(&self.buffer) {
                let frame: Vec<u8> = self.buffer.drain(..end.0 + end.1).collect();
                let frame = String::from_utf8_lossy(&frame[..end.0]).into_owned();
                let mut kind = String::from("message");
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        kind = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        if !data.is_empty() {
                            data.push('\n');
                        }
                        data.push_str(value.strip_prefix(' ').unwrap_or(value));
                    }
                }
                if data.is_empty() {
                    continue; // A keep-alive comment.
                }
                return Some(Ok((kind, data)));
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
                Ok(None) => return None,
                Err(error) => return Some(Err(ClientError::Transport(error.to_string()))),
            }
        }
    }
}

/// A stream of events from `GET /v1/events`.
pub struct EventStream {
    frames: SseFrames,
}

impl EventStream {
    pub(crate) fn new(response: reqwest::Response) -> EventStream {
        EventStream { frames: SseFrames::new(response) }
    }

    /// The next event; `None` when the server ends the stream. A `lagged` notice from the server (this
    /// reader fell behind) is returned as an error.
    pub async fn next(&mut self) -> Option<Result<Event, ClientError>> {
        let (kind, data) = match self.frames.next().await? {
            Ok(frame) => frame,
            Err(error) => return Some(Err(error)),
        };
        if kind == "lagged" {
            return Some(Err(ClientError::Transport(format!("the event stream lagged: {data}"))));
        }
        Some(serde_json::from_str(&data).map_err(|error| ClientError::Decode(error.to_string())))
    }
}

/// The end of the first complete frame: `(content length, separator length)`.
fn find_frame_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|window| window == b"\n\n").map(|position| (position, 2));
    let crlf = buffer.windows(4).position(|window| window == b"\r\n\r\n").map(|position| (position, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}
