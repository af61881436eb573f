//! sipp on loopback as the far end of SIP calls (`tests/sipp/*.xml`), and the speech it plays.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
        let port = free_udp_port();
        let media = free_udp_port();
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
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp is installed (apt-get install sip-tester)");
        let mut sipp = Sipp { child, dir, port };
        if scenario.starts_with("uas") {
            sipp.wait_listening(ip, extra);
        }
        sipp
    }

    /// Waits until sipp, as the answering side, holds its SIP port. Parley may dial the moment
    /// the trunk exists, and on a loaded machine sipp can still be starting: over UDP the INVITE
    /// is retransmitted, but over TCP the connection is refused and the call fails at once.
    /// The port is held once binding it ourselves fails.
    fn wait_listening(&mut self, ip: &str, extra: &[&str]) {
        let tcp = extra
            .windows(2)
            .any(|w| w[0] == "-t" && matches!(w[1], "t1" | "tn" | "l1" | "ln"));
        let addr = (ip, self.port);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let held = if tcp {
                std::net::TcpListener::bind(addr).is_err()
            } else {
                std::net::UdpSocket::bind(addr).is_err()
            };
            if held {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("sipp exited before listening ({status}):\n{}", self.trace());
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
