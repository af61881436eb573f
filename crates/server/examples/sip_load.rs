//! The helpers of `bench/sip_load.sh` (SIP media load): the callers' audio, and the figures of
//! a measured window, from Parley's `/metrics` and from a capture of its RTP on the wire.
//!
//! ```text
//! sip_load caller-wav FILE --seconds S [--dbfs D]
//!     Writes S seconds of the callers' audio for sipp's rtp_stream: a mu-law WAV of white noise
//!     at D dBFS (-50: line noise under the VAD's -45 dBFS energy floor). Checks it with the
//!     agent's own VAD, joined at many points of the stream after some silence, and prints the
//!     most speech starts it heard (0 expected: no utterance, so no Whisper) and what the VAD
//!     costs per frame.
//! sip_load window BEFORE AFTER
//!     Two scrapes of /metrics: the SIP media counters over the window between them.
//! sip_load wire FILE --from T0 --to T1
//!     A capture (pcap, as tcpdump writes it on lo) of Parley's RTP towards the callers: the
//!     gaps between each stream's consecutive packets sent in [T0, T1] (Unix seconds), and
//!     frames missing or late by their RTP timestamps.
//! ```
//!
//! Every figure is printed as a `key=value` line for the script.
// A measuring tool, not the server: a panic is its failure report.
#![allow(clippy::unwrap_used)]

use parley_telephony::audio::{self, FRAME_SAMPLES};
use parley_voice::vad::{Vad, VadConfig};
use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse::<f64>()
                    .unwrap_or_else(|_| die(&format!("{name}: not a number: {v}")))
            })
    };
    match args.first().map(String::as_str) {
        Some("caller-wav") if args.len() >= 2 => {
            let seconds = flag("--seconds").unwrap_or_else(|| die("--seconds is required"));
            caller_wav(Path::new(&args[1]), seconds, flag("--dbfs").unwrap_or(-50.0))
        }
        Some("window") if args.len() == 3 => window(&read_text(&args[1]), &read_text(&args[2])),
        Some("wire") if args.len() >= 2 => {
            let from = flag("--from").unwrap_or_else(|| die("--from is required"));
            let to = flag("--to").unwrap_or_else(|| die("--to is required"));
            wire(Path::new(&args[1]), from, to)
        }
        _ => die("usage: sip_load caller-wav FILE --seconds S [--dbfs D] | window BEFORE AFTER | wire FILE --from T0 --to T1"),
    }
}

fn die(msg: &str) -> ! {
    eprintln!("sip_load: {msg}");
    std::process::exit(2)
}

fn read_text(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| die(&format!("{path}: {e}")))
}

// ----- the callers' audio ------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so every run sends the same audio.
struct Noise(u64);

impl Noise {
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly Gaussian, unit variance (the sum of 12 uniforms).
    fn next_gauss(&mut self) -> f64 {
        (0..12).map(|_| self.next_unit()).sum::<f64>() - 6.0
    }
}

fn caller_wav(path: &Path, seconds: f64, dbfs: f64) {
    let frames = (seconds * 50.0).ceil() as usize;
    let noise = |dbfs: f64, n: usize| {
        let rms = 32768.0 * 10f64.powf(dbfs / 20.0);
        let mut g = Noise(0x5EED_CAFE_F00D);
        (0..n)
            .map(|_| {
                let mut pcm = [0i16; FRAME_SAMPLES];
                for s in pcm.iter_mut() {
                    *s = (g.next_gauss() * rms).round().clamp(-32768.0, 32767.0) as i16;
                }
                audio::encode(&pcm)
            })
            .collect::<Vec<_>>()
    };
    let sent = noise(dbfs, frames);
    write_mulaw_wav(path, &sent);

    // What the agent hears, through its own VAD: the decoded frames, from wherever its pipeline
    // joins the stream, after a few frames of silence (before the first packet arrives).
    let heard: Vec<_> = sent.iter().map(audio::decode).collect();
    let level = heard.iter().map(|f| audio::level_dbfs(f) as f64).sum::<f64>() / frames as f64;
    let (mut runs, mut max_starts, mut voiced, mut pushed) = (0, 0, 0usize, 0usize);
    for lead in [0, 1, 3, 10, 50] {
        for offset in (0..frames.min(250)).step_by(7) {
            let mut vad = Vad::new(VadConfig::default());
            let mut starts = 0;
            let silence = [0i16; FRAME_SAMPLES];
            for f in std::iter::repeat_n(&silence, lead).chain(heard.iter().skip(offset).take(1500)) {
                starts += matches!(vad.push(f), Some(parley_voice::vad::VadEvent::Start { .. })) as usize;
                voiced += vad.last_voiced() as usize;
                pushed += 1;
            }
            runs += 1;
            max_starts = max_starts.max(starts);
        }
    }
    // What the VAD costs per frame when the audio is above its floor (WebRTC's classifier runs).
    let loud: Vec<_> = noise(-30.0, 5000).iter().map(audio::decode).collect();
    let mut vad = Vad::new(VadConfig::default());
    let t = std::time::Instant::now();
    for f in &loud {
        std::hint::black_box(vad.push(f));
    }
    let classifier_us = t.elapsed().as_secs_f64() * 1e6 / loud.len() as f64;
    let mut vad = Vad::new(VadConfig::default());
    let t = std::time::Instant::now();
    for f in &heard[..heard.len().min(5000)] {
        std::hint::black_box(vad.push(f));
    }
    let this_us = t.elapsed().as_secs_f64() * 1e6 / heard.len().min(5000) as f64;
    println!("caller_frames={frames}");
    println!("caller_level_dbfs={level:.1}");
    println!("caller_vad_runs={runs}");
    println!("caller_voiced_frames={voiced}");
    println!("caller_vad_frames={pushed}");
    println!("caller_speech_starts={max_starts}");
    println!("vad_us_per_frame={this_us:.2}");
    println!("vad_classifier_us_per_frame={classifier_us:.2}");
}

/// A mu-law WAV (format 7, 8 kHz, mono), laid out as sox writes it.
fn write_mulaw_wav(path: &Path, frames: &[audio::MulawFrame]) {
    let data: Vec<u8> = frames.iter().flatten().copied().collect();
    let n = data.len() as u32;
    let mut h = vec![];
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(4 + 26 + 12 + 8 + n).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&18u32.to_le_bytes());
    for v in [7u16, 1] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    for v in [8000u32, 8000] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    for v in [1u16, 8, 0] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.extend_from_slice(b"fact");
    h.extend_from_slice(&4u32.to_le_bytes());
    h.extend_from_slice(&n.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&n.to_le_bytes());
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap_or_else(|e| die(&format!("{e}"))));
    out.write_all(&h)
        .and_then(|_| out.write_all(&data))
        .and_then(|_| out.flush())
        .unwrap_or_else(|e| die(&format!("{}: {e}", path.display())));
}

// ----- /metrics over a window ----------------------------------------------------------------

/// The samples of a Prometheus text scrape: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// The gap histogram's cumulative buckets: (upper bound in seconds, count), in order.
fn gap_buckets(s: &HashMap<String, f64>) -> Vec<(f64, f64)> {
    let prefix = "parley_sip_rtp_send_gap_seconds_bucket{le=\"";
    let mut b: Vec<(f64, f64)> = s
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(prefix)?.strip_suffix("\"}")?;
            Some((if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? }, *v))
        })
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    b
}

fn ms(bound: f64) -> String {
    if bound.is_finite() {
        format!("{}", (bound * 1e4).round() / 10.0)
    } else {
        "inf".into()
    }
}

fn window(before: &str, after: &str) {
    let (b, a) = (samples(before), samples(after));
    let delta = |k: &str| a.get(k).copied().unwrap_or(0.0) - b.get(k).copied().unwrap_or(0.0);
    let (bb, ab) = (gap_buckets(&b), gap_buckets(&a));
    if ab.is_empty() {
        die("no parley_sip_rtp_send_gap_seconds in the scrape (is SIP on?)");
    }
    // Per bucket, within the window: (lower bound, upper bound, gaps).
    let mut per = vec![];
    let (mut prev_bound, mut prev_cum) = (0.0, 0.0);
    for (i, (bound, cum)) in ab.iter().enumerate() {
        let cum = cum - bb.get(i).map_or(0.0, |x| x.1);
        per.push((prev_bound, *bound, cum - prev_cum));
        (prev_bound, prev_cum) = (*bound, cum);
    }
    let total = prev_cum;
    println!("gaps={total}");
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
        // The upper bound of the bucket holding the q-th gap: the gap is at most that.
        let mut cum = 0.0;
        let bound = per.iter().find(|(_, _, n)| {
            cum += n;
            total > 0.0 && cum >= q * total
        });
        println!("gap_{name}_le_ms={}", bound.map_or("-".into(), |(_, u, _)| ms(*u)));
    }
    match per.iter().rev().find(|(_, _, n)| *n > 0.0) {
        Some((l, u, _)) => {
            println!("gap_max_gt_ms={}", ms(*l));
            println!("gap_max_le_ms={}", ms(*u));
        }
        None => println!("gap_max_gt_ms=-\ngap_max_le_ms=-"),
    }
    let over = |ms_bound: f64| {
        per.iter()
            .filter(|(l, _, _)| *l >= ms_bound / 1000.0 - 1e-9)
            .map(|(_, _, n)| n)
            .sum::<f64>()
    };
    println!("gaps_over_25ms={}", over(25.0));
    println!("gaps_over_40ms={}", over(40.0));
    if total > 0.0 {
        println!(
            "gap_mean_ms={:.2}",
            delta("parley_sip_rtp_send_gap_seconds_sum") / total * 1000.0
        );
    }
    println!("packets={}", delta("parley_sip_rtp_packets_sent_total"));
    println!("late={}", delta("parley_sip_rtp_frames_late_total"));
    for reason in ["skipped", "underrun", "queue_full"] {
        println!(
            "missed_{reason}={}",
            delta(&format!("parley_sip_rtp_frames_missed_total{{reason=\"{reason}\"}}"))
        );
    }
    println!(
        "caller_frames_dropped={}",
        delta("parley_sip_caller_frames_dropped_total")
    );
    for (key, name) in [
        ("legs", "parley_sip_media_legs"),
        ("calls_active", "parley_calls_active"),
    ] {
        println!("{key}_before={}", b.get(name).copied().unwrap_or(0.0));
        println!("{key}_after={}", a.get(name).copied().unwrap_or(0.0));
    }
}

// ----- a capture on the wire -----------------------------------------------------------------

struct Stream {
    /// Send time and RTP timestamp (unwrapped) of the stream's packets in the window.
    packets: Vec<(f64, i64)>,
    /// The smallest (time − timestamp / 8000) of all its packets: its most punctual one.
    min_offset: f64,
    first_ts: u32,
    last_ts: i64,
}

fn wire(path: &Path, from: f64, to: f64) {
    let mut data = vec![];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .unwrap_or_else(|e| die(&format!("{}: {e}", path.display())));
    if data.len() < 24 {
        die("not a pcap file");
    }
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => die("not a pcap file"),
    };
    let rd = |b: &[u8]| {
        let a: [u8; 4] = b.try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let link = rd(&data[20..24]);
    let link_header = match link {
        1 => 14, // Ethernet (lo on Linux)
        113 => 16,
        276 => 20,
        _ => die(&format!("link type {link} not supported")),
    };
    let mut streams: HashMap<u32, Stream> = HashMap::new();
    let mut at = 24;
    let (mut records, mut rtp_packets) = (0u64, 0u64);
    while at + 16 <= data.len() {
        let secs = rd(&data[at..at + 4]) as f64;
        let frac = rd(&data[at + 4..at + 8]) as f64;
        let incl = rd(&data[at + 8..at + 12]) as usize;
        let t = secs + frac / if nanos { 1e9 } else { 1e6 };
        let pkt = &data[(at + 16).min(data.len())..(at + 16 + incl).min(data.len())];
        at += 16 + incl;
        records += 1;
        let Some(ip) = pkt.get(link_header..) else { continue };
        if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 17 {
            continue;
        }
        let udp = &ip[((ip[0] & 0x0f) as usize * 4).min(ip.len())..];
        let Some(rtp) = udp.get(8..20) else { continue };
        // RTP version 2, audio payload types only (PCMU 0, PCMA 8): not RTCP, not DTMF events.
        if rtp[0] >> 6 != 2 || !matches!(rtp[1] & 0x7f, 0 | 8) {
            continue;
        }
        rtp_packets += 1;
        let ts = u32::from_be_bytes(rtp[4..8].try_into().unwrap());
        let ssrc = u32::from_be_bytes(rtp[8..12].try_into().unwrap());
        let s = streams.entry(ssrc).or_insert(Stream {
            packets: vec![],
            min_offset: f64::INFINITY,
            first_ts: ts,
            last_ts: 0,
        });
        // Unwrap the timestamp near the last one (it wraps every 6 days at 8 kHz, from a random start).
        let step = ts.wrapping_sub(s.first_ts.wrapping_add(s.last_ts as u32)) as i32 as i64;
        s.last_ts += step;
        s.min_offset = s.min_offset.min(t - s.last_ts as f64 / 8000.0);
        if (from..=to).contains(&t) {
            s.packets.push((t, s.last_ts));
        }
    }
    let (mut gaps, mut missing, mut late, mut in_window) = (vec![], 0i64, 0u64, 0u64);
    let mut lateness = vec![];
    for s in streams.values() {
        in_window += s.packets.len() as u64;
        for w in s.packets.windows(2) {
            gaps.push(w[1].0 - w[0].0);
            let frames = (w[1].1 - w[0].1) / FRAME_SAMPLES as i64;
            missing += (frames - 1).max(0);
        }
        for &(t, ts) in &s.packets {
            let behind = t - ts as f64 / 8000.0 - s.min_offset;
            lateness.push(behind);
            late += (behind >= 0.020) as u64;
        }
    }
    gaps.sort_by(f64::total_cmp);
    lateness.sort_by(f64::total_cmp);
    let q = |v: &[f64], q: f64| {
        if v.is_empty() {
            "-".to_string()
        } else {
            format!(
                "{:.1}",
                v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1] * 1000.0
            )
        }
    };
    println!("wire_records={records}");
    println!("wire_rtp_packets={rtp_packets}");
    println!(
        "wire_streams={}",
        streams.values().filter(|s| !s.packets.is_empty()).count()
    );
    println!("wire_packets={in_window}");
    println!("wire_gaps={}", gaps.len());
    println!("wire_gap_p50_ms={}", q(&gaps, 0.5));
    println!("wire_gap_p99_ms={}", q(&gaps, 0.99));
    println!("wire_gap_p999_ms={}", q(&gaps, 0.999));
    println!("wire_gap_max_ms={}", q(&gaps, 1.0));
    println!("wire_gaps_over_25ms={}", gaps.iter().filter(|g| **g > 0.025).count());
    println!("wire_missing_frames={missing}");
    println!("wire_late_frames={late}");
    println!("wire_lateness_p99_ms={}", q(&lateness, 0.99));
    println!("wire_lateness_max_ms={}", q(&lateness, 1.0));
}
