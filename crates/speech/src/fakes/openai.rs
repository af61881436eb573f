//! A loopback OpenAI audio API over plain HTTP/1.1 (`{base}/audio/transcriptions` and
//! `{base}/audio/speech`), after OpenAI's API reference: the key as `Authorization: Bearer`
//! (a wrong one: 401 with OpenAI's error body), transcriptions as `multipart/form-data` with a
//! `file` and a `model` (and only documented fields), speech as JSON `{model, input, voice}`
//! with an optional `response_format` (`pcm`: raw 24 kHz s16le; `wav`), `speed`,
//! `instructions`. The "transcript" is the length of the WAV's audio (`"1000 ms"`), so a test
//! sees which audio was sent; the speech is a constant level per sentence ([`super::level_of`]),
//! streamed in odd-sized chunks with chunked transfer encoding. `fail_with` answers every
//! request (after the first `fail_after`) with that status and an OpenAI error body.

use super::{level_of, violation, Shared};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const TRANSCRIPTION_FIELDS: [&str; 10] = [
    "file",
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    "timestamp_granularities[]",
    "include[]",
    "stream",
    "chunking_strategy",
];
const SPEECH_FIELDS: [&str; 7] = [
    "model",
    "input",
    "voice",
    "response_format",
    "speed",
    "instructions",
    "stream_format",
];

/// The rate of OpenAI's `pcm` speech.
pub const PCM_RATE: u32 = 24_000;

#[derive(Clone)]
pub struct Options {
    /// None: the server takes no key, and a request with one is a violation.
    pub key: Option<String>,
    pub fail_with: Option<u16>,
    /// Requests answered normally before `fail_with` applies (none: it applies from the first).
    pub fail_after: Option<usize>,
    /// The rate of the `wav` speech the fake answers (a local server's own).
    pub wav_rate: u32,
    /// Samples of speech per sentence at the answer's rate.
    pub samples: usize,
}

impl Options {
    pub fn new(key: Option<&str>) -> Options {
        Options {
            key: key.map(str::to_string),
            fail_with: None,
            fail_after: None,
            wav_rate: 16_000,
            samples: 2400,
        }
    }
}

/// A running fake: its base URL (with `/v1`) and what it saw. Each request is logged as JSON:
/// `{"path", "authorization", "fields": {...}, "wav": {"rate", "samples"}}` or the speech body.
pub struct HttpFake {
    pub base_url: String,
    pub log: Shared,
}

impl HttpFake {
    pub fn requests(&self) -> Vec<Value> {
        self.log.lock().expect("log").messages.clone()
    }
    pub fn violations(&self) -> Vec<String> {
        self.log.lock().expect("log").violations.clone()
    }
}

pub async fn start(options: Options) -> HttpFake {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log: Shared = Arc::default();
    let shared = log.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (log, options) = (shared.clone(), options.clone());
            tokio::spawn(async move {
                log.lock().expect("log").connections += 1;
                let (read, mut write) = tcp.into_split();
                let mut read = BufReader::new(read);
                // Keep-alive: requests one after another on the connection.
                while let Some((method, path, headers, body)) = request(&mut read).await {
                    let answer = serve(&method, &path, &headers, &body, &options, &log);
                    if write.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    HttpFake {
        base_url: format!("http://{addr}/v1"),
        log,
    }
}

type Headers = HashMap<String, String>;

async fn request<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Option<(String, String, Headers, Vec<u8>)> {
    let mut line = String::new();
    r.read_line(&mut line).await.ok().filter(|&n| n > 0)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Headers::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).await.ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    r.read_exact(&mut body).await.ok()?;
    Some((method, path, headers, body))
}

fn error(status: u16, message: &str, kind: &str) -> Vec<u8> {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}}).to_string();
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(method: &str, path: &str, headers: &Headers, body: &[u8], o: &Options, log: &Shared) -> Vec<u8> {
    let auth = headers.get("authorization").cloned();
    match (&o.key, &auth) {
        (Some(key), Some(a)) if *a == format!("Bearer {key}") => {}
        (None, None) => {}
        (None, Some(_)) => violation(log, "a key sent to a server that takes none"),
        _ => {
            log.lock().expect("log").refused += 1;
            return error(401, "Incorrect API key provided: sk-wro*****ey. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error");
        }
    }
    if method != "POST" {
        violation(log, format!("{method} {path}"));
        return error(404, "not found", "invalid_request_error");
    }
    let answered = log.lock().expect("log").messages.len();
    if let Some(status) = o.fail_with.filter(|_| o.fail_after.is_none_or(|n| answered >= n)) {
        return error(
            status,
            "The server had an error while processing your request.",
            "server_error",
        );
    }
    match path {
        "/v1/audio/transcriptions" => transcription(headers, body, log),
        "/v1/audio/speech" => speech(headers, body, o, log),
        other => {
            violation(log, format!("path {other}"));
            error(404, "not found", "invalid_request_error")
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The parts of a multipart body: name -> (filename, content type, content).
/// A part of a multipart body: its filename, content type and content.
type Part = (Option<String>, Option<String>, Vec<u8>);

fn parts(body: &[u8], boundary: &str, log: &Shared) -> HashMap<String, Part> {
    let mut out = HashMap::new();
    let delimiter = format!("--{boundary}");
    let Some(mut at) = find(body, delimiter.as_bytes()) else {
        violation(log, "no boundary in the body");
        return out;
    };
    loop {
        let rest = &body[at + delimiter.len()..];
        if rest.starts_with(b"--") {
            return out;
        }
        let Some(rest) = rest.strip_prefix(b"\r\n") else {
            violation(log, "a boundary not followed by CRLF");
            return out;
        };
        let Some(head_end) = find(rest, b"\r\n\r\n") else {
            return out;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).to_string();
        let content_start = head_end + 4;
        let end_marker = format!("\r\n{delimiter}");
        let Some(len) = find(&rest[content_start..], end_marker.as_bytes()) else {
            violation(log, "an unterminated part");
            return out;
        };
        let content = rest[content_start..content_start + len].to_vec();
        let (mut name, mut filename, mut kind) = (None, None, None);
        for line in head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition: form-data") {
                for param in line.split(';').skip(1) {
                    if let Some((k, v)) = param.trim().split_once('=') {
                        let v = v.trim_matches('"').to_string();
                        match k {
                            "name" => name = Some(v),
                            "filename" => filename = Some(v),
                            _ => {}
                        }
                    }
                }
            } else if lower.starts_with("content-type:") {
                kind = Some(line[13..].trim().to_string());
            }
        }
        match name {
            Some(name) => {
                out.insert(name, (filename, kind, content));
            }
            None => violation(log, format!("a part without a name: {head}")),
        }
        at = at + delimiter.len() + 2 + content_start + len + 2;
    }
}

fn transcription(headers: &Headers, body: &[u8], log: &Shared) -> Vec<u8> {
    let kind = headers.get("content-type").cloned().unwrap_or_default();
    let Some(boundary) = kind.strip_prefix("multipart/form-data; boundary=") else {
        violation(log, format!("content-type {kind}"));
        return error(400, "Expected multipart/form-data", "invalid_request_error");
    };
    let parts = parts(body, boundary, log);
    for name in parts.keys().filter(|n| !TRANSCRIPTION_FIELDS.contains(&n.as_str())) {
        violation(log, format!("undocumented field {name}"));
    }
    let mut fields = serde_json::Map::new();
    for (name, (_, _, content)) in &parts {
        if name != "file" {
            fields.insert(name.clone(), Value::String(String::from_utf8_lossy(content).into()));
        }
    }
    if fields.get("model").and_then(Value::as_str).is_none_or(str::is_empty) {
        violation(log, "no model");
    }
    if let Some(f) = fields.get("response_format").and_then(Value::as_str) {
        if !["json", "text", "srt", "verbose_json", "vtt"].contains(&f) {
            violation(log, format!("response_format {f}"));
        }
    }
    let Some((filename, _, wav)) = parts.get("file") else {
        violation(log, "no file");
        return error(400, "Missing file", "invalid_request_error");
    };
    if !filename.as_deref().is_some_and(|f| f.ends_with(".wav")) {
        violation(
            log,
            format!("filename {filename:?}: OpenAI reads the format from the extension"),
        );
    }
    // A canonical 16-bit mono PCM WAV, its sizes consistent.
    let u32_at = |i: usize| u32::from_le_bytes([wav[i], wav[i + 1], wav[i + 2], wav[i + 3]]);
    let u16_at = |i: usize| u16::from_le_bytes([wav[i], wav[i + 1]]);
    if wav.len() < 44
        || &wav[..4] != b"RIFF"
        || &wav[8..16] != b"WAVEfmt "
        || u16_at(20) != 1
        || u16_at(22) != 1
        || u16_at(34) != 16
        || &wav[36..40] != b"data"
        || u32_at(40) as usize != wav.len() - 44
        || u32_at(4) as usize != wav.len() - 8
    {
        violation(log, "not a 16-bit mono PCM WAV");
        return error(400, "Invalid file format.", "invalid_request_error");
    }
    let rate = u32_at(24);
    let samples = (wav.len() - 44) / 2;
    log.lock().expect("log").messages.push(json!({
        "path": "transcriptions",
        "authorization": headers.get("authorization"),
        "fields": fields,
        "wav": {"rate": rate, "samples": samples},
    }));
    let text = format!(" {} ms ", samples as u64 * 1000 / u64::from(rate));
    let body = json!({"text": text, "usage": {"type": "duration", "seconds": 1}}).to_string();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn speech(headers: &Headers, body: &[u8], o: &Options, log: &Shared) -> Vec<u8> {
    if headers.get("content-type").map(String::as_str) != Some("application/json") {
        violation(log, format!("content-type {:?}", headers.get("content-type")));
    }
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) else {
        violation(log, "not a JSON object");
        return error(400, "bad body", "invalid_request_error");
    };
    for k in m.keys().filter(|k| !SPEECH_FIELDS.contains(&k.as_str())) {
        violation(log, format!("undocumented field {k}"));
    }
    for k in ["model", "input", "voice"] {
        if !m.get(k).is_some_and(Value::is_string) {
            violation(log, format!("no {k}"));
        }
    }
    let format = m
        .get("response_format")
        .and_then(Value::as_str)
        .unwrap_or("mp3")
        .to_string();
    let mut logged = Value::Object(m.clone());
    logged["path"] = "speech".into();
    log.lock().expect("log").messages.push(logged);
    let level = level_of(m.get("input").and_then(Value::as_str).unwrap_or(""));
    let pcm: Vec<u8> = (0..o.samples).flat_map(|_| level.to_le_bytes()).collect();
    let (kind, audio) = match format.as_str() {
        "pcm" => ("audio/pcm", pcm),
        "wav" => {
            // As OpenAI streams it: the sizes unknown (0xFFFFFFFF) when the header goes out.
            let mut w = Vec::new();
            w.extend_from_slice(b"RIFF");
            w.extend_from_slice(&u32::MAX.to_le_bytes());
            w.extend_from_slice(b"WAVEfmt ");
            w.extend_from_slice(&16u32.to_le_bytes());
            w.extend_from_slice(&1u16.to_le_bytes());
            w.extend_from_slice(&1u16.to_le_bytes());
            w.extend_from_slice(&o.wav_rate.to_le_bytes());
            w.extend_from_slice(&(o.wav_rate * 2).to_le_bytes());
            w.extend_from_slice(&2u16.to_le_bytes());
            w.extend_from_slice(&16u16.to_le_bytes());
            w.extend_from_slice(b"data");
            w.extend_from_slice(&u32::MAX.to_le_bytes());
            w.extend(pcm);
            ("audio/wav", w)
        }
        other => {
            violation(log, format!("response_format {other}: the phone needs pcm or wav"));
            return error(400, "unsupported", "invalid_request_error");
        }
    };
    // Chunked, in odd-sized pieces (a sample split across two chunks).
    let mut out = format!("HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ntransfer-encoding: chunked\r\n\r\n").into_bytes();
    for piece in audio.chunks(777) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
