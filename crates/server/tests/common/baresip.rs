//! baresip on loopback as a real softphone: it calls in or answers, plays a caller's words
//! (a WAV file) and records what it hears. Over UDP, or TLS with the [`super::pki::Pki`].

use super::pki::Pki;
use super::sipp::{free_port, uuid_like};
use std::path::PathBuf;

pub struct Softphone {
    pub dir: PathBuf,
    /// Its SIP port (UDP and TCP); TLS listens on the next one.
    pub port: u16,
}

impl Softphone {
    /// A softphone whose account is `user` at 127.0.0.1 (over TLS when `tls` is given), that
    /// answers every call at once and says `words` (mu-law, 8 kHz) into each.
    pub fn new(user: &str, words: &[u8], tls: Option<&Pki>) -> Softphone {
        let dir = std::env::temp_dir().join(format!("parley-baresip-{}", uuid_like()));
        std::fs::create_dir_all(dir.join("rec")).unwrap();
        let wav = dir.join("caller.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&wav, spec).unwrap();
        for f in words.chunks_exact(160) {
            for s in parley_telephony::audio::decode(f.try_into().unwrap()) {
                w.write_sample(s).unwrap();
            }
        }
        w.finalize().unwrap();
        let port = loop {
            // TLS takes the next port: both must be free.
            let p = free_port();
            if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        let tls_lines = tls
            .map(|p| {
                format!(
                    "sip_certificate {}\nsip_cafile {}\n",
                    p.bundle.display(),
                    p.ca.display()
                )
            })
            .unwrap_or_default();
        std::fs::write(
            dir.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:{port}\n{tls_lines}audio_player alsa,null\n\
                 audio_alert alsa,null\naudio_source aufile,{}\nnet_interface 127.0.0.1\n\
                 module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule alsa.so\n\
                 module sndfile.so\nmodule_app account.so\nmodule_app menu.so\nsnd_path {}\n",
                wav.display(),
                dir.join("rec").display()
            ),
        )
        .unwrap();
        let transport = if tls.is_some() { ";transport=tls" } else { "" };
        std::fs::write(
            dir.join("accounts"),
            format!("<sip:{user}@127.0.0.1:{port}{transport}>;regint=0;answermode=auto;audio_codecs=PCMU\n"),
        )
        .unwrap();
        Softphone { dir, port }
    }

    /// Runs baresip for `seconds` (blocking), first running `command` (`/dial sip:…`) if
    /// any; returns its output.
    pub fn run(&self, seconds: u32, command: Option<&str>) -> String {
        let mut cmd = std::process::Command::new("baresip");
        cmd.args(["-f", &self.dir.display().to_string(), "-t", &seconds.to_string()]);
        if let Some(c) = command {
            cmd.args(["-e", c]);
        }
        let out = cmd
            .output()
            .expect("baresip is installed (apt-get install baresip-core)");
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    }

    /// What it heard on its last call (its decoder's side, 8 kHz), if it recorded one.
    pub fn heard(&self) -> Option<Vec<i16>> {
        let path = std::fs::read_dir(self.dir.join("rec"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))?;
        Some(
            hound::WavReader::open(&path)
                .ok()?
                .samples::<i16>()
                .map(Result::unwrap)
                .collect(),
        )
    }
}

impl Drop for Softphone {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
