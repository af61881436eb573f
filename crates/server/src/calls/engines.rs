//! A call's speech engines, from its agent's choice (`stt`, `tts`) and the team's speech keys.
//!
//! A chosen cloud engine runs with the embedded engine as its fallback (the pipeline switches
//! mid-call when it fails). A choice that cannot start at all (no key, a deleted key, a base URL
//! the outbound policy refuses, a provider this build has no engine for) is not an error: the
//! call runs on the embedded engine and records the fallback at 0 ms, so the team sees why.
//!
//! Decision: the base URL is checked here, when the call starts, against the server's outbound
//! address policy (the one webhooks and the HTTP step obey): a name is resolved and refused if
//! any of its addresses is private or loopback, unless the operator allows those. The engine
//! resolves it again when it connects; a DNS answer that changes in between (rebinding) is the
//! same caveat the README documents for the outbound proxy.

use super::CallRunner;
use parley_core::interview::Interview;
use parley_core::speech::{primary_subtag, EngineChoice, EngineFallback, Provider, Side};
use parley_jobs::OutboundPolicy;
use parley_speech::cloud::cartesia::{CartesiaConfig, CartesiaTts};
use parley_speech::cloud::deepgram::{DeepgramConfig, DeepgramStt};
use parley_speech::cloud::elevenlabs::{ElevenLabsConfig, ElevenLabsTts};
use parley_speech::cloud::openai::{OpenAiStt, OpenAiSttConfig, OpenAiTts, OpenAiTtsConfig};
use parley_speech::cloud::ApiKey;
use parley_speech::session::{StreamingStt, StreamingTts};
use parley_store::speech_keys::SpeechKey;
use parley_voice::pipeline::CallEngines;
use std::sync::Arc;
use url::Url;

/// ElevenLabs' model when the agent names none: the low-latency one with the multi-context
/// socket and `language_code`.
const ELEVENLABS_MODEL: &str = "eleven_flash_v2_5";
/// Cartesia's model when the agent names none.
const CARTESIA_MODEL: &str = "sonic-2";
/// Deepgram's model when the agent names none: its newest general model, which takes mu-law
/// at 8 kHz as the phone sends it.
const DEEPGRAM_MODEL: &str = "nova-3";
/// OpenAI's models and voice when the agent names none: the low-latency ones.
const OPENAI_STT_MODEL: &str = "gpt-4o-mini-transcribe";
const OPENAI_TTS_MODEL: &str = "gpt-4o-mini-tts";
const OPENAI_VOICE: &str = "alloy";

/// What a call speaks with, and the choices that fell back before it started.
pub(super) struct Chosen {
    pub engines: CallEngines,
    pub fallbacks: Vec<EngineFallback>,
}

impl CallRunner {
    /// The engines of a call of `interview` for `team_id` (see the module's doc).
    pub(super) async fn engines_for(&self, team_id: &str, interview: &Interview) -> Chosen {
        let mut engines = self.speech.embedded_for(&interview.lang);
        let mut fallbacks = Vec::new();
        let mut fell_back = |side: Side, provider: Provider, error: String| {
            tracing::warn!(side = side.as_str(), provider = provider.as_str(), %error, "speech engine unavailable: the embedded engine serves the call");
            fallbacks.push(EngineFallback {
                side,
                provider,
                error,
                at_ms: 0,
            });
        };
        if let Some(choice) = interview.stt.as_ref().filter(|c| c.provider != Provider::Embedded) {
            match self.cloud_stt(team_id, interview, choice).await {
                Ok(stt) => {
                    engines.stt_fallback = Some(engines.stt.clone());
                    engines.stt = stt;
                }
                Err(error) => fell_back(Side::Stt, choice.provider, error),
            }
        }
        if let Some(choice) = interview.tts.as_ref().filter(|c| c.provider != Provider::Embedded) {
            match self.cloud_tts(team_id, interview, choice).await {
                Ok(tts) => {
                    engines.tts_fallback = Some(engines.tts.clone());
                    engines.tts = tts;
                }
                Err(error) => fell_back(Side::Tts, choice.provider, error),
            }
        }
        Chosen { engines, fallbacks }
    }

    /// The team's key for the choice's provider and the server to reach (the choice's, else the
    /// key's, else the provider's public one), or why not.
    async fn team_key(&self, team_id: &str, choice: &EngineChoice) -> Result<(SpeechKey, Option<String>), String> {
        let provider = choice.provider;
        let key: SpeechKey = self
            .store
            .speech_key(team_id, provider)
            .await
            .map_err(|e| format!("the team's {} key could not be read: {e}", provider.as_str()))?
            .ok_or_else(|| format!("the team has no {} key", provider.as_str()))?;
        let base_url = choice.base_url.clone().or_else(|| key.base_url.clone());
        Ok((key, base_url))
    }

    /// Deepgram's or OpenAI's speech-to-text with the team's key, or why not.
    async fn cloud_stt(
        &self,
        team_id: &str,
        interview: &Interview,
        choice: &EngineChoice,
    ) -> Result<Arc<dyn StreamingStt>, String> {
        let (key, base_url) = self.team_key(team_id, choice).await?;
        let language = choice.language_for(&interview.lang);
        let stt: Arc<dyn StreamingStt> = match choice.provider {
            Provider::Deepgram => {
                let model = choice.model.clone().unwrap_or_else(|| DEEPGRAM_MODEL.into());
                let mut c = DeepgramConfig::new(key.api_key, model);
                if let Some(u) = base_url {
                    c.base_url = websocket_url(&u)?;
                }
                // Deepgram takes the whole BCP-47 tag (`en-US`: its US English model).
                c.language = Some(language.to_string());
                check_address(&self.settings.outbound, &c.base_url).await?;
                Arc::new(DeepgramStt::new(c).map_err(|e| e.to_string())?)
            }
            Provider::Openai => {
                let model = choice.model.clone().unwrap_or_else(|| OPENAI_STT_MODEL.into());
                let mut c = OpenAiSttConfig::new(Some(ApiKey::new(key.api_key)), model);
                if let Some(u) = base_url {
                    c.base_url = http_url(&u)?;
                }
                c.language = Some(primary_subtag(language));
                check_address(&self.settings.outbound, &c.base_url).await?;
                Arc::new(OpenAiStt::new(c).map_err(|e| e.to_string())?)
            }
            _ => return Err("the provider has no speech-to-text engine".into()),
        };
        Ok(stt)
    }

    /// ElevenLabs', Cartesia's or OpenAI's voice with the team's key, or why not.
    async fn cloud_tts(
        &self,
        team_id: &str,
        interview: &Interview,
        choice: &EngineChoice,
    ) -> Result<Arc<dyn StreamingTts>, String> {
        let (key, base_url) = self.team_key(team_id, choice).await?;
        let language = primary_subtag(choice.language_for(&interview.lang));
        let tts: Arc<dyn StreamingTts> = match choice.provider {
            Provider::Elevenlabs => {
                let voice = choice.voice.clone().ok_or("no voice id was chosen")?;
                let model = choice.model.clone().unwrap_or_else(|| ELEVENLABS_MODEL.into());
                let mut c = ElevenLabsConfig::new(key.api_key, voice, model);
                if let Some(u) = base_url {
                    c.base_url = websocket_url(&u)?;
                }
                c.language_code = Some(language);
                check_address(&self.settings.outbound, &c.base_url).await?;
                Arc::new(ElevenLabsTts::new(c).map_err(|e| e.to_string())?)
            }
            Provider::Cartesia => {
                let voice = choice.voice.clone().ok_or("no voice id was chosen")?;
                let model = choice.model.clone().unwrap_or_else(|| CARTESIA_MODEL.into());
                let mut c = CartesiaConfig::new(key.api_key, model, voice);
                if let Some(u) = base_url {
                    c.base_url = websocket_url(&u)?;
                }
                c.language = Some(language);
                check_address(&self.settings.outbound, &c.base_url).await?;
                Arc::new(CartesiaTts::new(c).map_err(|e| e.to_string())?)
            }
            Provider::Openai => {
                // OpenAI's voices speak the language of the text they are given: no setting.
                let voice = choice.voice.clone().unwrap_or_else(|| OPENAI_VOICE.into());
                let model = choice.model.clone().unwrap_or_else(|| OPENAI_TTS_MODEL.into());
                let mut c = OpenAiTtsConfig::new(Some(ApiKey::new(key.api_key)), model, voice);
                if let Some(u) = base_url {
                    c.base_url = http_url(&u)?;
                }
                check_address(&self.settings.outbound, &c.base_url).await?;
                Arc::new(OpenAiTts::new(c).map_err(|e| e.to_string())?)
            }
            _ => return Err("the provider has no text-to-speech engine".into()),
        };
        Ok(tts)
    }
}

/// A provider's HTTP server (OpenAI's API or a compatible one), with its version path
/// (`https://api.openai.com/v1`).
fn http_url(raw: &str) -> Result<Url, String> {
    let u = Url::parse(raw.trim()).map_err(|e| format!("base URL: not a URL ({e})"))?;
    match u.scheme() {
        "https" | "http" => Ok(u),
        other => Err(format!("base URL: {other}:// is not http(s)://")),
    }
}

/// A provider's server as a WebSocket URL: `https://` reads as `wss://`, `http://` as `ws://`.
fn websocket_url(raw: &str) -> Result<Url, String> {
    let mut u = Url::parse(raw.trim()).map_err(|e| format!("base URL: not a URL ({e})"))?;
    let scheme = match u.scheme() {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        other => return Err(format!("base URL: {other}:// is not ws(s):// or http(s)://")),
    };
    u.set_scheme(scheme)
        .map_err(|()| "base URL: cannot be a WebSocket URL".to_string())?;
    Ok(u)
}

/// How long a provider's name may take to resolve before the call gives up on the provider.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Refuses a server whose address is private or loopback (a literal, or any address its name
/// resolves to) unless the policy allows those; a name that does not resolve is refused too.
pub(super) async fn check_address(policy: &OutboundPolicy, u: &Url) -> Result<(), String> {
    if policy.allow_private {
        return Ok(());
    }
    let host = u.host_str().ok_or("base URL: no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = u.port_or_known_default().unwrap_or(443);
    let addrs: Vec<std::net::IpAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![ip],
        // Bounded: the call waits for this answer before its first word.
        Err(_) => tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| {
                format!(
                    "base URL: {host} did not resolve within {} s",
                    RESOLVE_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| format!("base URL: {host} does not resolve ({e})"))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.iter().any(|ip| parley_jobs::outbound::is_private(*ip)) {
        return Err(format!(
            "base URL: {host} is a private or loopback address, which the server's outbound policy refuses (PARLEY_ALLOW_PRIVATE_WEBHOOKS)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_read_as_websockets() {
        assert_eq!(
            websocket_url("https://api.eu.residency.elevenlabs.io")
                .unwrap()
                .as_str(),
            "wss://api.eu.residency.elevenlabs.io/"
        );
        assert_eq!(websocket_url("ws://127.0.0.1:9/").unwrap().scheme(), "ws");
        assert!(websocket_url("ftp://x").is_err());
    }

    #[tokio::test]
    async fn private_servers_are_refused_unless_allowed() {
        let refuse = OutboundPolicy::default();
        let allow = OutboundPolicy {
            allow_private: true,
            ..OutboundPolicy::default()
        };
        for u in ["ws://127.0.0.1:9", "wss://10.1.2.3", "ws://[::1]:9", "ws://localhost:9"] {
            let u = Url::parse(u).unwrap();
            assert!(check_address(&refuse, &u).await.is_err(), "{u}");
            assert!(check_address(&allow, &u).await.is_ok(), "{u}");
        }
        assert!(check_address(&refuse, &Url::parse("wss://93.184.215.14").unwrap())
            .await
            .is_ok());
    }
}
