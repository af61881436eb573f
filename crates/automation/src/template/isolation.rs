//! Template renders in worker processes with an operating-system memory limit.
//!
//! Why processes: fuel bounds how many instructions a template runs, not how much memory one
//! instruction takes. `{% set b = a ~ a %}` doubles a string per instruction and `"x" * n` or
//! `replace` build huge strings in one, and automation runs can be started anonymously through
//! a webhook URL. Nothing inside one process can refuse an allocation without aborting that
//! process, so templates that do more than look values up (see [`super::simple`]) render in a
//! child process whose data segment is capped with `RLIMIT_DATA`: a render over its budget
//! kills its worker (the allocator aborts), the step fails with a clear error, and the server's
//! memory does not move. A wall-clock timeout bounds a render's time the same way.
//!
//! Protocol: the child is this program with the argument [`WORKER_ARG`] (the `parley` binary
//! dispatches it before anything else starts). It prints [`HELLO`], then answers one JSON line
//! per request line ([`Request`] -> [`Reply`]), one request at a time.
//!
//! The pool is synchronous (the template API is): a call blocks its thread for the round trip,
//! so on a multi-threaded tokio runtime it runs inside `block_in_place`, which hands the
//! thread's other tasks to another worker thread for that time.

use super::{TemplateError, TemplateErrorKind, Templates};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The argument that makes the `parley` binary a template worker.
pub const WORKER_ARG: &str = "template-worker";
/// The worker's first line, so a wrong program is recognised at once.
pub const HELLO: &str = "parley-template-worker 1";
/// The variable that passes the worker its memory budget, in bytes.
const MEMORY_ENV: &str = "PARLEY_TEMPLATE_WORKER_MEMORY_BYTES";
/// The largest reply line the server reads: an evaluated value (loop items, a JSON body) may be
/// larger than a rendered text's [`MAX_OUTPUT`](super::MAX_OUTPUT), but not without bound.
pub const MAX_REPLY: usize = 1 << 20;

/// Settings of the worker pool.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The program to run with [`WORKER_ARG`] (the `parley` binary).
    pub program: PathBuf,
    /// Workers at most (renders at once); more callers wait for one.
    pub workers: usize,
    /// Memory one render may use beyond the worker's own start-up footprint.
    pub memory_bytes: u64,
    /// Time one render may take, round trip included.
    pub timeout: Duration,
}

/// One request to a worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Render {
        source: String,
        vars: Value,
    },
    Eval {
        source: String,
        vars: Value,
    },
    RenderValue {
        value: Value,
        vars: Value,
    },
    /// The variables a template (or an expression) reads: compiling may fold constants
    /// (`"x" * n` is computed at compile time), so it is isolated like a render.
    Variables {
        source: String,
        expression: bool,
    },
}

/// A worker's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ok(Value),
    Err(TemplateError),
}

/// Worker processes, started on demand and replaced when one dies.
pub struct WorkerPool {
    config: WorkerConfig,
    idle: Mutex<Vec<Worker>>,
    /// Renders in progress, at most `config.workers`.
    busy: Mutex<usize>,
    freed: Condvar,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool").field("config", &self.config).finish()
    }
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// Bytes read past the last reply (none in practice: one request at a time).
    pending: Vec<u8>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a round trip failed, before it is worded for the step.
enum Failure {
    Timeout,
    /// The worker died (its stdout closed, or it stopped reading).
    Died,
    /// The worker died by the allocator's abort: the memory limit refused an allocation.
    OutOfMemory,
    TooLarge,
    Io(String),
}

impl WorkerPool {
    pub fn new(config: WorkerConfig) -> Self {
        WorkerPool {
            config: WorkerConfig {
                workers: config.workers.max(1),
                ..config
            },
            idle: Mutex::new(Vec::new()),
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Sends one request and waits for its reply (see the module doc for the blocking).
    pub fn call(&self, req: &Request) -> Result<Value, TemplateError> {
        let go = || self.call_blocking(req);
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(go)
            }
            _ => go(),
        }
    }

    fn call_blocking(&self, req: &Request) -> Result<Value, TemplateError> {
        let line =
            serde_json::to_vec(req).map_err(|e| internal(format!("could not encode a template request: {e}")))?;
        {
            let mut busy = self.busy.lock().expect("template pool");
            while *busy >= self.config.workers {
                busy = self.freed.wait(busy).expect("template pool");
            }
            *busy += 1;
        }
        let result = self.round_trip(&line);
        *self.busy.lock().expect("template pool") -= 1;
        self.freed.notify_one();
        result
    }

    fn round_trip(&self, line: &[u8]) -> Result<Value, TemplateError> {
        let idle = self.idle.lock().expect("template pool").pop();
        let mut worker = match idle {
            Some(w) => w,
            None => self.spawn()?,
        };
        let deadline = Instant::now() + self.config.timeout;
        match exchange(&mut worker, line, deadline) {
            Ok(reply) => {
                self.idle.lock().expect("template pool").push(worker);
                match reply {
                    Reply::Ok(v) => Ok(v),
                    Reply::Err(e) => Err(e),
                }
            }
            Err(failure) => {
                let failure = match failure {
                    Failure::Died if killed_by_abort(&mut worker) => Failure::OutOfMemory,
                    other => other,
                };
                drop(worker); // killed and reaped
                Err(self.describe(failure))
            }
        }
    }

    fn describe(&self, failure: Failure) -> TemplateError {
        let mib = self.config.memory_bytes as f64 / (1024.0 * 1024.0);
        match failure {
            Failure::Timeout => TemplateError::new(
                TemplateErrorKind::OutOfFuel,
                format!(
                    "the template took longer than {} ms and was stopped",
                    self.config.timeout.as_millis()
                ),
            ),
            Failure::OutOfMemory => TemplateError::new(
                TemplateErrorKind::OutOfMemory,
                format!("the template needs more than its memory budget ({mib:.0} MiB) and was stopped"),
            ),
            Failure::Died => internal("the template worker stopped unexpectedly".to_string()),
            Failure::TooLarge => TemplateError::new(
                TemplateErrorKind::OutputTooLarge,
                format!("the template's value exceeds {MAX_REPLY} bytes"),
            ),
            Failure::Io(e) => internal(format!("the template worker failed: {e}")),
        }
    }

    fn spawn(&self) -> Result<Worker, TemplateError> {
        let mut child = Command::new(&self.config.program)
            .arg(WORKER_ARG)
            .env_clear()
            .env(MEMORY_ENV, self.config.memory_bytes.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                internal(format!(
                    "could not start the template worker {}: {e}",
                    self.config.program.display()
                ))
            })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let mut worker = Worker {
            child,
            stdin,
            stdout,
            pending: Vec::new(),
        };
        let hello = read_line(&mut worker, Instant::now() + Duration::from_secs(10), 256);
        match hello {
            Ok(l) if l == HELLO.as_bytes() => Ok(worker),
            _ => Err(internal(format!(
                "{} is not a Parley template worker (set PARLEY_TEMPLATE_WORKER to the parley binary)",
                self.config.program.display()
            ))),
        }
    }
}

fn internal(message: String) -> TemplateError {
    TemplateError::new(TemplateErrorKind::Render, message)
}

/// Whether a dead worker ended by SIGABRT: Rust's reaction to a refused allocation.
fn killed_by_abort(worker: &mut Worker) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match worker.child.try_wait() {
            Ok(Some(status)) => return status.signal() == Some(libc::SIGABRT),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => return false,
        }
    }
}

fn exchange(worker: &mut Worker, line: &[u8], deadline: Instant) -> Result<Reply, Failure> {
    let written = worker
        .stdin
        .write_all(line)
        .and_then(|_| worker.stdin.write_all(b"\n"))
        .and_then(|_| worker.stdin.flush());
    if written.is_err() {
        return Err(Failure::Died);
    }
    let reply = read_line(worker, deadline, MAX_REPLY + 1024)?;
    serde_json::from_slice(&reply).map_err(|e| Failure::Io(format!("unreadable reply: {e}")))
}

/// Reads one line from the worker by `deadline`, refusing lines longer than `max`.
fn read_line(worker: &mut Worker, deadline: Instant, max: usize) -> Result<Vec<u8>, Failure> {
    let fd = worker.stdout.as_raw_fd();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Some(nl) = worker.pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = worker.pending.drain(..=nl).collect();
            line.pop();
            return Ok(line);
        }
        if worker.pending.len() > max {
            return Err(Failure::TooLarge);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout);
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for a descriptor this worker owns, for the call's duration.
        #[allow(unsafe_code)] // libc's poll has no safe wrapper in std
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Failure::Io(e.to_string()));
        }
        if n == 0 {
            continue; // the deadline is checked above
        }
        match worker.stdout.read(&mut chunk) {
            Ok(0) => return Err(Failure::Died),
            Ok(k) => worker.pending.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Failure::Died),
        }
    }
}

/// The worker's side: caps its own memory, greets, then answers requests from stdin until it
/// closes. Runs before any runtime or thread is started (see the binary's `main`).
pub fn serve_stdio() -> std::io::Result<()> {
    let budget = std::env::var(MEMORY_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(64 << 20);
    limit_memory(budget)?;
    let templates = Templates::new();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{HELLO}")?;
    stdout.flush()?;
    let mut line = String::new();
    let mut input = stdin.lock();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            // A panic inside the engine answers as an error; the worker lives on.
            Ok(req) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| answer(&templates, req)))
                .unwrap_or_else(|_| Reply::Err(internal("the template failed inside the engine".to_string()))),
            Err(e) => Reply::Err(internal(format!("bad template request: {e}"))),
        };
        let mut out = serde_json::to_vec(&reply)?;
        if out.len() > MAX_REPLY {
            out = serde_json::to_vec(&Reply::Err(TemplateError::new(
                TemplateErrorKind::OutputTooLarge,
                format!("the template's value exceeds {MAX_REPLY} bytes"),
            )))?;
        }
        out.push(b'\n');
        stdout.write_all(&out)?;
        stdout.flush()?;
    }
}

fn answer(t: &Templates, req: Request) -> Reply {
    let result = match req {
        Request::Render { source, vars } => t.render(&source, &vars).map(Value::String),
        Request::Eval { source, vars } => t.eval(&source, &vars),
        Request::RenderValue { value, vars } => t.render_value(&value, &vars),
        Request::Variables { source, expression } => if expression {
            t.expression_variables(&source)
        } else {
            t.variables(&source)
        }
        .map(|set| Value::Array(set.into_iter().map(Value::String).collect())),
    };
    match result {
        Ok(v) => Reply::Ok(v),
        Err(e) => Reply::Err(e),
    }
}

/// Caps the data segment (heap and private mappings) at the current footprint plus `budget`.
#[allow(unsafe_code)] // setrlimit: std has no safe wrapper
fn limit_memory(budget: u64) -> std::io::Result<()> {
    let in_use = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmData:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    let cap = in_use.saturating_add(budget);
    let lim = libc::rlimit {
        rlim_cur: cap as libc::rlim_t,
        rlim_max: cap as libc::rlim_t,
    };
    // SAFETY: setrlimit reads one valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
