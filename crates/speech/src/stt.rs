//! Speech-to-text with Whisper (whisper.cpp through `whisper-rs`).
//!
//! [`WhisperStt`] loads one model and keeps a pool of decoder states, one per worker, so several
//! threads can transcribe at once through `&self`; a caller beyond `workers` waits for a free
//! state (the caller's own worker pool bounds the queue).
//!
//! Latency: whisper.cpp encodes a fixed 30 s window by default, which costs the same for a 1 s
//! "yes" as for a 30 s monologue. [`AudioWindow::Fitted`] shrinks the encoder's context
//! (`audio_ctx`, 50 frames per second of audio) to the utterance plus a margin, which cuts the
//! encoder's cost roughly in proportion. `cargo run --release -p parley-speech --example
//! stt_wer` measures word error rate and real-time factor for both settings on phone audio.
//!
//! Measured (Whisper base q8_0, 2-core machine, 12 call-centre sentences of ~2.9 s through
//! 8 kHz mu-law; `--voices`/`--windows` as in the example's docs):
//!
//! | voices (words)                        | window                  | WER    | RTF (1 thread) | per utterance |
//! | ------------------------------------- | ----------------------- | ------ | -------------- | ------------- |
//! | 5 espeak-ng voices (450)              | full 30 s               | 28.9 % | 1.20           | 3.5 s         |
//! | 5 espeak-ng voices (450)              | fitted, +1 s, >= 256    | 24.9 % | 0.14           | 0.42 s        |
//! | Piper voice at 3 speaking rates (270) | full 30 s               | 2.2 %  | 0.72 (2 thr.)  | 1.7 s         |
//! | Piper voice at 3 speaking rates (270) | fitted, +1 s, >= 256    | 2.2 %  | 0.17           | 0.39 s        |
//!
//! Models compared (`bench/stt_wer.sh`, `bench/README.md`: 30 sentences x 9 voices, clean and
//! with call-centre babble at 20 / 10 dB SNR, the server's window, one thread, same machine):
//! Whisper base q8_0 WER 16.9 / 22.9 / 45.3 % at 550 ms CPU per utterance (median); tiny.en q8_0
//! 18.1 / 23.4 / 47.2 % at 250 ms. On the natural-sounding voices both are at 3-4 % clean.
//!
//! The fitted window needs the loop guard of [`clean_transcript`]: without it a few utterances
//! decode into a phrase repeated to the token limit (WER 47 %). The phone path itself costs
//! espeak-ng voices ~10 points (15.9 % on the same audio at 16 kHz).
//!
//! Threads: ggml's worker threads spin at barriers, so with more threads than idle cores (other
//! calls, TTS, a build) one transcription can take several times longer (6x measured with two
//! threads on a busy machine). One thread per transcription and one worker per core is the
//! robust setting under load. But a transcription that runs alone on an idle machine leaves
//! the other cores unused while the caller waits for it (on a 2-core EPYC without AVX-512, a
//! primed "Yes." took ~250 ms on one thread and ~140 ms on two): so a transcription that starts
//! while no other one runs, on a machine with nothing else runnable, can take
//! [`WhisperConfig::idle_threads`]; any other takes [`WhisperConfig::threads`]. The check matters:
//! two spinning threads on a machine busy with something else took seconds for a "Yes."
//! It is off by default (1): in a call the machine is never idle in the way the check can see.
//! The call's own 20 ms media ticks preempt a spinning worker, and on a 2-core EPYC with
//! AVX-512 one call's speech-to-text took 217-238 ms at p50 with two threads against 55-61 ms
//! with one (`bench/README.md`, 2026-12-05). `bench/turn_latency.sh` measures one call and many.
//!
//! Languages: the installed model (Whisper base) is the multilingual one, so one loaded model
//! serves calls in any language it knows; each transcription names its language
//! ([`SpeechToText::transcribe_in_language`]; [`WhisperConfig::language`], English, when it does
//! not). The language is always told, never detected: detection costs a decoder pass and
//! guesses wrong on a short "sí" over the phone.
//!
//! Decoding is greedy, in the language asked for, without timestamps, in a single segment, with blank and
//! non-speech tokens suppressed, no temperature fallback and no context carried from one call
//! to the next. Near-silent input returns `""` without running the model; a decode with a very
//! low mean token log-probability (Whisper's "you" on hum, see [`Transcript::is_no_speech`])
//! returns `""`; annotations (`[BLANK_AUDIO]`, `(music)`, a lone "." ...) are stripped.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

mod loops;

pub use loops::clean_transcript;
use loops::{LoopStop, LoopTable};

use crate::models::Models;
use crate::{Language, SpeechError, SpeechToText, PHONE_RATE};

/// Whisper's input sample rate.
pub const WHISPER_RATE: u32 = 16_000;
/// Encoder frames per second of audio (10 ms mel hop, then a stride-2 convolution).
const ENCODER_FRAMES_PER_SECOND: f32 = 50.0;
/// The model's full context: 30 s.
const FULL_AUDIO_CTX: u32 = 1500;

/// How much of Whisper's 30 s window the encoder looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AudioWindow {
    /// The model's full 30 s window, whatever the utterance's length (slowest, the reference).
    Full,
    /// A window fitted to each utterance: `audio_ctx = ceil((length + margin) * 50)` rounded up
    /// to a multiple of 64 encoder frames, at least `min_frames`, at most 1500.
    Fitted {
        /// Silence the window keeps after the end of the speech, in milliseconds.
        margin_ms: u32,
        /// Smallest window, in encoder frames (50 per second).
        min_frames: u32,
    },
}

impl AudioWindow {
    /// The `audio_ctx` for an utterance of `samples` samples at 16 kHz (0 means the full window).
    pub fn audio_ctx(&self, samples: usize) -> u32 {
        match *self {
            AudioWindow::Full => 0,
            AudioWindow::Fitted { margin_ms, min_frames } => {
                let seconds = samples as f32 / WHISPER_RATE as f32 + margin_ms as f32 / 1000.0;
                let frames = (seconds * ENCODER_FRAMES_PER_SECOND).ceil() as u32;
                let frames = frames.max(min_frames).div_ceil(64) * 64;
                if frames >= FULL_AUDIO_CTX {
                    0
                } else {
                    frames
                }
            }
        }
    }
}

impl Default for AudioWindow {
    /// The setting chosen from the `stt_wer` measurements (module docs): no worse than the full
    /// window on phone audio, at about an eighth of the CPU for a 3 s utterance.
    fn default() -> Self {
        AudioWindow::Fitted {
            margin_ms: 1000,
            min_frames: 256,
        }
    }
}

/// How [`WhisperStt`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct WhisperConfig {
    /// CPU threads one transcription uses when others run beside it (keep threads x workers <=
    /// cores; see module docs).
    pub threads: usize,
    /// CPU threads a transcription uses when it starts while no other one runs (at least
    /// `threads`; 1 turns the adaptation off).
    pub idle_threads: usize,
    /// Transcriptions that can run at once (one decoder state, ~60 MB, each); further callers
    /// wait for a free one.
    pub workers: usize,
    /// Encoder window (latency versus accuracy).
    pub window: AudioWindow,
    /// Input whose RMS level is below this (dBFS) is silence: `""` without decoding.
    pub silence_dbfs: f32,
    /// Use ggml's flash-attention kernels.
    pub flash_attn: bool,
    /// The language of transcriptions that do not name one ([`SpeechToText::transcribe`]).
    pub language: Language,
}

impl Default for WhisperConfig {
    fn default() -> Self {
        Self {
            threads: 1,
            idle_threads: 1,
            workers: 2,
            window: AudioWindow::default(),
            silence_dbfs: -55.0,
            flash_attn: false,
            language: Language::ENGLISH,
        }
    }
}

/// One transcription with the decoder's confidence figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    /// The cleaned text (empty for silence or no speech).
    pub text: String,
    /// The model's probability that the audio holds no speech (its `<|nospeech|>` token).
    pub no_speech_prob: f32,
    /// Mean natural-log probability of the text tokens (0 when there are none).
    pub avg_logprob: f32,
    /// Encoder window used, in frames (0 = the full 30 s; also 0 when nothing was decoded).
    pub audio_ctx: u32,
}

impl Transcript {
    /// No-speech probability above which, together with a low mean log-probability, the
    /// decoded text is discarded as a hallucination on noise.
    pub const NO_SPEECH_THRESHOLD: f32 = 0.6;
    /// Mean log-probability under which a text is doubtful.
    pub const LOGPROB_THRESHOLD: f32 = -1.0;
    /// Mean log-probability under which a text is taken for a hallucination whatever the
    /// no-speech probability. On noise and hum Whisper base writes "you", "I'm going to get the
    /// car." at -1.9 to -2.6; phone speech (espeak-ng voices, `stt_wer`) scored -1.12 at worst,
    /// median -0.37.
    pub const HALLUCINATION_LOGPROB: f32 = -1.5;

    /// No speech: Whisper's own rule (as in openai-whisper: a high no-speech probability and a
    /// low mean log-probability), or a very low mean log-probability. The second rule does the
    /// work: whisper.cpp reads the no-speech probability after `<|notimestamps|>`, where it is
    /// ~1e-6 even for pure noise.
    pub fn is_no_speech(&self) -> bool {
        self.avg_logprob < Self::HALLUCINATION_LOGPROB
            || (self.no_speech_prob > Self::NO_SPEECH_THRESHOLD && self.avg_logprob < Self::LOGPROB_THRESHOLD)
    }
}

/// Whether the machine's other cores are idle now: nothing else runnable but the thread that
/// asks (the 4th field of `/proc/loadavg` counts runnable tasks, this one included). ggml's
/// threads spin at barriers, so a second thread on a core something else wants is far worse
/// than none (a "Yes." took seconds instead of ~150 ms with a build running beside it); where
/// the file cannot be read, the machine is taken as busy.
fn cpu_idle() -> bool {
    let Ok(load) = std::fs::read_to_string("/proc/loadavg") else {
        return false;
    };
    let runnable = load
        .split_whitespace()
        .nth(3)
        .and_then(|f| f.split_once('/'))
        .and_then(|(r, _)| r.parse::<usize>().ok());
    runnable.is_some_and(|r| r <= 1)
}

/// Counts a transcription as running until it is dropped (also on an early return).
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whisper speech-to-text over 8 kHz phone audio; see the module docs.
pub struct WhisperStt {
    config: WhisperConfig,
    states: Mutex<Vec<WhisperState>>,
    state_freed: Condvar,
    ctx: WhisperContext,
    /// What stopping a repetition loop needs to know of the model's tokens.
    loops: LoopTable,
    /// Transcriptions running now (picks each new one's threads).
    running: AtomicUsize,
}

impl std::fmt::Debug for WhisperStt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperStt")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WhisperStt {
    /// Loads a whisper.cpp model (ggml format) and creates `config.workers` decoder states.
    pub fn new(model_path: impl AsRef<Path>, config: WhisperConfig) -> Result<Self, SpeechError> {
        let model_path = model_path.as_ref();
        if !model_path.is_file() {
            return Err(SpeechError::MissingModel(format!(
                "Whisper model not found at {}",
                model_path.display()
            )));
        }
        // whisper.cpp logs to stderr by default; route it to `tracing` instead.
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false).flash_attn(config.flash_attn);
        let ctx = WhisperContext::new_with_params(model_path, params)
            .map_err(|e| SpeechError::Engine(format!("cannot load Whisper model {}: {e}", model_path.display())))?;
        let workers = config.workers.max(1);
        let states = (0..workers)
            .map(|_| ctx.create_state())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SpeechError::Engine(format!("cannot create a Whisper state: {e}")))?;
        tracing::info!(
            model = %model_path.display(),
            workers,
            threads = config.threads,
            window = ?config.window,
            "whisper model loaded"
        );
        Ok(Self {
            config,
            states: Mutex::new(states),
            state_freed: Condvar::new(),
            loops: LoopTable::new(&ctx),
            ctx,
            running: AtomicUsize::new(0),
        })
    }

    /// Loads the installed model (`models/whisper/ggml-base-q8_0.bin`).
    pub fn from_models(models: &Models, config: WhisperConfig) -> Result<Self, SpeechError> {
        Self::new(models.whisper()?, config)
    }

    /// This engine's configuration.
    pub fn config(&self) -> &WhisperConfig {
        &self.config
    }

    /// Transcribes 16 kHz mono audio in [-1, 1] (the model's own format).
    pub fn transcribe_16k(&self, audio: &[f32]) -> Result<String, SpeechError> {
        Ok(self.transcribe_16k_detailed(audio)?.text)
    }

    /// Transcribes 8 kHz phone PCM, with the decoder's confidence figures.
    pub fn transcribe_detailed(&self, pcm: &[i16]) -> Result<Transcript, SpeechError> {
        self.transcribe_16k_detailed(&upsample_phone_to_whisper(pcm))
    }

    /// Transcribes 16 kHz audio, with the decoder's confidence figures. The text is empty for
    /// silence (below [`WhisperConfig::silence_dbfs`], not decoded) and when the decoder
    /// judges the audio to be no speech (see [`Transcript::is_no_speech`]).
    pub fn transcribe_16k_detailed(&self, audio: &[f32]) -> Result<Transcript, SpeechError> {
        self.decode(audio, None)
    }

    /// Decodes with an optional initial prompt (what was just said to the speaker), in the
    /// configured language.
    fn decode(&self, audio: &[f32], context: Option<&str>) -> Result<Transcript, SpeechError> {
        self.decode_in(audio, context, self.config.language)
    }

    /// Decodes `audio` as speech in `language`.
    fn decode_in(&self, audio: &[f32], context: Option<&str>, language: Language) -> Result<Transcript, SpeechError> {
        if !self.supports(language) {
            return Err(SpeechError::Engine(format!(
                "this Whisper model does not transcribe {language} (it knows {})",
                if self.ctx.is_multilingual() {
                    "Whisper's languages"
                } else {
                    "English only"
                }
            )));
        }
        if audio.is_empty() || rms_dbfs(audio) < self.config.silence_dbfs {
            return Ok(Transcript::default());
        }
        // whisper.cpp skips input under 100 ms; give it at least half a second.
        let min_len = WHISPER_RATE as usize / 2;
        let padded;
        let audio = if audio.len() < min_len {
            let mut v = audio.to_vec();
            v.resize(min_len, 0.0);
            padded = v;
            &padded[..]
        } else {
            audio
        };
        let audio_ctx = self.config.window.audio_ctx(audio.len());
        // Long enough for fast speech (~3 words, ~4 tokens a second), short enough to stop a
        // repetition loop early.
        let seconds = audio.len() as f32 / WHISPER_RATE as f32;
        let max_tokens = (seconds * 6.0).ceil() as i32 + 10;

        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        let alone = self.running.fetch_add(1, Ordering::SeqCst) == 0;
        let _running = Running(&self.running);
        let threads = if alone && self.config.idle_threads > self.config.threads && cpu_idle() {
            self.config.idle_threads.max(self.config.threads)
        } else {
            self.config.threads
        };
        params.set_n_threads(threads.max(1) as i32);
        params.set_language(Some(language.as_str()));
        params.set_translate(false);
        params.set_no_context(true);
        params.set_no_timestamps(true);
        params.set_single_segment(true);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_temperature(0.0);
        params.set_temperature_inc(0.0);
        params.set_max_tokens(max_tokens);
        let loop_stop = LoopStop::new(&self.loops, seconds);
        loop_stop.install(&mut params);
        params.set_audio_ctx(audio_ctx as i32);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        if let Some(c) = context.map(str::trim).filter(|c| !c.is_empty()) {
            // Whisper reads the prompt as the preceding text: the agent's question makes the
            // words it asks for likelier ("Thursday" rather than "Thirsty" after "what day").
            params.set_initial_prompt(c);
        }

        let eot = self.ctx.token_eot();
        let mut state = self.checkout();
        let started = std::time::Instant::now();
        let result = state
            .full(params, audio)
            .map_err(|e| SpeechError::Engine(format!("whisper decoding failed: {e}")))
            .and_then(|()| {
                let mut out = Transcript {
                    audio_ctx,
                    ..Transcript::default()
                };
                let (mut logprob_sum, mut tokens) = (0f32, 0usize);
                for segment in state.as_iter() {
                    let piece = segment
                        .to_str_lossy()
                        .map_err(|e| SpeechError::Engine(format!("whisper returned bad text: {e}")))?;
                    out.text.push_str(&piece);
                    out.no_speech_prob = out.no_speech_prob.max(segment.no_speech_probability());
                    for i in 0..segment.n_tokens() {
                        if let Some(token) = segment.get_token(i) {
                            let data = token.token_data();
                            if data.id < eot {
                                logprob_sum += data.plog;
                                tokens += 1;
                            }
                        }
                    }
                }
                if tokens > 0 {
                    out.avg_logprob = logprob_sum / tokens as f32;
                }
                Ok(out)
            });
        self.checkin(state);
        let mut out = result?;
        tracing::debug!(
            audio_ms = audio.len() as u64 * 1000 / WHISPER_RATE as u64,
            audio_ctx,
            primed = context.is_some_and(|c| !c.trim().is_empty()),
            %language,
            threads,
            decode_ms = started.elapsed().as_millis() as u64,
            text = %out.text,
            "whisper decode"
        );
        out.text = if out.is_no_speech() {
            String::new()
        } else {
            clean_transcript(&out.text)
        };
        Ok(out)
    }

    /// Whether this model transcribes `language`: any of Whisper's languages for a
    /// multilingual model (the installed base model is one), English only for an `.en` model.
    pub fn supports(&self, language: Language) -> bool {
        if self.ctx.is_multilingual() {
            whisper_knows(language)
        } else {
            language == Language::ENGLISH
        }
    }

    /// Transcribes 8 kHz phone PCM spoken in `language`, with the decoder's confidence figures.
    pub fn transcribe_detailed_in(&self, pcm: &[i16], language: Language) -> Result<Transcript, SpeechError> {
        self.decode_in(&upsample_phone_to_whisper(pcm), None, language)
    }

    /// The number of transcriptions running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    fn checkout(&self) -> WhisperState {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(state) = states.pop() {
                return state;
            }
            states = self.state_freed.wait(states).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn checkin(&self, state: WhisperState) {
        self.states.lock().unwrap_or_else(|p| p.into_inner()).push(state);
        self.state_freed.notify_one();
    }
}

impl SpeechToText for WhisperStt {
    fn transcribe(&self, pcm: &[i16]) -> Result<String, SpeechError> {
        self.transcribe_16k(&upsample_phone_to_whisper(pcm))
    }

    fn transcribe_in_context(&self, pcm: &[i16], context: &str) -> Result<String, SpeechError> {
        Ok(self.decode(&upsample_phone_to_whisper(pcm), Some(context))?.text)
    }

    fn transcribe_in_language(&self, pcm: &[i16], context: &str, language: Language) -> Result<String, SpeechError> {
        Ok(self
            .decode_in(&upsample_phone_to_whisper(pcm), Some(context), language)?
            .text)
    }
}

/// Whether Whisper's tokenizer has a language token for `language` (whisper.cpp's own table of
/// its 99 languages; the multilingual models all share it).
pub fn whisper_knows(language: Language) -> bool {
    whisper_rs::get_lang_id(language.as_str()).is_some()
}

/// RMS level of `audio` in dBFS (-inf for digital silence).
fn rms_dbfs(audio: &[f32]) -> f32 {
    let energy = audio.iter().map(|&s| (s as f64) * (s as f64)).sum::<f64>() / audio.len() as f64;
    (10.0 * energy.log10()) as f32
}

/// Half-width of the interpolation kernel, in input samples (taps per output = 2 * this).
const HALF_TAPS: usize = 16;

/// Taps of the windowed-sinc kernel that interpolates halfway between two input samples.
fn half_sample_taps() -> [f32; 2 * HALF_TAPS] {
    // Kaiser window, beta 8: ~80 dB stop band; the cutoff at the input's Nyquist frequency
    // (4 kHz) is above the phone band (300-3400 Hz).
    fn bessel_i0(x: f64) -> f64 {
        let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
        while term > 1e-12 * sum {
            term *= (x / (2.0 * k)).powi(2);
            sum += term;
            k += 1.0;
        }
        sum
    }
    const BETA: f64 = 8.0;
    let mut taps = [0f32; 2 * HALF_TAPS];
    let mut sum = 0.0;
    let mut raw = [0f64; 2 * HALF_TAPS];
    for (j, tap) in raw.iter_mut().enumerate() {
        // Distance from the output point (halfway between inputs HALF_TAPS-1 and HALF_TAPS).
        let t = j as f64 - (HALF_TAPS as f64 - 0.5);
        let sinc = (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t);
        let r = t / (HALF_TAPS as f64);
        let window = bessel_i0(BETA * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(BETA);
        *tap = sinc * window;
        sum += *tap;
    }
    for (tap, r) in taps.iter_mut().zip(raw) {
        *tap = (r / sum) as f32; // unity gain at DC
    }
    taps
}

/// Upsamples 8 kHz i16 PCM to 16 kHz f32 in [-1, 1] for Whisper: the even outputs are the input
/// samples, the odd ones are band-limited (windowed-sinc) interpolations halfway between them.
pub fn upsample_phone_to_whisper(pcm: &[i16]) -> Vec<f32> {
    debug_assert_eq!(WHISPER_RATE, 2 * PHONE_RATE);
    let taps = half_sample_taps();
    let x: Vec<f32> = pcm.iter().map(|&s| s as f32 / 32768.0).collect();
    let n = x.len();
    let mut out = Vec::with_capacity(2 * n);
    for i in 0..n {
        out.push(x[i]);
        // Midpoint between x[i] and x[i + 1]: inputs i+1-HALF_TAPS ..= i+HALF_TAPS.
        let mut acc = 0f32;
        for (j, &tap) in taps.iter().enumerate() {
            let k = i as isize + 1 - HALF_TAPS as isize + j as isize;
            if k >= 0 && (k as usize) < n {
                acc += tap * x[k as usize];
            }
        }
        out.push(acc);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_ctx_fits_the_utterance() {
        let fitted = AudioWindow::Fitted {
            margin_ms: 1000,
            min_frames: 256,
        };
        let sec = WHISPER_RATE as usize;
        assert_eq!(fitted.audio_ctx(sec), 256); // floor
        assert_eq!(fitted.audio_ctx(5 * sec), 320); // 6 s = 300 frames -> 320
        assert_eq!(fitted.audio_ctx(29 * sec), 0); // past 30 s: the full window
        assert_eq!(AudioWindow::Full.audio_ctx(sec), 0);
        for n in [0, 1, 1000, 3 * sec, 10 * sec] {
            assert_eq!(fitted.audio_ctx(n) % 64, 0);
        }
    }

    #[test]
    fn upsampling_keeps_a_phone_band_tone() {
        // 1 kHz tone at 8 kHz -> 16 kHz: compare against the ideal 16 kHz tone away from edges.
        let f = 1000.0f32;
        let pcm: Vec<i16> = (0..8000)
            .map(|i| ((2.0 * std::f32::consts::PI * f * i as f32 / 8000.0).sin() * 16000.0) as i16)
            .collect();
        let up = upsample_phone_to_whisper(&pcm);
        assert_eq!(up.len(), 16000);
        let mut err = 0f32;
        for (i, &y) in up.iter().enumerate().take(15900).skip(100) {
            let ideal = (2.0 * std::f32::consts::PI * f * i as f32 / 16000.0).sin() * 16000.0 / 32768.0;
            err = err.max((y - ideal).abs());
        }
        assert!(err < 2e-3, "max error {err}");
    }

    #[test]
    fn silence_is_quiet() {
        assert!(rms_dbfs(&[0.0; 100]) < -100.0);
        assert!((rms_dbfs(&[0.5; 100]) - -6.02).abs() < 0.1);
    }
}
