//! Teams (tenants) and their API tokens. Tokens are stored as SHA-256 hashes only; the team's
//! webhook signing secret and LLM API key are sealed ([`crate::secrets`]) on write and opened on
//! read, so a [`Team`] holds them in plaintext and the columns never do.

use crate::secrets::Purpose;
use crate::{found, now_ms, Result, Store, StoreError};
use parley_core::ids;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub signing_secret: String,
    pub allow_premium: bool,
    pub max_concurrent_calls: i64,
    /// The team's own LLM endpoint, if it set one.
    pub llm: Option<TeamLlm>,
}

/// A team's own OpenAI-compatible chat endpoint (overrides the server's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamLlm {
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: Option<String>,
}

/// What authentication learns about the caller's team.
#[derive(Debug, Clone)]
pub struct TokenTeam {
    pub team_id: String,
    /// Whether premium-rate numbers may be stored and called.
    pub allow_premium: bool,
    /// Whether the team has its own LLM endpoint (prompt nodes are then allowed).
    pub has_llm: bool,
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: String,
    pub team_id: String,
    pub prefix: String,
    /// What the dashboard calls it ("CRM sync"); empty for tokens made elsewhere.
    pub name: String,
    pub created: i64,
    pub revoked: Option<i64>,
}

impl Store {
    /// Creates a team with one API token; returns the team and the token's secret (shown once).
    pub async fn create_team(&self, name: &str) -> Result<(Team, String)> {
        let team = Team {
            id: ids::new_uuid().to_string(),
            name: name.to_string(),
            signing_secret: ids::new_signing_secret(),
            allow_premium: false,
            max_concurrent_calls: 10,
            llm: None,
        };
        let token = ids::new_api_token();
        let sealed_secret = self.seal(Purpose::TeamSigningSecret, &team.id, &team.signing_secret)?;
        let mut w = self.begin_write().await?;
        sqlx::query("INSERT INTO teams (id, name, signing_secret, allow_premium, max_concurrent_calls, created) VALUES ($1, $2, $3, 0, $4, $5)")
            .bind(&team.id)
            .bind(&team.name)
            .bind(&sealed_secret)
            .bind(team.max_concurrent_calls)
            .bind(now_ms())
            .execute(&mut *w.tx)
            .await?;
        insert_token(&mut w.tx, &team.id, &token).await?;
        w.commit().await?;
        Ok((team, token.secret))
    }

    /// A further token for a team (tokens are several per team, revocable one by one).
    pub async fn create_token(&self, team_id: &str) -> Result<(String, String)> {
        self.team(team_id).await?;
        let token = ids::new_api_token();
        let mut w = self.begin_write().await?;
        let id = insert_token(&mut w.tx, team_id, &token).await?;
        w.commit().await?;
        Ok((id, token.secret))
    }

    pub async fn revoke_token(&self, token_id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("UPDATE api_tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL")
            .bind(now_ms())
            .bind(token_id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        found(r.rows_affected())?;
        Ok(())
    }

    /// Revokes one of `team_id`'s tokens; `NotFound` for another team's, or one revoked already.
    pub async fn revoke_team_token(&self, team_id: &str, token_id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("UPDATE api_tokens SET revoked = $1 WHERE id = $2 AND team_id = $3 AND revoked IS NULL")
            .bind(now_ms())
            .bind(token_id)
            .bind(team_id)
            .execute(&mut *w.tx)
            .await?;
        found(r.rows_affected())?;
        w.commit().await
    }

    pub async fn list_tokens(&self, team_id: &str) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, team_id, prefix, name, created, revoked FROM api_tokens WHERE team_id = $1 ORDER BY created",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    team_id: r.try_get("team_id")?,
                    prefix: r.try_get("prefix")?,
                    name: r.try_get("name")?,
                    created: r.try_get("created")?,
                    revoked: r.try_get("revoked")?,
                })
            })
            .collect()
    }

    /// The team of an active token, found by the token's hash (one indexed query per request);
    /// the caller compares the team id it was sent with [`ids::ct_eq`].
    pub async fn team_of_token_hash(&self, token_hash: &str) -> Result<Option<TokenTeam>> {
        let row = sqlx::query(
            "SELECT t.team_id, t.token_hash, teams.allow_premium, teams.llm_base_url FROM api_tokens t JOIN teams ON teams.id = t.team_id \
             WHERE t.token_hash = $1 AND t.revoked IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let stored: String = r.try_get("token_hash")?;
        if !ids::ct_eq(&stored, token_hash) {
            return Ok(None);
        }
        Ok(Some(TokenTeam {
            team_id: r.try_get("team_id")?,
            allow_premium: r.try_get::<i64, _>("allow_premium")? != 0,
            has_llm: !r.try_get::<String, _>("llm_base_url")?.is_empty(),
        }))
    }

    pub async fn team(&self, team_id: &str) -> Result<Team> {
        let r = sqlx::query(
            "SELECT id, name, signing_secret, allow_premium, max_concurrent_calls, llm_base_url, llm_api_key, llm_model FROM teams WHERE id = $1",
        )
        .bind(team_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let id: String = r.try_get("id")?;
        let open = |column: &str, purpose: Purpose| -> Result<String> {
            self.open_secret(purpose, &id, &r.try_get::<String, _>(column)?)
        };
        Ok(Team {
            signing_secret: open("signing_secret", Purpose::TeamSigningSecret)?,
            id: id.clone(),
            name: r.try_get("name")?,
            allow_premium: r.try_get::<i64, _>("allow_premium")? != 0,
            max_concurrent_calls: r.try_get("max_concurrent_calls")?,
            llm: {
                let non_empty = |k: &str| -> Result<Option<String>> {
                    Ok(Some(r.try_get::<String, _>(k)?).filter(|v| !v.is_empty()))
                };
                non_empty("llm_base_url")?
                    .map(|base_url| -> Result<TeamLlm> {
                        Ok(TeamLlm {
                            base_url,
                            api_key: Some(open("llm_api_key", Purpose::TeamLlmApiKey)?).filter(|k| !k.is_empty()),
                            model: non_empty("llm_model")?,
                        })
                    })
                    .transpose()?
            },
        })
    }

    /// Sets (or, with `None`, clears) the team's own LLM endpoint.
    pub async fn set_team_llm(&self, team_id: &str, llm: Option<&TeamLlm>) -> Result<()> {
        let api_key = llm.and_then(|l| l.api_key.as_deref()).unwrap_or("");
        let sealed_key = self.seal(Purpose::TeamLlmApiKey, team_id, api_key)?;
        let mut w = self.begin_write().await?;
        let r = sqlx::query("UPDATE teams SET llm_base_url = $1, llm_api_key = $2, llm_model = $3 WHERE id = $4")
            .bind(llm.map_or("", |l| l.base_url.as_str()))
            .bind(&sealed_key)
            .bind(llm.and_then(|l| l.model.as_deref()).unwrap_or(""))
            .bind(team_id)
            .execute(&mut *w.tx)
            .await?;
        found(r.rows_affected())?;
        w.commit().await
    }

    pub async fn team_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM teams")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Team settings an operator changes from the command line.
    pub async fn set_team_limits(&self, team_id: &str, allow_premium: bool, max_concurrent_calls: i64) -> Result<()> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("UPDATE teams SET allow_premium = $1, max_concurrent_calls = $2 WHERE id = $3")
            .bind(allow_premium as i64)
            .bind(max_concurrent_calls)
            .bind(team_id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        found(r.rows_affected())?;
        Ok(())
    }
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    team_id: &str,
    token: &ids::NewToken,
) -> Result<String> {
    let id = ids::new_uuid().to_string();
    sqlx::query("INSERT INTO api_tokens (id, team_id, token_hash, prefix, created) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(team_id)
        .bind(&token.hash)
        .bind(&token.prefix)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(id)
}
