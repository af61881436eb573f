//! Voice agents (interviews). The API object is stored whole in `body`; title and status are
//! columns too because lists filter and sort on them.

use crate::sql::{like_pattern, Query};
use crate::{Result, Store, StoreError};
use parley_core::interview::{Interview, InterviewStatus};
use sqlx::Row;

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
        let mut w = self.begin_write().await?;
        sqlx::query("INSERT INTO interviews (id, team_id, created, updated, version, title, status, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&i.id)
            .bind(team_id)
            .bind(i.created.millis())
            .bind(i.updated.millis())
            .bind(i.version)
            .bind(&i.title)
            .bind(i.status.as_str())
            .bind(serde_json::to_string(i)?)
            .execute(&mut *w.tx)
            .await?;
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
        let mut w = self.begin_write().await?;
        let r = sqlx::query("UPDATE interviews SET updated = $1, version = $2, title = $3, status = $4, body = $5 WHERE team_id = $6 AND id = $7 AND version = $8")
            .bind(i.updated.millis())
            .bind(i.version)
            .bind(&i.title)
            .bind(i.status.as_str())
            .bind(serde_json::to_string(i)?)
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
