//! Who answers a sandbox number: the built-in personas of `+1 NPA 555 01xx` (by the last two
//! digits), then the team's own bindings.

use crate::speech::Speech;
use parley_core::persona::PersonaScript;
use parley_core::phone;
use parley_store::Store;
use parley_telephony::network::BoxFuture;
use parley_telephony::sandbox::{Directory, Subscriber};
use parley_voice::persona::Persona;

pub struct SandboxDirectory {
    pub store: Store,
    pub speech: Speech,
}

impl SandboxDirectory {
    /// A persona runtime for a script.
    pub fn persona(&self, script: PersonaScript) -> Box<dyn Subscriber> {
        let stt = script.needs_stt().then(|| self.speech.stt.clone());
        let tts = self.speech.voice(script.lang.as_deref().unwrap_or("en"));
        Box::new(Persona::new(script, tts, stt))
    }

    /// The script of a persona id (`builtin-NN` or a team persona's id).
    pub async fn script(&self, team_id: &str, persona_id: &str) -> Option<PersonaScript> {
        self.store.persona(team_id, persona_id).await.ok().map(|p| p.script)
    }
}

impl Directory for SandboxDirectory {
    fn lookup<'a>(&'a self, team_id: &'a str, number: &'a str) -> BoxFuture<'a, Option<Box<dyn Subscriber>>> {
        Box::pin(async move {
            if let Some(slot) = phone::sandbox_persona_slot(number) {
                return PersonaScript::builtin(slot).map(|s| self.persona(s));
            }
            let bound = self.store.sandbox_number(team_id, number).await.ok()??;
            let script = self.script(team_id, bound.persona_id.as_deref()?).await?;
            Some(self.persona(script))
        })
    }
}
