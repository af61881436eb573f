//! Sandbox personas: the virtual people who answer (or call from) sandbox numbers.
//!
//! A persona is a script, not a program: how it answers the phone, what it says at each of its
//! turns, and what it does while the agent talks (interrupt, backchannel). The voice layer runs
//! it with real audio both ways (it speaks with the offline TTS and listens with VAD, and with
//! STT only when a rule needs words), so the agent under test hears nothing but sound.
//!
//! Decision: turn-based steps are driven by the agent's silence (VAD), not by what the agent
//! said, because a persona that needs no words then costs no speech-to-text: twenty scripted
//! callers do not double the STT load of a benchmark. `when_heard` rules opt into STT.

use crate::ValidationError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How the persona's phone reacts to an incoming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum AnswerMode {
    /// Answers after `rings` rings.
    #[default]
    Answer,
    /// Rings until the caller gives up.
    Never,
    /// The line is busy.
    Busy,
    /// Declines the call.
    Reject,
}

/// One thing the persona does at its turn (after the agent has finished speaking).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// Say this text. A `|` inside it is a mid-sentence pause of `pause_ms`.
    Say {
        text: String,
        #[serde(default = "default_pause_ms")]
        pause_ms: u32,
    },
    /// Say nothing this turn (the agent's silence handling is exercised).
    Silent,
    /// Press these keys (`0-9*#`).
    Dtmf { digits: String },
    /// Hang up.
    HangUp,
}

fn default_pause_ms() -> u32 {
    600
}

/// A reaction to words the persona hears (needs speech-to-text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rule {
    /// Case-insensitive words to look for in what the agent said.
    pub when_heard: String,
    /// What to do instead of the next scripted step.
    pub then: Step,
}

/// Speech over the agent's speech.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OverTalk {
    /// What to say.
    pub text: String,
    /// How long the agent must have been speaking before the persona starts.
    #[serde(default = "default_after_ms")]
    pub after_ms: u32,
    /// At most this many times in the call (0 = every agent turn).
    #[serde(default = "one")]
    pub times: u32,
}

fn default_after_ms() -> u32 {
    700
}
fn one() -> u32 {
    1
}

/// The most steps and `when_heard` rules of a persona.
pub const MAX_STEPS: usize = 200;
pub const MAX_RULES: usize = 50;
/// The longest name, voicemail greeting and `when_heard` words.
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_GREETING_CHARS: usize = 1000;
pub const MAX_HEARD_CHARS: usize = 200;

/// A persona's whole script. Serialized as the API's persona body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PersonaScript {
    /// A display name ("Alex Morgan").
    pub name: String,
    #[serde(default)]
    pub answer: AnswerMode,
    /// Rings before answering (1 = on the first ring).
    #[serde(default = "two")]
    pub rings: u32,
    /// An answering machine: plays this greeting, then a beep, then records until hung up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_greeting: Option<String>,
    /// The steps, one per agent turn, in order. When they run out the persona stays silent.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Reactions to heard words, checked before the next step (needs speech-to-text).
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Talks over the agent (barge-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupt: Option<OverTalk>,
    /// Short acknowledgements ("mhm") while the agent speaks; `times` = 0 means on every turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel: Option<OverTalk>,
    /// Hangs up when the agent starts its K-th turn (1-based), whatever the steps say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hang_up_at_turn: Option<u32>,
    /// The language the persona speaks (a tag such as `es` or `es-MX`; default English): its
    /// voice and its "Hello?" on answering. `when_heard` rules still listen in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

fn two() -> u32 {
    2
}

impl PersonaScript {
    /// What the persona says on answering, in its language.
    pub fn hello(&self) -> &'static str {
        match self.lang.as_deref().map(crate::speech::primary_subtag).as_deref() {
            Some("es") => "¿Diga?",
            _ => "Hello?",
        }
    }

    /// Whether running this persona needs speech-to-text (only `when_heard` rules do).
    pub fn needs_stt(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Checks a team-defined persona; every problem is returned, located by field. Too many
    /// steps or rules is refused before any of them is looked at.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        if self.steps.len() > MAX_STEPS {
            return Err(vec![ValidationError::new(
                "steps",
                format!("at most {MAX_STEPS} steps (got {})", self.steps.len()),
            )]);
        }
        if self.rules.len() > MAX_RULES {
            return Err(vec![ValidationError::new(
                "rules",
                format!("at most {MAX_RULES} rules (got {})", self.rules.len()),
            )]);
        }
        let mut errs = Vec::new();
        let chars = |s: &str, max: usize| s.len() <= max || s.chars().count() <= max;
        if self.name.trim().is_empty() || !chars(&self.name, MAX_NAME_CHARS) {
            errs.push(ValidationError::new(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if !(1..=20).contains(&self.rings) {
            errs.push(ValidationError::new("rings", "must be from 1 to 20"));
        }
        if let Some(l) = &self.lang {
            let p = crate::speech::primary_subtag(l);
            if l.len() > 16 || !(2..=3).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_alphabetic()) {
                errs.push(ValidationError::new(
                    "lang",
                    "must be a language tag such as en or es-MX",
                ));
            }
        }
        if let Some(g) = &self.voicemail_greeting {
            if !chars(g, MAX_GREETING_CHARS) {
                errs.push(ValidationError::new(
                    "voicemail_greeting",
                    format!("at most {MAX_GREETING_CHARS} characters"),
                ));
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.when_heard.trim().is_empty() || !chars(&r.when_heard, MAX_HEARD_CHARS) {
                errs.push(ValidationError::new(
                    format!("rules[{i}].when_heard"),
                    format!("must be 1 to {MAX_HEARD_CHARS} characters"),
                ));
            }
        }
        let mut check = |at: String, s: &Step| match s {
            Step::Say { text, pause_ms } => {
                if text.trim().is_empty() || text.len() > 500 {
                    errs.push(ValidationError::new(
                        format!("{at}.text"),
                        "must be 1 to 500 characters",
                    ));
                }
                if *pause_ms > 5000 {
                    errs.push(ValidationError::new(format!("{at}.pause_ms"), "at most 5000"));
                }
            }
            Step::Dtmf { digits } => {
                if digits.is_empty() || digits.len() > 20 || !digits.chars().all(|c| "0123456789*#".contains(c)) {
                    errs.push(ValidationError::new(
                        format!("{at}.digits"),
                        "1 to 20 of the keys 0-9, * and #",
                    ));
                }
            }
            Step::Silent | Step::HangUp => {}
        };
        for (i, s) in self.steps.iter().enumerate() {
            check(format!("steps[{i}]"), s);
        }
        for (i, r) in self.rules.iter().enumerate() {
            check(format!("rules[{i}].then"), &r.then);
        }
        for (field, o) in [("interrupt", &self.interrupt), ("backchannel", &self.backchannel)] {
            if let Some(o) = o {
                if o.text.trim().is_empty() || o.text.len() > 200 {
                    errs.push(ValidationError::new(
                        format!("{field}.text"),
                        "must be 1 to 200 characters",
                    ));
                }
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }

    /// The built-in persona of a sandbox number's last two digits (API.md's table).
    pub fn builtin(slot: u8) -> Option<PersonaScript> {
        let say = |t: &str| Step::Say {
            text: t.into(),
            pause_ms: default_pause_ms(),
        };
        let base = |name: &str, steps: Vec<Step>| PersonaScript {
            name: name.into(),
            answer: AnswerMode::Answer,
            rings: 2,
            voicemail_greeting: None,
            steps,
            rules: vec![],
            interrupt: None,
            backchannel: None,
            hang_up_at_turn: None,
            lang: None,
        };
        // No comma: Piper pauses 400-440 ms at the comma of "Yes, that's right." (`cargo run
        // --release -p parley-speech --example comma_pauses`), longer than the fixed 400 ms
        // window and the transcript rule's 200 ms after "Yes.", so any turn rule hears two turns.
        // Only Whisper's "Yes, yes, yes," loop (read as mid-phrase) used to hide that.
        let yes = || say("Yes that's right.");
        Some(match slot {
            0 => base("Alex Morgan", vec![yes(), yes(), yes(), yes()]),
            1 => base(
                "Blake Rivera",
                vec![say("No, I can't make it."), say("Thursday at three pm."), yes(), yes()],
            ),
            2 => PersonaScript {
                answer: AnswerMode::Never,
                ..base("Casey Never", vec![])
            },
            3 => PersonaScript {
                answer: AnswerMode::Busy,
                ..base("Dana Busy", vec![])
            },
            4 => PersonaScript {
                voicemail_greeting: Some(
                    "Hi, you've reached Erin. I can't take your call right now. Please leave a message after the tone."
                        .into(),
                ),
                ..base("Erin Voicemail", vec![])
            },
            5 => base(
                "Finley Silent",
                vec![Step::Silent, Step::Silent, Step::Silent, Step::Silent],
            ),
            6 => PersonaScript {
                interrupt: Some(OverTalk {
                    text: "Sorry who is this".into(),
                    after_ms: 900,
                    times: 1,
                }),
                ..base("Gray Interrupter", vec![yes(), yes(), yes(), yes()])
            },
            7 => PersonaScript {
                backchannel: Some(OverTalk {
                    // "Mhm" spelled out is read letter by letter by espeak's phonemizer.
                    text: "Yeah.".into(),
                    after_ms: 900,
                    times: 0,
                }),
                ..base("Harper Backchannel", vec![yes(), yes(), yes(), yes()])
            },
            8 => base("Indy Hangup", vec![Step::HangUp]),
            9 => base(
                "Jordan Keypad",
                vec![
                    Step::Dtmf { digits: "1".into() },
                    Step::Dtmf { digits: "1".into() },
                    yes(),
                    yes(),
                ],
            ),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_slot_is_valid_and_round_trips() {
        for slot in 0..10 {
            let p = PersonaScript::builtin(slot).unwrap();
            p.validate().unwrap();
            let json = serde_json::to_value(&p).unwrap();
            assert_eq!(serde_json::from_value::<PersonaScript>(json).unwrap(), p);
        }
        assert!(PersonaScript::builtin(10).is_none());
    }

    #[test]
    fn validation_names_each_bad_field() {
        let p: PersonaScript = serde_json::from_value(serde_json::json!({
            "name": "", "rings": 0,
            "steps": [{"action": "dtmf", "digits": "12x"}, {"action": "say", "text": ""}]
        }))
        .unwrap();
        let errs = p.validate().unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "rings", "steps[0].digits", "steps[1].text"]);
    }

    #[test]
    fn too_many_steps_or_rules_are_refused_first() {
        let mut p = PersonaScript::builtin(0).unwrap();
        p.steps = vec![Step::Silent; MAX_STEPS + 1];
        let errs = p.validate().unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].to_string(), "steps: at most 200 steps (got 201)");
        p.steps.clear();
        p.rules = vec![
            Rule {
                when_heard: String::new(),
                then: Step::HangUp
            };
            MAX_RULES + 1
        ];
        assert_eq!(
            p.validate().unwrap_err()[0].to_string(),
            "rules: at most 50 rules (got 51)"
        );
        p.rules.truncate(1);
        p.voicemail_greeting = Some("x".repeat(MAX_GREETING_CHARS + 1));
        let fields: Vec<_> = p.validate().unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["voicemail_greeting", "rules[0].when_heard"]);
    }
}
