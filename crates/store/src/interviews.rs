//! Voice agents (interviews). The API object is stored whole in `body`; title and status are
//! columns too because lists filter and sort on them.
//!
//! Versions: every state an agent is saved in is also kept in `interview_versions` (same
//! transaction), keyed by its `version`, so a call can be served by, and report, the version it
//! was placed with, and an older version can be restored. The dashboard's editor saves a draft
//! (`interview_drafts`: the editable fields as sent) beside the live agent; publishing makes it
//! live, through the same optimistic update as the API's.

use crate::sql::{like_pattern, Query};
use crate::{Result, Store, StoreError};
use parley_core::interview::{Interview, InterviewStatus};
use sqlx::{Any, Row, Transaction};

/// One kept version of an agent, as the versions list shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionInfo {
    pub version: i64,
    pub created: parley_core::time::Timestamp,
    pub title: String,
    pub nodes: usize,
    pub edges: usize,
}

/// The editor's saved draft: the fields as sent, the live version it started from, when saved.
#[derive(Debug, Clone)]
pub struct Draft {
    pub body: serde_json::Value,
    pub base_version: i64,
    pub saved: i64,
}

/// Keeps `i` as its own version (a no-op when that version is kept already).
async fn keep_version(tx: &mut Transaction<'static, Any>, team_id: &str, i: &Interview, body: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO interview_versions (interview_id, team_id, version, created, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (interview_id, version) DO NOTHING",
    )
    .bind(&i.id)
    .bind(team_id)
    .bind(i.version)
    .bind(i.updated.millis())
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub enum InterviewSort {
    TitleAsc,
    TitleDesc,
    CreatedAsc,
    CreatedDesc,
}

impl InterviewSort {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "title_asc" => Self::TitleAsc,
            "title_desc" => Self::TitleDesc,
            "created_asc" => Self::CreatedAsc,
            "created_desc" => Self::CreatedDesc,
            _ => return None,
        })
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::TitleAsc => "LOWER(title) ASC, id ASC",
            Self::TitleDesc => "LOWER(title) DESC, id DESC",
            Self::CreatedAsc => "created ASC, id ASC",
            Self::CreatedDesc => "created DESC, id DESC",
        }
    }
}

impl Store {
    pub async fn insert_interview(&self, team_id: &str, i: &Interview) -> Result<()> {
        let body = serde_json::to_string(i)?;
        let mut w = self.begin_write().await?;
        sqlx::query("INSERT INTO interviews (id, team_id, created, updated, version, title, status, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&i.id)
            .bind(team_id)
            .bind(i.created.millis())
            .bind(i.updated.millis())
            .bind(i.version)
            .bind(&i.title)
            .bind(i.status.as_str())
            .bind(&body)
            .execute(&mut *w.tx)
            .await?;
        keep_version(&mut w.tx, team_id, i, &body).await?;
        w.commit().await
    }

    pub async fn interview(&self, team_id: &str, id: &str) -> Result<Interview> {
        let row = sqlx::query("SELECT body FROM interviews WHERE team_id = $1 AND id = $2")
            .bind(team_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(serde_json::from_str(&row.try_get::<String, _>("body")?)?)
    }

    /// Saves `i` if nobody changed the agent since `expected_version` was read.
    pub async fn update_interview(&self, team_id: &str, i: &Interview, expected_version: i64) -> Result<()> {
        self.save_interview(team_id, i, expected_version, false).await
    }

    /// Makes `i` (the draft, validated) the live agent, as [`Store::update_interview`] does, and
    /// removes the draft in the same transaction.
    pub async fn publish_interview(&self, team_id: &str, i: &Interview, expected_version: i64) -> Result<()> {
        self.save_interview(team_id, i, expected_version, true).await
    }

    async fn save_interview(&self, team_id: &str, i: &Interview, expected_version: i64, publish: bool) -> Result<()> {
        let body = serde_json::to_string(i)?;
        let mut w = self.begin_write().await?;
        let r = sqlx::query("UPDATE interviews SET updated = $1, version = $2, title = $3, status = $4, body = $5 WHERE team_id = $6 AND id = $7 AND version = $8")
            .bind(i.updated.millis())
            .bind(i.version)
            .bind(&i.title)
            .bind(i.status.as_str())
            .bind(&body)
            .bind(team_id)
            .bind(&i.id)
            .bind(expected_version)
            .execute(&mut *w.tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the agent was changed meanwhile; read it again and retry".into(),
            ));
        }
        keep_version(&mut w.tx, team_id, i, &body).await?;
        if publish {
            sqlx::query("DELETE FROM interview_drafts WHERE interview_id = $1 AND team_id = $2")
                .bind(&i.id)
                .bind(team_id)
                .execute(&mut *w.tx)
                .await?;
        }
        w.commit().await
    }

    /// One kept version of an agent.
    pub async fn interview_version(&self, team_id: &str, id: &str, version: i64) -> Result<Interview> {
        let row = sqlx::query(
            "SELECT body FROM interview_versions WHERE team_id = $1 AND interview_id = $2 AND version = $3",
        )
        .bind(team_id)
        .bind(id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(serde_json::from_str(&row.try_get::<String, _>("body")?)?)
    }

    /// An agent's kept versions, newest first (at most `limit`).
    pub async fn interview_versions(&self, team_id: &str, id: &str, limit: i64) -> Result<Vec<VersionInfo>> {
        let rows = sqlx::query(
            "SELECT body FROM interview_versions WHERE team_id = $1 AND interview_id = $2 ORDER BY version DESC LIMIT $3",
        )
        .bind(team_id)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let i: Interview = serde_json::from_str(&r.try_get::<String, _>("body")?)?;
                Ok(VersionInfo {
                    version: i.version,
                    created: i.updated,
                    title: i.title,
                    nodes: i.flow.nodes.len(),
                    edges: i.flow.edges.len(),
                })
            })
            .collect()
    }

    /// Saves the editor's draft of an agent (replacing the previous one).
    pub async fn save_draft(
        &self,
        team_id: &str,
        id: &str,
        base_version: i64,
        body: &serde_json::Value,
    ) -> Result<i64> {
        let now = crate::now_ms();
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO interview_drafts (interview_id, team_id, base_version, saved, body) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (interview_id) DO UPDATE SET base_version = excluded.base_version, saved = excluded.saved, body = excluded.body",
        )
        .bind(id)
        .bind(team_id)
        .bind(base_version)
        .bind(now)
        .bind(serde_json::to_string(body)?)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(now)
    }

    /// The editor's draft of an agent, if one is saved.
    pub async fn draft(&self, team_id: &str, id: &str) -> Result<Option<Draft>> {
        let row = sqlx::query(
            "SELECT base_version, saved, body FROM interview_drafts WHERE team_id = $1 AND interview_id = $2",
        )
        .bind(team_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Draft {
                body: serde_json::from_str(&r.try_get::<String, _>("body")?)?,
                base_version: r.try_get("base_version")?,
                saved: r.try_get("saved")?,
            })
        })
        .transpose()
    }

    /// Discards the editor's draft (not an error when there is none).
    pub async fn discard_draft(&self, team_id: &str, id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM interview_drafts WHERE team_id = $1 AND interview_id = $2")
            .bind(team_id)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    pub async fn list_interviews(
        &self,
        team_id: &str,
        search: Option<&str>,
        status: Option<InterviewStatus>,
        sort: InterviewSort,
        page: i64,
        limit: i64,
    ) -> Result<(Vec<Interview>, i64)> {
        let mut q = Query::new(" FROM interviews WHERE team_id = ");
        q.text(team_id);
        if let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) {
            q.push(" AND LOWER(title) LIKE ")
                .text(like_pattern(&s.to_lowercase()))
                .push(" ESCAPE '\\'");
        }
        if let Some(st) = status {
            q.push(" AND status = ").text(st.as_str());
        }
        let total = q.count(&self.pool).await?;
        let sql = format!(
            "SELECT body{} ORDER BY {} LIMIT {limit} OFFSET {}",
            q.sql,
            sort.order_by(),
            page * limit
        );
        let rows = q.with_sql(&sql).build().fetch_all(&self.pool).await?;
        let list = rows
            .iter()
            .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?))
            .collect::<Result<Vec<Interview>>>()?;
        Ok((list, total))
    }
}
