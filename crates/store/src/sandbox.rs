//! The sandbox network's team side: personas (scripted virtual people), the team's sandbox
//! numbers, and inbound calls placed by a persona to one of the team's agents.
//!
//! - A team persona is a row whose `body` is its [`PersonaScript`] JSON. The ten built-in
//!   personas (API.md's table, slots 00-09) are code, not rows; they answer to the ids
//!   `builtin-00` … `builtin-09` everywhere a persona id is accepted ([`builtin_id`],
//!   [`builtin_slot`]).
//! - A sandbox number is bound to exactly one of a persona (outbound calls to it ring that
//!   persona) or a voice agent (a persona calling it in reaches that agent: the support-line
//!   pattern). The unused side is stored as `''`.
//! - [`Store::create_inbound_call`] writes the call exactly as `create_calls` does (same helpers)
//!   but with a [`SANDBOX_CALL_IN_JOB`] job that carries the persona's script.
//!
//! Decision: a persona that a number is bound to cannot be deleted ([`StoreError::Conflict`]
//! naming the numbers); unbinding silently would change what an outbound call to that number
//! does without the team noticing. The bind takes the persona's row lock (a no-op `UPDATE`) and
//! the delete takes it too, so on PostgreSQL a bind racing a delete cannot leave a binding to a
//! deleted persona.

use crate::calls::{insert_queued_call, queued_call};
use crate::{now_ms, Result, Store, StoreError};
use parley_core::call::{Call, CallType};
use parley_core::number::CallRoute;
use parley_core::persona::PersonaScript;
use parley_core::time::Timestamp;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// The job that runs a persona's call into one of the team's agents (run by the server's sandbox
/// network). Payload: `{call_id, team_id, persona_id, persona, from, to}`.
pub const SANDBOX_CALL_IN_JOB: &str = "sandbox_call_in";

/// Number of built-in personas (slots `00`..`09`).
pub const BUILTIN_PERSONAS: u8 = 10;

const BUILTIN_PREFIX: &str = "builtin-";

/// The id of a built-in persona: `builtin-07` for slot 7.
pub fn builtin_id(slot: u8) -> String {
    format!("{BUILTIN_PREFIX}{slot:02}")
}

/// The slot of a built-in persona id (`builtin-07` -> 7); `None` for anything else.
pub fn builtin_slot(id: &str) -> Option<u8> {
    let digits = id.strip_prefix(BUILTIN_PREFIX)?;
    if digits.len() != 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|s| *s < BUILTIN_PERSONAS)
}

/// A persona as the API shows it: a built-in one or one of the team's.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Persona {
    /// `builtin-00` … `builtin-09`, or a UUID for the team's own.
    pub id: String,
    pub builtin: bool,
    /// For a built-in persona, the last two digits of the sandbox numbers (`+1 NPA 555 01xx`)
    /// that ring it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_suffix: Option<String>,
    pub script: PersonaScript,
    /// Absent for built-in personas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<Timestamp>,
}

impl Persona {
    /// The built-in persona of `slot` (0..=9).
    pub fn builtin(slot: u8) -> Option<Persona> {
        Some(Persona {
            id: builtin_id(slot),
            builtin: true,
            number_suffix: Some(format!("{slot:02}")),
            script: PersonaScript::builtin(slot)?,
            created: None,
            updated: None,
        })
    }

    /// Every built-in persona, in slot order.
    pub fn builtins() -> Vec<Persona> {
        (0..BUILTIN_PERSONAS).filter_map(Persona::builtin).collect()
    }
}

/// One of a team's sandbox numbers and what it is bound to (exactly one of the two ids is set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SandboxNumber {
    /// E.164.
    pub phone_number: String,
    /// Outbound calls to this number ring this persona (a built-in id or the team's).
    pub persona_id: Option<String>,
    /// Personas calling this number in reach this voice agent.
    pub interview_id: Option<String>,
    pub created: Timestamp,
}

/// What a number is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    Persona(&'a str),
    Interview(&'a str),
}

/// A persona calling one of the team's sandbox numbers in.
#[derive(Debug, Clone)]
pub struct InboundCall<'a> {
    /// The agent the called number is bound to.
    pub interview_id: &'a str,
    /// The persona's number (E.164): the call's `phone_number`.
    pub from: &'a str,
    /// The team's sandbox number that was called (E.164).
    pub to: &'a str,
    pub persona_id: &'a str,
    pub persona: &'a PersonaScript,
    pub metadata: BTreeMap<String, String>,
}

fn persona_from_row(r: &AnyRow) -> Result<Persona> {
    Ok(Persona {
        id: r.try_get("id")?,
        builtin: false,
        number_suffix: None,
        script: serde_json::from_str(&r.try_get::<String, _>("body")?)?,
        created: Some(Timestamp(r.try_get("created")?)),
        updated: Some(Timestamp(r.try_get("updated")?)),
    })
}

fn number_from_row(r: &AnyRow) -> Result<SandboxNumber> {
    let some = |s: String| Some(s).filter(|s| !s.is_empty());
    Ok(SandboxNumber {
        phone_number: r.try_get("phone_number")?,
        persona_id: some(r.try_get("persona_id")?),
        interview_id: some(r.try_get("interview_id")?),
        created: Timestamp(r.try_get("created")?),
    })
}

impl Store {
    /// Saves a team persona (the caller has validated the script).
    pub async fn create_persona(&self, team_id: &str, script: &PersonaScript) -> Result<Persona> {
        let now = now_ms();
        let p = Persona {
            id: Uuid::new_v4().to_string(),
            builtin: false,
            number_suffix: None,
            script: script.clone(),
            created: Some(Timestamp(now)),
            updated: Some(Timestamp(now)),
        };
        let mut w = self.begin_write().await?;
        sqlx::query("INSERT INTO personas (id, team_id, name, body, created, updated) VALUES ($1, $2, $3, $4, $5, $5)")
            .bind(&p.id)
            .bind(team_id)
            .bind(&script.name)
            .bind(serde_json::to_string(script)?)
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(p)
    }

    /// The team's own personas, oldest first (built-ins are not rows: see [`Persona::builtins`]).
    pub async fn list_personas(&self, team_id: &str) -> Result<Vec<Persona>> {
        let rows =
            sqlx::query("SELECT id, body, created, updated FROM personas WHERE team_id = $1 ORDER BY created, id")
                .bind(team_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(persona_from_row).collect()
    }

    /// A persona by id: a built-in id, or one of this team's (another team's is NotFound).
    pub async fn persona(&self, team_id: &str, id: &str) -> Result<Persona> {
        if let Some(slot) = builtin_slot(id) {
            return Persona::builtin(slot).ok_or(StoreError::NotFound);
        }
        let r = sqlx::query("SELECT id, body, created, updated FROM personas WHERE team_id = $1 AND id = $2")
            .bind(team_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        persona_from_row(&r)
    }

    /// Deletes one of the team's personas. NotFound for a built-in, another team's or a missing
    /// one; Conflict (naming the numbers) while a sandbox number is bound to it.
    pub async fn delete_persona(&self, team_id: &str, id: &str) -> Result<()> {
        if builtin_slot(id).is_some() {
            return Err(StoreError::NotFound);
        }
        let mut w = self.begin_write().await?;
        // Delete first: the row lock makes a concurrent bind wait, then see the row gone.
        let r = sqlx::query("DELETE FROM personas WHERE team_id = $1 AND id = $2")
            .bind(team_id)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        crate::found(r.rows_affected())?;
        let bound = sqlx::query(
            "SELECT phone_number FROM sandbox_numbers WHERE team_id = $1 AND persona_id = $2 ORDER BY phone_number",
        )
        .bind(team_id)
        .bind(id)
        .fetch_all(&mut *w.tx)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("phone_number"))
        .collect::<std::result::Result<Vec<_>, _>>()?;
        if !bound.is_empty() {
            // Dropping the transaction rolls the delete back.
            return Err(StoreError::Conflict(format!(
                "the persona is bound to the sandbox number{} {}; unbind {} first (DELETE /sandbox/numbers)",
                if bound.len() == 1 { "" } else { "s" },
                bound.join(", "),
                if bound.len() == 1 { "it" } else { "them" },
            )));
        }
        w.commit().await
    }

    /// Binds (or rebinds) one of the team's sandbox numbers. NotFound if the team's persona is
    /// missing (built-in ids always exist); the caller checks that an agent exists.
    pub async fn bind_number(&self, team_id: &str, e164: &str, to: Binding<'_>) -> Result<SandboxNumber> {
        let (persona_id, interview_id) = match to {
            Binding::Persona(p) => (p, ""),
            Binding::Interview(i) => ("", i),
        };
        let mut w = self.begin_write().await?;
        if let Binding::Persona(p) = to {
            if builtin_slot(p).is_none() {
                // A no-op update: it checks the persona exists and holds its row lock until
                // commit, so a concurrent delete cannot slip between the check and the bind.
                let r = sqlx::query("UPDATE personas SET updated = updated WHERE team_id = $1 AND id = $2")
                    .bind(team_id)
                    .bind(p)
                    .execute(&mut *w.tx)
                    .await?;
                crate::found(r.rows_affected())?;
            }
        }
        sqlx::query(
            "INSERT INTO sandbox_numbers (team_id, phone_number, persona_id, interview_id, created) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (team_id, phone_number) DO UPDATE SET persona_id = excluded.persona_id, interview_id = excluded.interview_id",
        )
        .bind(team_id)
        .bind(e164)
        .bind(persona_id)
        .bind(interview_id)
        .bind(now_ms())
        .execute(&mut *w.tx)
        .await?;
        let r = sqlx::query(
            "SELECT phone_number, persona_id, interview_id, created FROM sandbox_numbers WHERE team_id = $1 AND phone_number = $2",
        )
        .bind(team_id)
        .bind(e164)
        .fetch_one(&mut *w.tx)
        .await?;
        w.commit().await?;
        number_from_row(&r)
    }

    /// Removes one of the team's sandbox numbers; NotFound if the team has no such number.
    pub async fn unbind_number(&self, team_id: &str, e164: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("DELETE FROM sandbox_numbers WHERE team_id = $1 AND phone_number = $2")
            .bind(team_id)
            .bind(e164)
            .execute(&mut *w.tx)
            .await?;
        crate::found(r.rows_affected())?;
        w.commit().await
    }

    /// The team's sandbox numbers, by number.
    pub async fn list_sandbox_numbers(&self, team_id: &str) -> Result<Vec<SandboxNumber>> {
        let rows = sqlx::query(
            "SELECT phone_number, persona_id, interview_id, created FROM sandbox_numbers WHERE team_id = $1 ORDER BY phone_number",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(number_from_row).collect()
    }

    /// What one of the team's numbers is bound to, if it is on the team's sandbox list.
    pub async fn sandbox_number(&self, team_id: &str, e164: &str) -> Result<Option<SandboxNumber>> {
        sqlx::query(
            "SELECT phone_number, persona_id, interview_id, created FROM sandbox_numbers WHERE team_id = $1 AND phone_number = $2",
        )
        .bind(team_id)
        .bind(e164)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(number_from_row)
        .transpose()
    }

    /// Creates a queued `INBOUND_CALL` from a persona to one of the team's agents, with its
    /// [`SANDBOX_CALL_IN_JOB`] job, its first event and its `CALL_PROGRESS` (queued) deliveries,
    /// in one transaction. The call's `phone_number` is the caller's; its contact is the team's
    /// contact with that number, if there is one.
    pub async fn create_inbound_call(&self, team_id: &str, c: InboundCall<'_>) -> Result<Call> {
        let contact = self.list_contacts_by_number(team_id, c.from).await?;
        let now = now_ms();
        let mut call = queued_call(
            CallType::InboundCall,
            c.interview_id.to_string(),
            c.from.to_string(),
            contact,
            c.metadata,
            None,
            CallRoute::sandbox(None),
            now,
        );
        let payload = serde_json::json!({
            "call_id": call.id,
            "team_id": team_id,
            "persona_id": c.persona_id,
            "persona": c.persona,
            "from": c.from,
            "to": c.to,
        });
        let mut w = self.begin_write().await?;
        insert_queued_call(&mut w.tx, team_id, &mut call, SANDBOX_CALL_IN_JOB, &payload, now).await?;
        w.commit().await?;
        Ok(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_round_trip_and_nothing_else_parses() {
        for slot in 0..BUILTIN_PERSONAS {
            assert_eq!(builtin_slot(&builtin_id(slot)), Some(slot));
        }
        for id in [
            "builtin-10",
            "builtin-7",
            "builtin-007",
            "builtin-",
            "Builtin-01",
            "01",
            "",
        ] {
            assert_eq!(builtin_slot(id), None, "{id}");
        }
        let all = Persona::builtins();
        assert_eq!(all.len(), 10);
        assert_eq!(all[4].number_suffix.as_deref(), Some("04"));
        assert_eq!(all[0].script.name, "Alex Morgan");
    }
}
