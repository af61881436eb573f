//! One voice per language: the set a server picks an agent's voice from by its language.
//!
//! Where the voices come from, best first:
//! 1. Piper voices in `models/piper/` ([`Models::piper_voices`]), each speaking the language its
//!    `.onnx.json` names (`language.code`, else `espeak.voice`), phonemes from that voice's own
//!    espeak-ng voice. `scripts/setup` installs the English one; no package registry carried a
//!    Piper voice for another language when this was written (December 2026), but one copied
//!    into `models/piper/` is found and used. Non-English Piper voices are untested: the clause
//!    splitter before espeak-ng follows its English rules (see [`super::phonemes`]).
//! 2. The `espeak-ng` program's own voice ([`EspeakTts`]) for the languages of
//!    [`ESPEAK_FALLBACKS`], where no Piper voice is installed: robotic, clearly lower quality
//!    than Piper, but intelligible through the phone and Whisper (measured in the `languages`
//!    test). The program is run, never linked (its library is GPL-3+).
//!
//! Loading is lazy: [`Voices::discover`] only reads the directory, the voices' configs and
//! `espeak-ng --voices` (a few milliseconds); a voice is loaded by the first [`Voices::get`] for
//! its language and kept (a Piper voice holds ~100 MB per session, so unused languages cost
//! nothing). A server that wants its default voice ready at start calls `get` for it then.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;

use super::espeak::EspeakTts;
use super::piper::{PiperConfig, PiperTts};
use crate::models::Models;
use crate::{Language, SpeechError, TextToSpeech};

/// Languages the `espeak-ng` program speaks when no Piper voice is installed for them, with the
/// espeak-ng voice used. Only languages measured end to end (espeak-ng, 8 kHz mu-law, Whisper
/// base told the language: the `languages` test, the `language_wer` example) are listed.
///
/// Spanish is Latin American Spanish (`es-419`), the variety most Spanish-speaking callers
/// speak, with espeak-ng's Klatt synthesizer (`+klatt3`): on 12 call-centre sentences through
/// mu-law and Whisper base it scored 36 % WER at 150 words a minute (44–48 % at 140 and 160),
/// against 65–78 % for espeak-ng's default Spanish voices at any speed: still poor, but half
/// the misheard words.
pub const ESPEAK_FALLBACKS: &[(Language, &str)] = &[(Language::SPANISH, "es-419+klatt3")];

/// Speaking rate of the espeak-ng fallback voices, words per minute: slower than espeak-ng's
/// 175, which Whisper base follows worse over the phone (see [`ESPEAK_FALLBACKS`]).
pub const ESPEAK_FALLBACK_SPEED: u32 = 150;

/// Which engine a language's voice runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceKind {
    /// A Piper voice (natural).
    Piper,
    /// The `espeak-ng` program's own voice (robotic; the fallback).
    Espeak,
}

/// What a language's voice is, known without loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceInfo {
    pub language: Language,
    pub kind: VoiceKind,
    /// The Piper voice's file stem (`en_US-joe-medium`) or the espeak-ng voice (`es-419+klatt3`).
    pub name: String,
}

/// A loaded voice of either kind.
#[derive(Debug)]
pub enum LanguageVoice {
    Piper(PiperTts),
    Espeak(EspeakTts),
}

impl TextToSpeech for LanguageVoice {
    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        match self {
            LanguageVoice::Piper(v) => v.synthesize(text),
            LanguageVoice::Espeak(v) => v.synthesize(text),
        }
    }
}

enum Source {
    Piper { onnx: PathBuf, json: PathBuf },
    Espeak { voice: &'static str },
}

struct Entry {
    info: VoiceInfo,
    source: Source,
    /// The voice once loaded; the lock also makes a second caller wait for the first's load.
    loaded: Mutex<Option<Arc<LanguageVoice>>>,
}

/// The installed voices, one per language; see the module docs.
pub struct Voices {
    onnxruntime: Option<PathBuf>,
    piper: PiperConfig,
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Voices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|e| &e.info)).finish()
    }
}

/// The parts of a Piper voice config that say its language.
#[derive(Deserialize)]
struct LanguageOfVoice {
    #[serde(default)]
    language: Option<LanguageSection>,
    #[serde(default)]
    espeak: Option<EspeakSection>,
}

#[derive(Deserialize)]
struct LanguageSection {
    code: String,
}

#[derive(Deserialize)]
struct EspeakSection {
    voice: String,
}

/// The language a Piper voice config names, if it can be read.
fn piper_language(json: &std::path::Path) -> Option<Language> {
    let raw = std::fs::read_to_string(json).ok()?;
    let config: LanguageOfVoice = serde_json::from_str(&raw).ok()?;
    config
        .language
        .and_then(|l| Language::parse(&l.code))
        .or_else(|| config.espeak.and_then(|e| Language::parse(&e.voice)))
}

/// The voices the espeak-ng program knows: the names `espeak-ng --voices` lists (its second
/// column: `en-us`, `es-419`), and each variant of `--voices=variant` as `+name` (from its file
/// column, `!v/klatt3` → `+klatt3`). Empty when the program does not run. espeak-ng itself
/// silently ignores an unknown variant, so this is the only check that one is there.
fn espeak_voice_names(program: &std::path::Path) -> HashSet<String> {
    let list = |arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default()
    };
    let column = |text: &str, n: usize| -> Vec<String> {
        text.lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(n).map(str::to_string))
            .collect()
    };
    let mut names: HashSet<String> = column(&list("--voices"), 1).into_iter().collect();
    names.extend(
        column(&list("--voices=variant"), 4)
            .iter()
            .filter_map(|file| file.rsplit('/').next().map(|v| format!("+{v}"))),
    );
    names
}

/// Whether espeak-ng knows `voice`, variant included (`es-419+klatt3`).
fn espeak_knows(known: &HashSet<String>, voice: &str) -> bool {
    let mut parts = voice.splitn(2, '+');
    let base = parts.next().unwrap_or_default();
    known.contains(base)
        && parts
            .next()
            .is_none_or(|variant| known.contains(&format!("+{variant}")))
}

impl Voices {
    /// Finds the installed voices without loading any: the Piper voices of `models` (when ONNX
    /// Runtime is installed too), then an espeak-ng voice for each language of
    /// [`ESPEAK_FALLBACKS`] that has no Piper voice and that the program knows. Piper voices
    /// load with `piper` (its `espeak_program` also runs the fallbacks). Never fails: what is
    /// missing is simply not offered.
    pub fn discover(models: &Models, piper: PiperConfig) -> Voices {
        let onnxruntime = models.onnxruntime().ok();
        let mut entries: Vec<Entry> = Vec::new();
        let taken = |entries: &[Entry], language: Language| entries.iter().any(|e| e.info.language == language);
        if onnxruntime.is_some() {
            for (onnx, json) in models.piper_voices() {
                let Some(language) = piper_language(&json) else {
                    tracing::warn!(voice = %json.display(), "Piper voice config names no language: skipped");
                    continue;
                };
                if taken(&entries, language) {
                    continue;
                }
                let name = onnx
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                entries.push(Entry {
                    info: VoiceInfo {
                        language,
                        kind: VoiceKind::Piper,
                        name,
                    },
                    source: Source::Piper { onnx, json },
                    loaded: Mutex::new(None),
                });
            }
        }
        let known = espeak_voice_names(&piper.espeak_program);
        for &(language, voice) in ESPEAK_FALLBACKS {
            if taken(&entries, language) || !espeak_knows(&known, voice) {
                continue;
            }
            entries.push(Entry {
                info: VoiceInfo {
                    language,
                    kind: VoiceKind::Espeak,
                    name: voice.to_string(),
                },
                source: Source::Espeak { voice },
                loaded: Mutex::new(None),
            });
        }
        Voices {
            onnxruntime,
            piper,
            entries,
        }
    }

    /// The languages there is a voice for, in discovery order (the default voice's first).
    pub fn languages(&self) -> Vec<Language> {
        self.entries.iter().map(|e| e.info.language).collect()
    }

    /// What the voice for `language` is, without loading it.
    pub fn info(&self, language: Language) -> Option<&VoiceInfo> {
        self.entry(language).map(|e| &e.info)
    }

    /// The voice for `language`, loaded on first use and shared after. `Ok(None)`: no voice
    /// speaks it. A failed load is returned and tried again by the next call.
    pub fn get(&self, language: Language) -> Result<Option<Arc<LanguageVoice>>, SpeechError> {
        let Some(entry) = self.entry(language) else {
            return Ok(None);
        };
        let mut slot = entry.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(voice) = slot.as_ref() {
            return Ok(Some(voice.clone()));
        }
        let started = std::time::Instant::now();
        let voice = Arc::new(match &entry.source {
            Source::Piper { onnx, json } => {
                let lib = self
                    .onnxruntime
                    .as_deref()
                    .ok_or_else(|| SpeechError::MissingModel("ONNX Runtime library".into()))?;
                LanguageVoice::Piper(PiperTts::new(lib, onnx, json, self.piper.clone())?)
            }
            Source::Espeak { voice } => LanguageVoice::Espeak(EspeakTts::with_program(
                &self.piper.espeak_program,
                voice,
                ESPEAK_FALLBACK_SPEED,
            )?),
        });
        tracing::info!(
            %language,
            voice = %entry.info.name,
            kind = ?entry.info.kind,
            load_ms = started.elapsed().as_millis() as u64,
            "voice loaded"
        );
        *slot = Some(voice.clone());
        Ok(Some(voice))
    }

    /// [`Voices::get`] by a BCP-47 tag (`es-MX` is served by any Spanish voice); `Ok(None)` also
    /// for a tag that is not a language.
    pub fn for_language(&self, tag: &str) -> Result<Option<Arc<LanguageVoice>>, SpeechError> {
        match Language::parse(tag) {
            Some(language) => self.get(language),
            None => Ok(None),
        }
    }

    fn entry(&self, language: Language) -> Option<&Entry> {
        self.entries.iter().find(|e| e.info.language == language)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piper_config_names_its_language() {
        let dir = std::env::temp_dir().join(format!("parley-voices-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.join(name);
            std::fs::write(&path, body).unwrap();
            path
        };
        let new = write(
            "new.json",
            r#"{"language": {"code": "es_MX"}, "espeak": {"voice": "es"}}"#,
        );
        assert_eq!(piper_language(&new), Some(Language::SPANISH));
        let old = write("old.json", r#"{"espeak": {"voice": "de"}}"#);
        assert_eq!(piper_language(&old), Language::parse("de"));
        let none = write("none.json", "{}");
        assert_eq!(piper_language(&none), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn espeak_voices_and_variants_are_checked() {
        let known: HashSet<String> = ["es-419", "en-us", "+klatt3"].iter().map(|s| s.to_string()).collect();
        assert!(espeak_knows(&known, "es-419"));
        assert!(espeak_knows(&known, "es-419+klatt3"));
        assert!(!espeak_knows(&known, "es-419+klatt9"));
        assert!(!espeak_knows(&known, "sw+klatt3"));
        // The installed program lists the fallbacks (scripts/setup checks it too).
        let installed = espeak_voice_names(std::path::Path::new(super::super::phonemes::ESPEAK_PROGRAM));
        if !installed.is_empty() {
            for (_, voice) in ESPEAK_FALLBACKS {
                assert!(espeak_knows(&installed, voice), "{voice} in {installed:?}");
            }
        }
    }

    #[test]
    fn nothing_installed_offers_no_piper_voice() {
        let voices = Voices::discover(&Models::new("/nonexistent/parley-models"), PiperConfig::default());
        assert!(voices.info(Language::ENGLISH).is_none());
        assert!(voices.get(Language::ENGLISH).unwrap().is_none());
        assert!(voices.for_language("not a tag").unwrap().is_none());
    }
}
