//! The real `parley` binary as separate processes, for crash tests: `parley serve` started with
//! `PARLEY_*` variables on a shared database, killed with SIGKILL (`kill -9`), started again.
//!
//! Every process is a [`Parley`] guard that kills it on drop, so a failing test leaves no
//! process behind; a test that panics also prints the tail of each process's log.

use super::{fresh_database, temp_dir, Client, Db, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One test's deployment: a database and a data folder that `parley` processes share.
pub struct Deployment {
    pub db_url: String,
    pub dir: TempDir,
    /// More `PARLEY_*` settings for every process of this deployment.
    pub env: Vec<(String, String)>,
    started: usize,
}

impl Deployment {
    pub async fn new(db: Db) -> Deployment {
        let dir = temp_dir();
        let db_url = fresh_database(db, &dir.0).await;
        Deployment {
            db_url,
            dir,
            env: Vec::new(),
            started: 0,
        }
    }

    /// `parley` with this deployment's settings (and none inherited from the test's environment).
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_parley"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PARLEY_") && k != "PARLEY_MODELS_DIR") {
            c.env_remove(k);
        }
        c.env("PARLEY_DATA_DIR", self.dir.0.join("data"))
            .env("PARLEY_DATABASE_URL", &self.db_url)
            .env("PARLEY_DB_MAX_CONNECTIONS", "8")
            .env("PARLEY_ALLOW_PRIVATE_WEBHOOKS", "1")
            .env("PARLEY_RATE_LIMIT_PER_MINUTE", "0")
            .env("PARLEY_WEBHOOK_RATE_LIMIT_PER_MINUTE", "0")
            .env("PARLEY_PUBLIC_RATE_LIMIT_PER_MINUTE", "0")
            .env("PARLEY_SANDBOX_RING_MS", "300")
            .env("PARLEY_RING_TIMEOUT_SECS", "3")
            .env("PARLEY_LINE_WATCHDOG_SECS", "5")
            // A killed process's jobs (a call, a step in flight) are taken over 3 s later.
            .env("PARLEY_JOB_LEASE_SECS", "3")
            .env("PARLEY_WEBHOOK_RETRY_BASE_MS", "200")
            .env("PARLEY_WEBHOOK_RETRY_MAX_MS", "1000")
            // As in `super::settings`: older tests call numbers no network serves.
            .env("PARLEY_UNROUTED_CALLS_TO_SANDBOX", "1")
            .env("PARLEY_LOG", "info");
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// A team made by `parley team create --json` (which also migrates the database); use it
    /// through a process with [`Parley::client`].
    pub fn team(&self) -> Client {
        let out = self
            .command()
            .args(["team", "create", "--name", "crash test", "--json"])
            .output()
            .expect("run parley team create");
        assert!(
            out.status.success(),
            "parley team create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("team JSON");
        Client {
            base: String::new(),
            token: v["api_token"].as_str().unwrap().to_string(),
            team_id: v["team_id"].as_str().unwrap().to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Starts `parley serve` on a free loopback port and waits until `/health` answers.
    pub async fn serve(&mut self, name: &str) -> Parley {
        self.serve_with(name, |_| {}).await
    }

    /// [`Deployment::serve`] with the command changed first (more variables, a umask).
    pub async fn serve_with(&mut self, name: &str, tweak: impl FnOnce(&mut Command)) -> Parley {
        self.started += 1;
        let stem = self.dir.0.join(format!("{}-{name}", self.started));
        let out_path = stem.with_extension("out");
        let log_path = stem.with_extension("log");
        let mut command = self.command();
        tweak(&mut command);
        let child = command
            .arg("serve")
            // Port 0: the process picks a free port and prints it (no race for a port).
            .env("PARLEY_BIND", "127.0.0.1:0")
            .env("PARLEY_SIP_BIND", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("spawn parley serve");
        let mut p = Parley {
            name: name.to_string(),
            child: Some(child),
            base: String::new(),
            log: log_path,
        };
        let started = Instant::now();
        p.base = loop {
            let printed = std::fs::read_to_string(&out_path).unwrap_or_default();
            if let Some(base) = printed
                .lines()
                .find_map(|l| l.strip_prefix("Parley listening on "))
                .and_then(|rest| rest.split_whitespace().next())
            {
                break base.to_string();
            }
            if let Some(status) = p.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("parley serve ({name}) exited with {status}:\n{}", p.log_tail(40));
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "parley serve ({name}) did not start:\n{}",
                p.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let http = reqwest::Client::new();
        loop {
            let ok = http
                .get(format!("{}/health", p.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "parley serve ({name}) never became healthy"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        p
    }
}

/// Runs a `parley` command that is expected to end by itself (a refused start) and returns its
/// exit status and stderr; kills it and panics if it is still running after `secs`.
pub fn run_to_exit(mut cmd: Command, secs: u64) -> (std::process::ExitStatus, String) {
    let log = std::env::temp_dir().join(format!("parley-exit-{}.log", uuid::Uuid::new_v4().simple()));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn parley");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("parley did not exit within {secs} s:\n{}", tail(&log, 40));
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    (status, stderr)
}

/// A running `parley serve`; killed (SIGKILL) when dropped.
pub struct Parley {
    pub name: String,
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub log: PathBuf,
}

impl Parley {
    /// `kill -9`: no shutdown, no cleanup; jobs keep their leases until they expire.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    /// `kill -TERM`: what systemd, container runtimes and `kill` send to stop a process.
    pub fn terminate(&self) {
        let pid = self.pid().expect("the process runs").to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap().success();
        assert!(ok, "kill -TERM {pid}");
    }

    /// Waits up to `within` for the process to exit; its exit status.
    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            let c = self.child.as_mut().expect("the process was started");
            if let Some(status) = c.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < within,
                "parley serve ({}) still runs after {within:?}:\n{}",
                self.name,
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The process's whole log (stderr).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last `n` lines of the process's log (stderr).
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }

    /// A client of this process acting as `c`'s team.
    pub fn client(&self, c: &Client) -> Client {
        Client {
            base: self.base.clone(),
            ..c.clone()
        }
    }
}

impl Drop for Parley {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- log of parley serve ({}) ----\n{}", self.name, self.log_tail(60));
        }
        self.kill();
    }
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
