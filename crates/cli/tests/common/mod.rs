//! Shared helpers for the end-to-end tests of the `colony` binary: a server child process on a free port
//! (killed when the guard drops, even when a test fails), CLI invocations with a time limit, and a
//! dependency-free HTTP probe for readiness.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The `colony` binary under test.
pub const COLONY: &str = env!("CARGO_BIN_EXE_colony");

/// How long a server may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one CLI call may take before the test fails.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// The start of the line `colony serve` prints once it listens (address, recovery, snapshot).
pub const STARTED_LINE: &str = "colony listening on ";

/// How long a server may take to stop after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Numbers the log files of server and CLI runs, so that no run overwrites another's.
static RUN_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn next_run() -> usize {
    RUN_COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A port that was free a moment ago (bind port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("a local address").port()
}

/// The status code of `GET path` on 127.0.0.1:port, or `None` if nothing answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    let text = std::str::from_utf8(&head).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.trim().parse().ok()
}

/// The last `max` bytes of a file, for failure messages.
pub fn tail_of(path: &Path, max: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Waits for `child` to exit, at most `timeout`; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A server that exited instead of becoming ready.
#[derive(Debug)]
pub struct StartFailure {
    /// Its exit status.
    pub status: ExitStatus,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// A `colony serve` child process. Dropping it kills the process (SIGKILL) if it still runs, so a failing
/// test never leaves a server behind.
pub struct ServerProcess {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
    /// Its data directory.
    pub data: PathBuf,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
}

impl ServerProcess {
    /// Starts `colony serve --data DATA` on a free port and waits until it is ready and has printed its
    /// start-up line; panics if it does not. Output goes to files in `logs`.
    pub fn start(data: &Path, logs: &Path, extra_args: &[&str]) -> ServerProcess {
        match ServerProcess::try_start(data, logs, extra_args) {
            Ok(server) => server,
            Err(failure) => panic!(
                "the server on {} exited with {} instead of becoming ready\nstdout:\n{}\nstderr:\n{}",
                data.display(),
                failure.status,
                failure.stdout,
                failure.stderr
            ),
        }
    }

    /// Starts a server and waits until it is ready and has printed its start-up line, or returns how it
    /// failed if it exits first. A start that fails because the chosen port was taken meanwhile is
    /// retried on another port.
    pub fn try_start(data: &Path, logs: &Path, extra_args: &[&str]) -> Result<ServerProcess, StartFailure> {
        const ATTEMPTS: usize = 10;
        std::fs::create_dir_all(logs).expect("create the logs directory");
        for attempt in 1..=ATTEMPTS {
            let port = free_port();
            let run = next_run();
            let stdout_path = logs.join(format!("server-{run}.stdout"));
            let stderr_path = logs.join(format!("server-{run}.stderr"));
            let child = Command::new(COLONY)
                .arg("serve")
                .arg("--data")
                .arg(data)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .args(extra_args)
                .current_dir(logs)
                .env_remove("COLONY_DATA")
                .env_remove("COLONY_LISTEN")
                .env_remove("COLONY_LOG")
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&stdout_path).expect("create the stdout file"))
                .stderr(std::fs::File::create(&stderr_path).expect("create the stderr file"))
                .spawn()
                .expect("spawn colony serve");
            let mut server =
                ServerProcess { child: Some(child), port, data: data.to_path_buf(), stdout_path, stderr_path };
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                let child = server.child.as_mut().expect("the child is running");
                if let Some(status) = child.try_wait().expect("poll the server") {
                    server.child = None;
                    let failure = StartFailure { status, stdout: server.stdout(), stderr: server.stderr() };
                    if failure.stderr.contains("cannot listen") && attempt < ATTEMPTS {
                        break; // the port was taken between probing and binding: try another
                    }
                    return Err(failure);
                }
                // The server answers ready before `colony serve` prints its start-up line, and tests
                // read that line (how recovery went): a start is complete only once both happened.
                if server.stdout().contains(STARTED_LINE) && http_status(port, "/v1/health/ready") == Some(200) {
                    return Ok(server);
                }
                assert!(
                    Instant::now() < deadline,
                    "the server on {} was not ready within {READY_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                    data.display(),
                    server.stdout(),
                    server.stderr()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        unreachable!("every attempt either returns or retries")
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// What the server printed on stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// What the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap the process.
    pub fn kill(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("reap the server")
    }

    /// SIGTERM, then wait for the server to exit on its own.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        let sent = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM {} failed", child.id());
        match wait_timeout(&mut child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not stop within {STOP_TIMEOUT:?} of SIGTERM\nstdout:\n{}", self.stdout());
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- server on port {} (data {}) stdout tail:\n{}\n--- stderr tail:\n{}",
                self.port,
                self.data.display(),
                tail_of(&self.stdout_path, 4_000),
                tail_of(&self.stderr_path, 4_000)
            );
        }
    }
}

/// The result of one CLI call.
#[derive(Debug)]
pub struct CliOutput {
    /// The command line, for messages.
    pub command_line: String,
    /// How it exited.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl CliOutput {
    /// Panics unless the call exited 0; returns stdout.
    pub fn ok(&self) -> &str {
        assert!(
            self.status.success(),
            "`{}` failed with {}\nstdout:\n{}\nstderr:\n{}",
            self.command_line,
            self.status,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Panics unless the call exited non-zero; returns stderr.
    pub fn failed(&self) -> &str {
        assert!(
            !self.status.success(),
            "`{}` succeeded but should have failed\nstdout:\n{}\nstderr:\n{}",
            self.command_line,
            self.stdout,
            self.stderr
        );
        &self.stderr
    }

    /// Stdout parsed as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|error| panic!("`{}` printed invalid JSON ({error}):\n{}", self.command_line, self.stdout))
    }
}

/// Runs `colony ARGS` in `cwd` (so the `./colony-data` fallback finds nothing unexpected), with the
/// `COLONY_*` environment cleared, and a time limit.
pub fn colony(cwd: &Path, args: &[&str]) -> CliOutput {
    let run = next_run();
    let stdout_path = cwd.join(format!(".cli-{run}.stdout"));
    let stderr_path = cwd.join(format!(".cli-{run}.stderr"));
    let command_line = format!("colony {}", args.join(" "));
    let mut child = Command::new(COLONY)
        .args(args)
        .current_dir(cwd)
        .env_remove("COLONY_SERVER")
        .env_remove("COLONY_KEY")
        .env_remove("COLONY_READ_TOKEN")
        .env_remove("COLONY_DATA")
        .env_remove("COLONY_LISTEN")
        .env_remove("COLONY_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("create the stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("create the stderr file"))
        .spawn()
        .unwrap_or_else(|error| panic!("spawn `{command_line}`: {error}"));
    let status = match wait_timeout(&mut child, CLI_TIMEOUT) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{command_line}` did not finish within {CLI_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                tail_of(&stdout_path, 4_000),
                tail_of(&stderr_path, 4_000)
            );
        }
    };
    let stdout = std::fs::read_to_string(&stdout_path).expect("read the stdout file");
    let stderr = std::fs::read_to_string(&stderr_path).expect("read the stderr file");
    let _ = std::fs::remove_file(&stdout_path);
    let _ = std::fs::remove_file(&stderr_path);
    CliOutput { command_line, status, stdout, stderr }
}

/// Whether `text` mentions `entry N` for exactly this N (not `entry N0`, `entry 1N`).
pub fn names_entry(text: &str, sequence: u64) -> bool {
    let needle = format!("entry {sequence}");
    text.match_indices(&needle).any(|(position, _)| {
        let after = text[position + needle.len()..].chars().next();
        let before = text[..position].chars().next_back();
        !after.is_some_and(|character| character.is_ascii_digit())
            && !before.is_some_and(|character| character.is_ascii_alphanumeric())
    })
}

/// `colony audit verify --data DIR --json`, which must succeed; returns its report.
pub fn audit_ok(cwd: &Path, data: &Path) -> serde_json::Value {
    let output = colony(cwd, &["audit", "verify", "--data", data.to_str().expect("a UTF-8 path"), "--json"]);
    let report = output.json();
    assert_eq!(report["ok"], serde_json::Value::Bool(true), "the audit did not report ok: {report}");
    report
}

/// Copies the files of a data directory (not recursively: it holds only files).
pub fn copy_data_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("list the data directory") {
        let entry = entry.expect("a directory entry");
        let file_type = entry.file_type().expect("a file type");
        if file_type.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a data file");
        } else if file_type.is_dir() {
            // The snapshots.
            copy_data_dir(&entry.path(), &to.join(entry.file_name()));
        }
    }
}

/// SplitMix64: a tiny deterministic PRNG for the crash tests, so that a printed seed reruns a run.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }

    /// A number below `bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// A number in `range`.
    pub fn in_range(&mut self, range: std::ops::RangeInclusive<u64>) -> u64 {
        range.start() + self.below(range.end() - range.start() + 1)
    }

    /// An independent generator seeded from this one.
    pub fn fork(&mut self) -> Rng {
        Rng(self.next())
    }
}

/// What every CLI test starts from: a server on fresh data in a temporary directory, a working
/// directory, and the binary pointed at the server. Keys live beside the data, one file per agent.
pub struct CliSession {
    /// Stopped when the session drops, before the temporary directory it writes to is removed
    /// (fields drop in declaration order).
    pub server: ServerProcess,
    /// The server's base URL.
    pub url: String,
    /// The data directory.
    pub data: PathBuf,
    /// Where the CLI runs.
    pub work: PathBuf,
    /// The operator's key file.
    pub operator: String,
    temp: tempfile::TempDir,
}

impl CliSession {
    /// Starts a server on new data.
    pub fn start() -> CliSession {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let data = temp.path().join("data");
        let work = temp.path().join("work");
        std::fs::create_dir_all(&work).expect("create the working directory");
        let server = ServerProcess::start(&data, &temp.path().join("logs"), &[]);
        let url = server.url();
        let operator = data.join("operator.key").to_str().expect("a UTF-8 path").to_owned();
        CliSession { server, url, data, work, operator, temp }
    }

    /// The key file of agent `name` (made by [`CliSession::agent`] or `keygen`).
    pub fn key(&self, name: &str) -> String {
        self.temp.path().join(format!("{name}.key")).to_str().expect("a UTF-8 path").to_owned()
    }

    /// Runs `colony --server URL ARGS…` in the working directory.
    pub fn run(&self, args: &[&str]) -> CliOutput {
        let mut full = vec!["--server", self.url.as_str()];
        full.extend_from_slice(args);
        colony(&self.work, &full)
    }

    /// Makes agent `name` a key and registers it with `role` and `extra` arguments of
    /// `agent register` (capabilities, a referrer); returns its key file.
    pub fn agent(&self, name: &str, role: &str, extra: &[&str]) -> String {
        let key = self.key(name);
        self.run(&["keygen", "--signer", name, "--out", &key]).ok();
        self.run(&[&["agent", "register", "--role", role, "--key", &key][..], extra].concat()).ok();
        key
    }

    /// The operator mints `amount` minor units into `agent`'s wallet under transfer id `id`.
    pub fn mint(&self, agent: &str, amount: &str, id: &str) {
        self.run(&["mint", "--to", agent, "--amount", amount, "--id", id, "--key", &self.operator]).ok();
    }
}
