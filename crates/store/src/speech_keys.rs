//! A team's keys for cloud speech providers: one per provider, sealed at rest
//! ([`crate::secrets`], bound to the row `"<team id>:<provider>"`), write-only through the API:
//! a list shows the provider, the key's last four characters and the base URL, never the key.
//! The call runner reads the key itself with [`Store::speech_key`].

use crate::secrets::Purpose;
use crate::{found, now_ms, Result, Store};
use parley_core::speech::Provider;
use sqlx::Row;

/// What the API shows of a team's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeechKeyInfo {
    pub provider: Provider,
    /// `…` and the key's last four characters.
    pub hint: String,
    /// The provider's server to use instead of its public one (empty: the public one).
    pub base_url: Option<String>,
    pub updated: i64,
}

/// A team's key for a provider, as a call uses it.
#[derive(Clone, PartialEq, Eq)]
pub struct SpeechKey {
    pub api_key: String,
    pub base_url: Option<String>,
}

impl std::fmt::Debug for SpeechKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeechKey")
            .field("api_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish()
    }
}

fn row_id(team_id: &str, provider: Provider) -> String {
    format!("{team_id}:{}", provider.as_str())
}

/// `…` and the last four characters of `key` (fewer for a key of eight characters or less, so
/// a short key is never mostly shown).
pub fn hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let shown = if chars.len() > 8 { 4 } else { chars.len() / 4 };
    format!("…{}", chars[chars.len() - shown..].iter().collect::<String>())
}

impl Store {
    /// Sets (replaces) the team's key for `provider`; answers what the API shows of it.
    pub async fn set_speech_key(
        &self,
        team_id: &str,
        provider: Provider,
        api_key: &str,
        base_url: Option<&str>,
    ) -> Result<SpeechKeyInfo> {
        self.team(team_id).await?;
        let id = row_id(team_id, provider);
        let sealed = self.seal(Purpose::TeamSpeechKey, &id, api_key)?;
        let info = SpeechKeyInfo {
            provider,
            hint: hint(api_key),
            base_url: base_url.map(str::to_string),
            updated: now_ms(),
        };
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO team_speech_keys (id, team_id, provider, api_key, hint, base_url, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET api_key = excluded.api_key, hint = excluded.hint, \
             base_url = excluded.base_url, updated = excluded.updated",
        )
        .bind(&id)
        .bind(team_id)
        .bind(provider.as_str())
        .bind(&sealed)
        .bind(&info.hint)
        .bind(base_url.unwrap_or(""))
        .bind(info.updated)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(info)
    }

    /// The team's keys, by provider name; never the keys themselves.
    pub async fn speech_keys(&self, team_id: &str) -> Result<Vec<SpeechKeyInfo>> {
        let rows = sqlx::query(
            "SELECT provider, hint, base_url, updated FROM team_speech_keys WHERE team_id = $1 ORDER BY provider",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("provider")?;
                Ok(SpeechKeyInfo {
                    provider: Provider::parse(&name)
                        .ok_or_else(|| crate::StoreError::Corrupt(format!("speech provider '{name}'")))?,
                    hint: r.try_get("hint")?,
                    base_url: Some(r.try_get::<String, _>("base_url")?).filter(|u| !u.is_empty()),
                    updated: r.try_get("updated")?,
                })
            })
            .collect()
    }

    /// The team's key for `provider`, opened, for a call; `None` when it has none.
    pub async fn speech_key(&self, team_id: &str, provider: Provider) -> Result<Option<SpeechKey>> {
        let id = row_id(team_id, provider);
        let row = sqlx::query("SELECT api_key, base_url FROM team_speech_keys WHERE id = $1 AND team_id = $2")
            .bind(&id)
            .bind(team_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(SpeechKey {
            api_key: self.open_secret(Purpose::TeamSpeechKey, &id, &r.try_get::<String, _>("api_key")?)?,
            base_url: Some(r.try_get::<String, _>("base_url")?).filter(|u| !u.is_empty()),
        }))
    }

    /// Removes the team's key for `provider`; `NotFound` when it has none.
    pub async fn delete_speech_key(&self, team_id: &str, provider: Provider) -> Result<()> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("DELETE FROM team_speech_keys WHERE id = $1 AND team_id = $2")
            .bind(row_id(team_id, provider))
            .bind(team_id)
            .execute(&mut *w.tx)
            .await?;
        found(r.rows_affected())?;
        w.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::hint;

    #[test]
    fn a_hint_shows_little_of_a_key() {
        assert_eq!(hint("sk-0123456789a1b2"), "…a1b2");
        assert_eq!(hint("abcdefgh"), "…gh");
        assert_eq!(hint("abc"), "…");
        assert_eq!(hint("ключ-0123456789"), "…6789");
    }
}
