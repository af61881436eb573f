//! The worker side of numbers and trunks, and the routing of new outbound calls: reads the call
//! runner, the SIP network and call creation make, across teams where they must be, with
//! secrets opened where the network needs them.

use super::*;

impl Store {
    /// The team's side of routing a new outbound call: the number named as `from_number` (E.164;
    /// Invalid if it is not one of the team's), the team's default outbound number, and whether
    /// the team has any number on a real network. Secrets are not opened.
    pub async fn outbound_numbers(&self, team_id: &str, from_number: Option<&str>) -> Result<OutboundNumbers> {
        let chosen = match from_number {
            Some(e164) => Some(self.team_phone_number(team_id, e164).await?.ok_or_else(|| {
                StoreError::Invalid(
                    ValidationError::new(
                        "from_number",
                        format!("{e164} is not one of this team's phone numbers (GET /phone_number lists them)"),
                    )
                    .with_code("from_number_not_found"),
                )
            })?),
            None => None,
        };
        let default = sqlx::query(&format!(
            "SELECT {NUMBER_COLUMNS} FROM phone_numbers WHERE team_id = $1 AND default_outbound = 1"
        ))
        .bind(team_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| number_from_row(&r, None))
        .transpose()?;
        let has_real =
            sqlx::query("SELECT 1 AS one FROM phone_numbers WHERE team_id = $1 AND network <> 'sandbox' LIMIT 1")
                .bind(team_id)
                .fetch_optional(&self.pool)
                .await?
                .is_some();
        Ok(OutboundNumbers {
            chosen,
            default,
            has_real,
            unrouted_to_sandbox: self.unrouted_calls_to_sandbox,
        })
    }

    /// Whether `e164` rings the sandbox network for this team: the built-in range or the team's
    /// sandbox list.
    pub async fn is_sandbox_destination(&self, team_id: &str, e164: &str) -> Result<bool> {
        Ok(parley_core::phone::is_builtin_sandbox(e164) || self.sandbox_number(team_id, e164).await?.is_some())
    }

    /// The route of one new outbound call of the team to `to` (E.164), from `from_number` (E.164)
    /// or the team's default number; Invalid (a 400 naming the field) when there is none.
    pub async fn route_call(&self, team_id: &str, to: &str, from_number: Option<&str>) -> Result<CallRoute> {
        let numbers = self.outbound_numbers(team_id, from_number).await?;
        let sandbox = self.is_sandbox_destination(team_id, to).await?;
        numbers.route(to, sandbox).map_err(StoreError::Invalid)
    }

    // ---- Worker side: no team scoping, secrets opened ----

    /// The number `e164` (an inbound call's destination) and its team, with its secrets.
    pub async fn number_by_e164(&self, e164: &str) -> Result<Option<(String, PhoneNumber)>> {
        let Some(r) = sqlx::query(&format!(
            "SELECT {NUMBER_COLUMNS} FROM phone_numbers WHERE phone_number = $1"
        ))
        .bind(e164)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some((r.try_get("team_id")?, number_from_row(&r, Some(self))?)))
    }

    /// The number an outbound call of the team goes out from, with its secrets: `from_number` if
    /// it is one of the team's, otherwise the team's default outbound number; `None` if neither.
    pub async fn outbound_number(&self, team_id: &str, from_number: Option<&str>) -> Result<Option<PhoneNumber>> {
        if let Some(e164) = from_number {
            let r = sqlx::query(&format!(
                "SELECT {NUMBER_COLUMNS} FROM phone_numbers WHERE team_id = $1 AND phone_number = $2"
            ))
            .bind(team_id)
            .bind(e164)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(r) = r {
                return Ok(Some(number_from_row(&r, Some(self))?));
            }
        }
        sqlx::query(&format!(
            "SELECT {NUMBER_COLUMNS} FROM phone_numbers WHERE team_id = $1 AND default_outbound = 1"
        ))
        .bind(team_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| number_from_row(&r, Some(self)))
        .transpose()
    }

    /// A trunk by id, with its password.
    pub async fn sip_trunk_for_worker(&self, id: &str) -> Result<SipTrunk> {
        let r = sqlx::query(&format!("SELECT {TRUNK_COLUMNS} FROM sip_trunks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        trunk_from_row(&r, Some(self))
    }

    /// Every trunk of every team, with its team and its password (the SIP network's inbound
    /// allow-list: a trunk's `inbound_addresses`, or its `host` alone when they are empty).
    pub async fn all_sip_trunks(&self) -> Result<Vec<(String, SipTrunk)>> {
        let rows = sqlx::query(&format!("SELECT {TRUNK_COLUMNS} FROM sip_trunks ORDER BY created, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("team_id")?, trunk_from_row(r, Some(self))?)))
            .collect()
    }
}
