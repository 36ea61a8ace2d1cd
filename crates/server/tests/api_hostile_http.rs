//! Hostile HTTP clients: connections over the caps, idle and slowloris connections, large bodies
//! from signers that are not registered, a spent body budget, the wrong media type, the bearer
//! scheme's case, nonces far from the clock, and the data directory's permissions.

mod common;

use colony_core::command::Heartbeat;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use colony_core::{Command, Signer};
use colony_wire::{Envelope, SignedEnvelope};
use common::*;

/// A plain TCP connection to `addr` from `source` (any address of the loopback network). std cannot
/// bind before connecting; tokio's socket can, then hands back the std stream.
async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.bind(format!("{source}:0").parse().expect("an address")).expect("bind the source");
    let stream = socket.connect(addr).await.expect("connect");
    stream.into_std().expect("a std stream")
}

/// Sends a health check on `stream` and returns the status line's code, or `None` if the server
/// closed the connection without answering.
fn health_on(mut stream: TcpStream) -> Option<u16> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(b"GET /v1/health/live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// How long until the server closes `stream` (reads nothing more), at most `limit`.
fn time_until_closed(mut stream: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return Some(started.elapsed()),
            Err(_) => return None,
        }
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.expect("the blocking work ran")
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_cap_are_closed_at_once_and_their_places_come_back() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.max_connections = Some(4);
    settings.max_connections_per_ip = Some(4);
    let server = start(settings).await;
    let addr = server.addr;
    let (held, over) = blocking(move || {
        let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        let over = health_on(TcpStream::connect(addr).unwrap());
        assert!(started.elapsed() < Duration::from_secs(2), "the connection over the cap was closed at once");
        (held, over)
    })
    .await;
    assert_eq!(over, None, "a connection over the cap gets no answer");
    drop(held);
    let status = poll_until("a place for a health check", || async move {
        blocking(move || health_on(TcpStream::connect(addr).unwrap())).await
    })
    .await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_peer_cannot_take_every_place() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.max_connections = Some(100);
    settings.max_connections_per_ip = Some(3);
    let server = start(settings).await;
    let addr = server.addr;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.1", addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fourth = connect_from("127.0.0.1", addr).await;
    let elsewhere = connect_from("127.0.0.2", addr).await;
    let (one, other) = blocking(move || (health_on(fourth), health_on(elsewhere))).await;
    drop(held);
    assert_eq!(one, None, "the fourth connection of one peer is closed");
    assert_eq!(other, Some(200), "another peer still finds room");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slowloris_connections_are_closed_after_the_header_read_timeout() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.header_read_timeout = Duration::from_secs(1);
    let server = start(settings).await;
    let addr = server.addr;
    let limit = Duration::from_secs(6);

    // A connection that never sends a byte.
    let idle = blocking(move || time_until_closed(TcpStream::connect(addr).unwrap(), limit)).await;
    let idle = idle.expect("an idle connection is closed");
    assert!(idle >= Duration::from_millis(900) && idle < Duration::from_secs(4), "{idle:?}");

    // A head trickled a header line at a time, never finished.
    let slowloris = blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        stream.write_all(b"GET /v1/health/live HTTP/1.1\r\nhost: x\r\n").unwrap();
        let reader = stream.try_clone().unwrap();
        let closed = std::thread::spawn(move || time_until_closed(reader, limit));
        for index in 0..30 {
            if stream.write_all(format!("x-slow-{index}: y\r\n").as_bytes()).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            if started.elapsed() > limit {
                break;
            }
        }
        closed.join().unwrap()
    })
    .await;
    let slowloris = slowloris.expect("a slowloris connection is closed");
    assert!(slowloris < Duration::from_secs(4), "{slowloris:?}");

    // A keep-alive connection that answered a request and then waits for the next one.
    let kept = blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"GET /v1/health/live HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        stream.set_read_timeout(Some(limit)).unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
        time_until_closed(stream, limit)
    })
    .await;
    let kept = kept.expect("an idle keep-alive connection is closed");
    assert!(kept < Duration::from_secs(4), "{kept:?}");

    // The server still answers.
    assert_eq!(server.get_raw("/v1/health/live", None).await.status, 200);
    server.shutdown().await;
}

/// The head of a POST to `path` declaring `length` bytes, with the given extra header lines.
fn post_head(path: &str, length: usize, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\
         colony-signature: {}\r\n{extra}connection: close\r\n\r\n",
        "00".repeat(64)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn large_bodies_are_read_only_from_registered_signers() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    let before = server.hash().await;

    // Only heads are sent: each is refused before a byte of its body is read (a server that waited
    // for the body would not answer within the exchange's time limit).
    for path in ["/v1/batch", "/v1/commands", "/v1/bus/publish", "/v1/bus/request"] {
        let nonce = format!("colony-nonce: {}\r\n", now_ms() * 1_000);
        let raw = server
            .exchange_raw(post_head(path, 100 << 10, &format!("colony-signer: ghost-1\r\n{nonce}")), Vec::new())
            .await;
        let problem = raw.expect_problem(413, "payload_too_large", None);
        assert!(problem.detail.contains("65536") && problem.detail.contains("registered"), "{path}: {problem}");
        let raw = server.exchange_raw(post_head(path, 100 << 10, &nonce), Vec::new()).await;
        if path.starts_with("/v1/bus") {
            raw.expect_problem(401, "unauthenticated", None);
        } else {
            raw.expect_problem(401, "unauthenticated", Some("colony-signer"));
        }
    }
    // A deregistered agent is no longer registered.
    server.operator.deregister(id("scout-1")).await.unwrap();
    let raw = server.exchange_raw(post_head("/v1/batch", 100 << 10, "colony-signer: scout-1\r\n"), Vec::new()).await;
    raw.expect_problem(413, "payload_too_large", None);
    // Chunked, without a length: refused once it grows past the allowance.
    let chunked = format!(
        "POST /v1/batch HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\
         colony-signer: ghost-1\r\ncolony-signature: {}\r\nconnection: close\r\n\r\n{:x}\r\n",
        "00".repeat(64),
        100 << 10
    );
    let raw = server.exchange_raw(chunked, vec![b' '; (64 << 10) + 1]).await;
    raw.expect_problem(413, "payload_too_large", None);

    // A self-registration still fits, and goes through.
    server.self_registers("scout-2", "scout", &["search", "summarize"]).await;
    assert_eq!(server.hash().await.sequence, before.sequence + 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_envelope_signer_must_be_the_header_signer() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (_, scout_key) = server.operator_registers("scout-1", "scout").await;
    let before = server.hash().await;
    let signed = Envelope {
        signer: Signer::Agent(id("scout-1")),
        nonce: now_ms() * 1_000,
        commands: vec![Command::Heartbeat(Heartbeat {})],
    }
    .sign(&scout_key);
    // Named as the operator in the head (so the server reads as much as the operator may send).
    let head = format!(
        "POST /v1/commands HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         colony-signer: operator\r\ncolony-signature: {}\r\nconnection: close\r\n\r\n",
        signed.body.len(),
        hex::encode(signed.signature)
    );
    let raw = server.exchange_raw(head, signed.body.clone()).await;
    let problem = raw.expect_problem(400, "signer_mismatch", Some("signer"));
    assert!(problem.detail.contains("colony-signer"), "{problem}");
    assert_eq!(problem.title, "Signer mismatch");
    assert_eq!(server.hash().await, before);
    // The same envelope under the right header is applied.
    assert_eq!(server.post_signed_raw("/v1/commands", &signed).await.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_body_budget_refuses_with_overloaded_and_recovers() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.body_budget_bytes = 100 << 10;
    let server = start(settings).await;
    let addr = server.addr;

    // One request holds 90 KiB of a 200 KiB body.
    let holder = blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(post_head("/v1/batch", 200 << 10, "colony-signer: operator\r\n").as_bytes()).unwrap();
        stream.write_all(&vec![b' '; 90 << 10]).unwrap();
        stream
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A valid 50 KiB envelope does not fit beside it.
    let envelope = Envelope {
        signer: Signer::Operator,
        nonce: now_ms() * 1_000,
        commands: vec![Command::Heartbeat(Heartbeat {})],
    };
    let mut body = serde_json::to_vec(&envelope).unwrap();
    body.extend(std::iter::repeat_n(b' ', 50 << 10));
    let padded =
        SignedEnvelope { signature: server.operator_key.sign(&colony_wire::envelope::signing_message(&body)), body };
    let before = server.hash().await;
    let raw = server.post_signed_raw("/v1/batch", &padded).await;
    raw.expect_problem(503, "overloaded", None);
    assert_eq!(raw.headers.get("retry-after").and_then(|value| value.to_str().ok()), Some("1"));
    assert_eq!(server.hash().await, before);

    // Once the holder goes away, its bytes come back.
    drop(holder);
    let status = poll_until("the budget to come back", || {
        let server = &server;
        let padded = padded.clone();
        async move {
            let raw = server.post_signed_raw("/v1/batch", &padded).await;
            (raw.status != 503).then_some(raw.status)
        }
    })
    .await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn post_bodies_must_be_json() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let before = server.hash().await;
    let http = reqwest::Client::new();
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/jsonx"), None]
    {
        for path in ["/v1/commands", "/v1/batch", "/v1/bus/publish", "/v1/bus/request"] {
            let signed = scout.identity().unwrap().sign(vec![Command::Heartbeat(Heartbeat {})]);
            let mut request = http
                .post(format!("{}{path}", server.url))
                .header("colony-signer", "scout-1")
                .header("colony-nonce", (now_ms() * 1_000).to_string())
                .header("colony-signature", hex::encode(signed.signature))
                .body(signed.body);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 415, "{content_type:?} to {path}");
            let problem: colony_wire::Problem = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            assert_eq!(problem.code, "unsupported_media_type");
            assert_eq!(problem.title, "Unsupported media type");
            assert_eq!(problem.field.as_deref(), Some("content-type"));
        }
    }
    assert_eq!(server.hash().await, before, "no text/plain body was applied");
    // Parameters are allowed, and the media type is case-insensitive.
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let signed = scout.identity().unwrap().sign(vec![Command::Heartbeat(Heartbeat {})]);
        let response = http
            .post(format!("{}/v1/commands", server.url))
            .header("content-type", content_type)
            .header("colony-signer", "scout-1")
            .header("colony-signature", hex::encode(signed.signature))
            .body(signed.body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{content_type}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_scheme_is_case_insensitive() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let token = colony_wire::read_auth::generate_token();
    server.operator.issue_read_token(&token, "dashboard", None).await.unwrap();
    let http = reqwest::Client::new();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = http
            .get(format!("{}/v1/status", server.url))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{scheme}");
    }
    let response =
        http.get(format!("{}/v1/status", server.url)).header("authorization", format!("Basic {token}")).send().await;
    assert_eq!(response.unwrap().status().as_u16(), 401);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_nonces_are_bounded_by_the_clock() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, scout_key) = server.self_registers("scout-1", "scout", &[]).await;
    let (_, fresh_key) = server.operator_registers("scout-2", "scout").await;
    let before = server.hash().await;
    let now_us = now_ms() * 1_000;
    let day_us = 86_400 * 1_000_000;
    let six_minutes_us = 6 * 60 * 1_000_000;
    for nonce in [1, now_us - six_minutes_us, now_us + six_minutes_us, now_us + day_us, u64::MAX] {
        for (signer, key) in [(Signer::Agent(id("scout-1")), &scout_key), (Signer::Operator, &server.operator_key)] {
            let signed = Envelope { signer, nonce, commands: vec![Command::Heartbeat(Heartbeat {})] }.sign(key);
            let raw = server.post_signed_raw("/v1/commands", &signed).await;
            let problem = raw.expect_problem(400, "nonce_out_of_window", Some("nonce"));
            assert_eq!(problem.title, "Nonce out of window");
        }
    }
    assert_eq!(server.hash().await, before, "no nonce far from the clock was spent");
    // Within the window either way, it is accepted (a waiting fetch signs up to 30 s ahead), by an
    // agent that has spent no nonce yet.
    for nonce in [now_us - 60_000_000, now_us + 60_000_000] {
        let signed =
            Envelope { signer: Signer::Agent(id("scout-2")), nonce, commands: vec![Command::Heartbeat(Heartbeat {})] }
                .sign(&fresh_key);
        assert_eq!(server.post_signed_raw("/v1/commands", &signed).await.status, 200);
    }
    // The client's own nonces are the current time.
    scout.heartbeat().await.unwrap();
    server.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    let server = start_in(&data).await;
    server.operator_registers("scout-1", "scout").await;
    assert_eq!(mode(&data), 0o700, "a new data directory");
    for name in ["colony.db", "colony.db-wal", "colony.db-shm", "operator.key", "colony.lock"] {
        let path = data.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
    assert!(data.join("colony.db").exists());
    server.shutdown().await;

    // An existing directory left open to others is tightened at start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    for name in ["colony.db", "colony.db-wal", "colony.db-shm"] {
        let path = data.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let server = start_in(&data).await;
    assert_eq!(mode(&data), 0o700, "an existing data directory");
    for name in ["colony.db", "colony.db-wal", "colony.db-shm"] {
        let path = data.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
    server.shutdown().await;
}
