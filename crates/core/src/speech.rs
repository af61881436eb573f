//! Which speech engines an agent talks with: the providers, which side (speech-to-text or
//! text-to-speech) each serves, the languages each speaks, an agent's choice of engine, and the
//! record a call keeps when a chosen engine failed and the embedded one took over.
//!
//! Decisions a reader would otherwise question:
//! - The embedded (offline) engines are the default on both sides: an agent with no choice, or
//!   a choice whose provider has no key at call time, still talks.
//! - The language table is deliberately short: the languages each vendor documents for the
//!   models Parley uses, by primary subtag (`en` for `en-US`). An agent whose `lang` is missing
//!   from the table of the engine it would use is refused when saved, not discovered mid-call.

use crate::ValidationError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A speech engine's maker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// The offline engines that ship with Parley (Whisper, Piper).
    Embedded,
    Deepgram,
    Openai,
    Elevenlabs,
    Cartesia,
}
str_enum!(Provider {
    Embedded = "embedded", Deepgram = "deepgram", Openai = "openai", Elevenlabs = "elevenlabs",
    Cartesia = "cartesia",
});

/// The cloud providers, the ones a team keeps a key for.
pub const CLOUD_PROVIDERS: [Provider; 4] = [
    Provider::Deepgram,
    Provider::Openai,
    Provider::Elevenlabs,
    Provider::Cartesia,
];

/// Which way speech goes through an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Speech-to-text: hears the caller.
    Stt,
    /// Text-to-speech: the agent's voice.
    Tts,
}
str_enum!(Side { Stt = "stt", Tts = "tts" });

/// Languages by primary subtag (ISO 639-1), as each vendor documents them for the models
/// Parley uses:
/// - embedded: Whisper base (multilingual, told the call's language), the Piper `en_US` voice,
///   and for Spanish the `espeak-ng` program (no registry carries a non-English Piper voice;
///   `scripts/setup` checks espeak-ng's `es-419` voice);
/// - Deepgram: "Models & Languages Overview", Nova-3 (a subset of its monolingual languages);
/// - OpenAI: "Speech to text" and "Text to speech" guides (TTS "follows the Whisper model's
///   supported languages"; a subset of them);
/// - ElevenLabs: "Models", Flash v2.5 / Multilingual v2 (a subset of their 29-32 languages);
/// - Cartesia: "Sonic" model page, `sonic-2` languages.
const LANGUAGES: &[(Provider, &[&str])] = &[
    (Provider::Embedded, &["en", "es"]),
    (
        Provider::Deepgram,
        &["en", "es", "fr", "de", "hi", "ru", "pt", "ja", "it", "nl"],
    ),
    (
        Provider::Openai,
        &[
            "en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ko", "hi", "ru", "pl", "tr", "sv",
        ],
    ),
    (
        Provider::Elevenlabs,
        &[
            "en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ko", "hi", "ru", "pl", "tr", "sv", "ar", "id",
        ],
    ),
    (
        Provider::Cartesia,
        &[
            "en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ko", "hi", "ru", "pl", "tr", "sv",
        ],
    ),
];

impl Provider {
    /// Whether the provider has an engine for `side`.
    pub fn serves(self, side: Side) -> bool {
        match self {
            Provider::Embedded | Provider::Openai => true,
            Provider::Deepgram => side == Side::Stt,
            Provider::Elevenlabs | Provider::Cartesia => side == Side::Tts,
        }
    }

    /// Whether the provider's engines speak `lang` (a tag such as `en` or `en-US`).
    pub fn speaks(self, lang: &str) -> bool {
        let primary = primary_subtag(lang);
        LANGUAGES
            .iter()
            .find(|(p, _)| *p == self)
            .is_some_and(|(_, langs)| langs.contains(&primary.as_str()))
    }

    /// Whether a team keeps a key for this provider (every provider but the embedded one).
    pub fn is_cloud(self) -> bool {
        self != Provider::Embedded
    }
}

/// `en` for `en-US`, lowercased.
pub fn primary_subtag(lang: &str) -> String {
    lang.split(['-', '_']).next().unwrap_or("").trim().to_ascii_lowercase()
}

/// An agent's choice of engine for one side. Everything but the provider is optional: each
/// engine has defaults (a model; a voice for the embedded engine), and `language` defaults to
/// the agent's `lang`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineChoice {
    pub provider: Provider,
    /// The provider's model id (e.g. `eleven_flash_v2_5`, `sonic-2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "eleven_flash_v2_5")]
    pub model: Option<String>,
    /// The provider's voice id (text-to-speech; required for ElevenLabs and Cartesia).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100, example = "21m00Tcm4TlvDq8ikWAM")]
    pub voice: Option<String>,
    /// The language the engine is told (default: the agent's `lang`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 16, example = "en")]
    pub language: Option<String>,
    /// Another server of the provider's (a regional one); default: the team key's, else the
    /// provider's public one. Checked against the server's outbound address policy at call time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500, example = "wss://api.eu.residency.elevenlabs.io")]
    pub base_url: Option<String>,
}

impl EngineChoice {
    /// The embedded engine (the default).
    pub fn embedded() -> EngineChoice {
        EngineChoice {
            provider: Provider::Embedded,
            model: None,
            voice: None,
            language: None,
            base_url: None,
        }
    }

    /// The language this choice makes the engine speak: its own, else the agent's.
    pub fn language_for<'a>(&'a self, agent_lang: &'a str) -> &'a str {
        self.language.as_deref().unwrap_or(agent_lang)
    }

    /// The problems of the choice's own fields (lengths, the URL's scheme), whatever the team and
    /// the agent: a draft holding such a choice cannot even be shown as the agent's fields, so the
    /// API refuses it where it refuses an over-long `title`.
    pub fn shape_problems(&self, side: Side) -> Vec<ValidationError> {
        let s = side.as_str();
        let mut problems = Vec::new();
        let field = |f: &str| format!("{s}.{f}");
        for (name, v, max) in [
            ("model", &self.model, 100usize),
            ("voice", &self.voice, 100),
            ("language", &self.language, 16),
            ("base_url", &self.base_url, 500),
        ] {
            if let Some(v) = v {
                if v.trim().is_empty() || v.chars().count() > max {
                    problems.push(ValidationError::new(
                        field(name),
                        format!("must be 1 to {max} characters (or left out)"),
                    ));
                }
            }
        }
        if let Some(u) = &self.base_url {
            if !(u.starts_with("wss://")
                || u.starts_with("ws://")
                || u.starts_with("https://")
                || u.starts_with("http://"))
            {
                problems.push(ValidationError::new(
                    field("base_url"),
                    "must be a ws(s):// or http(s):// URL",
                ));
            }
        }
        problems
    }

    /// Checks the choice for `side` of an agent speaking `agent_lang`; `has_key` says whether
    /// the team keeps a key for a cloud provider. Every problem is named by its field path
    /// (`tts.provider`, `stt.voice`, `lang`).
    pub fn check(&self, side: Side, agent_lang: &str, has_key: bool) -> Vec<ValidationError> {
        let s = side.as_str();
        let mut problems = Vec::new();
        let field = |f: &str| format!("{s}.{f}");
        if !self.provider.serves(side) {
            problems.push(ValidationError::new(
                field("provider"),
                format!(
                    "{} has no {} engine",
                    self.provider.as_str(),
                    if side == Side::Stt {
                        "speech-to-text"
                    } else {
                        "text-to-speech"
                    }
                ),
            ));
            return problems;
        }
        if self.provider.is_cloud() && !has_key {
            problems.push(ValidationError::new(
                field("provider"),
                format!(
                    "the team has no {0} key; set one with PUT /team/speech_keys/{0}",
                    self.provider.as_str()
                ),
            ));
        }
        problems.extend(self.shape_problems(side));
        if side == Side::Tts
            && matches!(self.provider, Provider::Elevenlabs | Provider::Cartesia)
            && self.voice.is_none()
        {
            problems.push(ValidationError::new(
                field("voice"),
                format!("a voice id is required for {}", self.provider.as_str()),
            ));
        }
        if self.provider == Provider::Embedded && (self.voice.is_some() || self.model.is_some()) {
            problems.push(ValidationError::new(
                field("provider"),
                "the embedded engine takes no model or voice",
            ));
        }
        let lang = self.language_for(agent_lang);
        if !self.provider.speaks(lang) {
            let f = if self.language.is_some() {
                field("language")
            } else {
                "lang".to_string()
            };
            problems.push(ValidationError::new(
                f,
                format!(
                    "'{lang}' is not a language the {} {s} engine speaks",
                    self.provider.as_str()
                ),
            ));
        }
        problems
    }
}

/// A chosen engine that failed (or could not start) during a call, after which the embedded
/// engine served that side for the rest of the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EngineFallback {
    pub side: Side,
    /// The engine that failed.
    pub provider: Provider,
    /// Why, as the engine said it (never a key).
    pub error: String,
    /// When, in ms from the answer (0: before the call's first word, e.g. no key).
    pub at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(p: Provider) -> EngineChoice {
        EngineChoice {
            provider: p,
            voice: Some("v".into()),
            ..EngineChoice::embedded()
        }
    }

    #[test]
    fn providers_serve_their_sides() {
        assert!(Provider::Deepgram.serves(Side::Stt) && !Provider::Deepgram.serves(Side::Tts));
        assert!(Provider::Elevenlabs.serves(Side::Tts) && !Provider::Elevenlabs.serves(Side::Stt));
        assert!(Provider::Cartesia.serves(Side::Tts) && !Provider::Cartesia.serves(Side::Stt));
        assert!(Provider::Openai.serves(Side::Stt) && Provider::Openai.serves(Side::Tts));
        assert!(Provider::Embedded.serves(Side::Stt) && Provider::Embedded.serves(Side::Tts));
        assert_eq!(serde_json::to_value(Provider::Elevenlabs).unwrap(), "elevenlabs");
        assert_eq!(Provider::parse("openai"), Some(Provider::Openai));
        assert_eq!(Provider::parse("OpenAI"), None);
    }

    #[test]
    fn languages_match_on_the_primary_subtag() {
        assert!(Provider::Embedded.speaks("en-US") && Provider::Embedded.speaks("EN"));
        assert!(Provider::Embedded.speaks("es-MX") && !Provider::Embedded.speaks("fr"));
        assert!(Provider::Elevenlabs.speaks("es-MX") && Provider::Deepgram.speaks("de"));
        assert!(!Provider::Cartesia.speaks("xx"));
    }

    #[test]
    fn a_choice_is_checked_with_field_paths() {
        let wrong_side = choice(Provider::Deepgram).check(Side::Tts, "en", true);
        assert_eq!(wrong_side[0].field, "tts.provider");
        assert!(wrong_side[0].message.contains("no text-to-speech"));
        let no_key = choice(Provider::Elevenlabs).check(Side::Tts, "en", false);
        assert_eq!(no_key.len(), 1);
        assert!(no_key[0].message.contains("no elevenlabs key"), "{no_key:?}");
        let lang = choice(Provider::Elevenlabs).check(Side::Tts, "xx-YY", true);
        assert_eq!(lang[0].field, "lang");
        let own = EngineChoice {
            language: Some("xx".into()),
            ..choice(Provider::Cartesia)
        };
        assert_eq!(own.check(Side::Tts, "en", true)[0].field, "tts.language");
        let no_voice = EngineChoice {
            voice: None,
            ..choice(Provider::Cartesia)
        };
        assert_eq!(no_voice.check(Side::Tts, "en", true)[0].field, "tts.voice");
        assert!(EngineChoice::embedded().check(Side::Stt, "en-US", false).is_empty());
        assert_eq!(EngineChoice::embedded().check(Side::Stt, "fr", false)[0].field, "lang");
        assert!(choice(Provider::Elevenlabs).check(Side::Tts, "fr", true).is_empty());
    }
}
