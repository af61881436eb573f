//! sipp on loopback as the far end of SIP calls (`tests/sipp/*.xml`), and the speech it plays.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port free for both UDP and TCP on loopback, outside the kernel's ephemeral range.
///
/// SIP peers here listen on one port for both transports (sipp with `-t t1` binds TCP where
/// it would have bound UDP). A port the kernel hands out for `bind(0)` is ephemeral, and any
/// outgoing TCP connection of a test running alongside (HTTP, PostgreSQL) may take it as its
/// local port between our check and sipp's bind: CI saw `errno = 98` from sipp that way. Ports
/// in 20000-32767 are never picked by the kernel on its own, so only another test choosing the
/// same one at random can collide, and the bind check below (then the retry in
/// [`Sipp::start_on`]) covers that.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        );
        let port = 20000 + (h.finish() % 12768) as u16;
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        if udp.is_ok() && tcp.is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000-32767 on 127.0.0.1");
}

/// A sipp process running one scenario from `tests/sipp/`, with `@NAME@` placeholders filled.
pub struct Sipp {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Sipp {
    pub fn start(scenario: &str, fill: &[(&str, String)], extra: &[&str]) -> Sipp {
        Self::start_on("127.0.0.1", scenario, fill, extra)
    }

    /// As [`Sipp::start`], with sipp's SIP and media sockets on `ip`.
    pub fn start_on(ip: &str, scenario: &str, fill: &[(&str, String)], extra: &[&str]) -> Sipp {
        let dir = std::env::temp_dir().join(format!("parley-sipp-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp").join(scenario);
        let mut text = std::fs::read_to_string(&src).unwrap();
        for (k, v) in fill {
            text = text.replace(&format!("@{k}@"), v);
        }
        std::fs::write(dir.join(scenario), text).unwrap();
        // A port can still be taken between our check and sipp's bind (see
        // `free_port`); sipp then exits at once saying so, having sent nothing, and
        // starting it again on other ports is the same call.
        for attempt in 1.. {
            let mut sipp = Self::spawn(ip, &dir, scenario, extra);
            let started = if scenario.starts_with("uas") {
                sipp.wait_listening(ip, extra)
            } else {
                sipp.wait_sending()
            };
            match started {
                Ok(()) => return sipp,
                Err(trace) if attempt < 3 && trace.contains("Unable to bind") => {
                    eprintln!("sipp could not bind port {} (attempt {attempt}), again", sipp.port);
                    for e in std::fs::read_dir(&dir).unwrap().flatten() {
                        if e.file_name().to_string_lossy().ends_with(".log") {
                            let _ = std::fs::remove_file(e.path());
                        }
                    }
                }
                Err(trace) => panic!("sipp exited before it started its call:\n{trace}"),
            }
        }
        unreachable!()
    }

    fn spawn(ip: &str, dir: &Path, scenario: &str, extra: &[&str]) -> Sipp {
        let port = free_port();
        let media = free_port();
        let mut args = vec![
            "-sf".to_string(),
            scenario.to_string(),
            "-i".into(),
            ip.to_string(),
            "-p".into(),
            port.to_string(),
            "-mi".into(),
            ip.to_string(),
            "-mp".into(),
            media.to_string(),
            "-m".into(),
            "1".into(),
            "-nostdin".into(),
            "-timeout".into(),
            "60s".into(),
            "-trace_err".into(),
            "-trace_msg".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new("sipp")
            .args(&args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp is installed (apt-get install sip-tester)");
        Sipp {
            child,
            dir: dir.to_path_buf(),
            port,
        }
    }

    /// Waits until sipp, as the calling side, has sent its first message (every `uac_*`
    /// scenario starts with a `<send>`), or returns its trace if it failed first.
    fn wait_sending(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let sent = std::fs::read_dir(&self.dir).unwrap().flatten().any(|e| {
                e.file_name().to_string_lossy().ends_with("_messages.log")
                    && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
            });
            if sent {
                return Ok(());
            }
            match self.child.try_wait().unwrap() {
                // A short scenario may be over before we look; `wait` sees the same status.
                Some(status) if status.success() => return Ok(()),
                Some(status) => return Err(format!("exit {status}\n{}", self.trace())),
                None => {}
            }
            if Instant::now() > deadline {
                // Still running and silent: `wait` reports whatever it does next.
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until sipp, as the answering side, holds its SIP port. Parley may dial the moment
    /// the trunk exists, and on a loaded machine sipp can still be starting: over UDP the INVITE
    /// is retransmitted, but over TCP the connection is refused and the call fails at once.
    /// It asks the kernel whether sipp's own socket is bound there: a port merely in use (by
    /// whatever took it before sipp could) must not pass for sipp listening.
    fn wait_listening(&mut self, ip: &str, extra: &[&str]) -> Result<(), String> {
        let tcp = extra
            .windows(2)
            .any(|w| w[0] == "-t" && matches!(w[1], "t1" | "tn" | "l1" | "ln"));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("exit {status} before listening\n{}", self.trace()));
            }
            if process_holds(self.child.id(), self.port, tcp) {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "sipp did not listen on {ip}:{} in 15 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for sipp to finish its one call; panics with its message trace if it failed.
    pub fn wait(mut self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "sipp failed ({status}):\n{}", self.trace());
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("sipp did not finish in {secs} s:\n{}", self.trace());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn trace(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(&self.dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".log") {
                out += &format!(
                    "--- {name}\n{}\n",
                    std::fs::read_to_string(e.path()).unwrap_or_default()
                );
            }
        }
        out
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Whether process `pid` has a socket bound to local `port` (TCP: listening), read from
/// `/proc/net/{tcp,udp}{,6}` (the socket's inode) and the process's descriptors.
fn process_holds(pid: u32, port: u16, tcp: bool) -> bool {
    let proto = if tcp { "tcp" } else { "udp" };
    let mut inodes = vec![];
    for table in [proto.to_string(), format!("{proto}6")] {
        let text = std::fs::read_to_string(format!("/proc/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let Some(local_port) = cols.get(1).and_then(|a| a.rsplit(':').next()) else {
                continue;
            };
            let listening = !tcp || cols.get(3) == Some(&"0A");
            if u16::from_str_radix(local_port, 16) == Ok(port) && listening {
                if let Some(inode) = cols.get(9) {
                    inodes.push(format!("socket:[{inode}]"));
                }
            }
        }
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|target| inodes.iter().any(|i| target.to_string_lossy() == *i))
            .unwrap_or(false)
    })
}

pub fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// What a far party says, as mu-law from the offline TTS: each part is `lead_ms` of silence,
/// then `text` spoken (an empty text: the silence only).
pub fn spoken(parts: &[(usize, &str)]) -> Vec<u8> {
    let models = parley_speech::models::Models::locate();
    let tts = parley_speech::tts::PiperTts::from_models(&models, Default::default())
        .expect("scripts/setup installed the voice");
    let mut out = vec![];
    for (lead_ms, text) in parts {
        out.resize(out.len() + lead_ms * 8, 0xFF);
        if text.is_empty() {
            continue;
        }
        let pcm = parley_speech::TextToSpeech::synthesize(&tts, text).unwrap();
        for f in parley_telephony::audio::frames(&pcm) {
            out.extend_from_slice(&parley_telephony::audio::encode(&f));
        }
    }
    out
}
