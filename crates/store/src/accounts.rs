//! Dashboard accounts: users, their memberships of teams with a role, sessions and one-time
//! links (the first owner's sign-in link, invites, password resets).
//!
//! Only hashes are stored: a password as the argon2 string the API layer computes (slow on
//! purpose, so this layer never sees a password), a session cookie and a link token as SHA-256
//! (random 256-bit values, which no slow hash would protect further). A session carries its own
//! CSRF token, which the dashboard sends back as a header on every state-changing request.

use crate::{found, now_ms, Result, Store, StoreError};
use parley_core::account::{normalize_email, Role};
use parley_core::ids;
use sqlx::any::AnyRow;
use sqlx::Row;

/// How long a one-time link stays valid.
pub const LINK_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
}

/// One team a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub team_id: String,
    pub team_name: String,
    pub role: Role,
}

/// A member of a team, as the team's members list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub role: Role,
}

/// A signed-in session: its user and the CSRF token the dashboard must echo.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
}

/// A new session's secrets: the cookie value and the CSRF token (neither is stored in clear).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie: String,
    pub csrf_token: String,
}

/// A 256-bit random secret with a prefix that says what it is (`ps_` session, `pl_` link, `pc_`
/// CSRF), the way API tokens start with `pk_`.
fn secret(prefix: &str) -> String {
    let token = ids::new_api_token().secret;
    format!("{prefix}{}", &token[3..])
}

fn user_of(r: &AnyRow) -> Result<User> {
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
    })
}

fn role_of(r: &AnyRow) -> Result<Role> {
    let s: String = r.try_get("role")?;
    Role::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("role {s:?}")))
}

impl Store {
    /// A one-time link for `email`: to join `team` with `role` (an invite, or the first owner's
    /// link), or, with no team, to set a new password. Returns the link's secret.
    pub async fn create_account_link(&self, email: &str, team: Option<&str>, role: Role) -> Result<String> {
        let token = secret("pl_");
        let now = now_ms();
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO account_links (token_hash, email, team_id, role, created, expires) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ids::hash_token(&token))
        .bind(normalize_email(email))
        .bind(team)
        .bind(role.as_str())
        .bind(now)
        .bind(now + LINK_TTL_MS)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(token)
    }

    /// Whether a one-time link can still be used: checked before the expensive password hash,
    /// so a made-up token costs the server one indexed read, not an Argon2 run.
    pub async fn account_link_is_live(&self, token: &str) -> Result<bool> {
        let row =
            sqlx::query("SELECT 1 AS one FROM account_links WHERE token_hash = $1 AND used IS NULL AND expires > $2")
                .bind(ids::hash_token(token))
                .bind(now_ms())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// Uses a one-time link: in one transaction, marks it used, creates its user if there is
    /// none yet, sets the password (and the name, when one is given) and adds the membership the
    /// link grants. `Conflict` when the link is unknown, used or expired (one message for all
    /// three: the link's holder learns nothing more).
    pub async fn redeem_account_link(&self, token: &str, password_hash: &str, name: Option<&str>) -> Result<User> {
        let now = now_ms();
        let mut w = self.begin_write().await?;
        let link = sqlx::query(
            "UPDATE account_links SET used = $1 WHERE token_hash = $2 AND used IS NULL AND expires > $1 \
             RETURNING email, team_id, role",
        )
        .bind(now)
        .bind(ids::hash_token(token))
        .fetch_optional(&mut *w.tx)
        .await?
        .ok_or_else(|| StoreError::Conflict("this link was already used or has expired; ask for a new one".into()))?;
        let email: String = link.try_get("email")?;
        let team: Option<String> = link.try_get("team_id")?;
        let role = role_of(&link)?;
        let existing = sqlx::query("SELECT id FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&mut *w.tx)
            .await?;
        let id = match existing {
            Some(r) => r.try_get::<String, _>("id")?,
            None => {
                let id = ids::new_uuid().to_string();
                sqlx::query("INSERT INTO users (id, email, created) VALUES ($1, $2, $3)")
                    .bind(&id)
                    .bind(&email)
                    .bind(now)
                    .execute(&mut *w.tx)
                    .await?;
                id
            }
        };
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(&id)
            .execute(&mut *w.tx)
            .await?;
        if let Some(name) = name {
            sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(&id)
                .execute(&mut *w.tx)
                .await?;
        }
        if let Some(team) = &team {
            sqlx::query(
                "INSERT INTO memberships (user_id, team_id, role, created) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, team_id) DO NOTHING",
            )
            .bind(&id)
            .bind(team)
            .bind(role.as_str())
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
        }
        // A new password ends every session the old one opened.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(&id)
            .execute(&mut *w.tx)
            .await?;
        let user = sqlx::query("SELECT id, email, name FROM users WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut *w.tx)
            .await?;
        let user = user_of(&user)?;
        w.commit().await?;
        Ok(user)
    }

    /// A user by email, with the stored password hash (empty when none is set).
    pub async fn user_password(&self, email: &str) -> Result<Option<(User, String)>> {
        let r = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE email = $1")
            .bind(normalize_email(email))
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| Ok((user_of(&r)?, r.try_get("password_hash")?))).transpose()
    }

    /// Sets a user's password hash (creating the user when there is none with this email) and
    /// ends their sessions: the command line's password reset.
    pub async fn set_user_password(&self, email: &str, password_hash: &str) -> Result<User> {
        let email = normalize_email(email);
        let mut w = self.begin_write().await?;
        sqlx::query("INSERT INTO users (id, email, created) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING")
            .bind(ids::new_uuid().to_string())
            .bind(&email)
            .bind(now_ms())
            .execute(&mut *w.tx)
            .await?;
        let r = sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2 RETURNING id, email, name")
            .bind(password_hash)
            .bind(&email)
            .fetch_one(&mut *w.tx)
            .await?;
        let user = user_of(&r)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(&user.id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(user)
    }

    /// Adds `user` to `team` with `role`, or changes the role of a member.
    pub async fn set_membership(&self, user_id: &str, team_id: &str, role: Role) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO memberships (user_id, team_id, role, created) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, team_id) DO UPDATE SET role = excluded.role",
        )
        .bind(user_id)
        .bind(team_id)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// The teams a user belongs to, oldest membership first.
    pub async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT m.team_id, m.role, t.name FROM memberships m JOIN teams t ON t.id = m.team_id \
             WHERE m.user_id = $1 ORDER BY m.created, m.team_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Membership {
                    team_id: r.try_get("team_id")?,
                    team_name: r.try_get("name")?,
                    role: role_of(r)?,
                })
            })
            .collect()
    }

    /// A user's role in a team, `None` when they are not a member (the dashboard's team check).
    pub async fn role_in_team(&self, user_id: &str, team_id: &str) -> Result<Option<Role>> {
        let r = sqlx::query("SELECT role FROM memberships WHERE user_id = $1 AND team_id = $2")
            .bind(user_id)
            .bind(team_id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(role_of).transpose()
    }

    /// The members of a team, owners first.
    pub async fn team_members(&self, team_id: &str) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.team_id = $1 ORDER BY m.role DESC, u.email",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Member {
                    user: user_of(r)?,
                    role: role_of(r)?,
                })
            })
            .collect()
    }

    /// The team's first owner: who `GET /user` names when a request is authenticated by the
    /// team's API token rather than by a person's session.
    pub async fn team_owner(&self, team_id: &str) -> Result<Option<User>> {
        let r = sqlx::query(
            "SELECT u.id, u.email, u.name FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.team_id = $1 AND m.role = $2 ORDER BY m.created, u.id LIMIT 1",
        )
        .bind(team_id)
        .bind(Role::Owner.as_str())
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(user_of).transpose()
    }

    /// Opens a session for `user_id`, valid for `ttl_ms`.
    pub async fn create_session(&self, user_id: &str, ttl_ms: i64) -> Result<NewSession> {
        let new = NewSession {
            cookie: secret("ps_"),
            csrf_token: secret("pc_"),
        };
        let now = now_ms();
        let mut w = self.begin_write().await?;
        // Expired sessions of anyone go as new ones come: no sweeper needed.
        sqlx::query("DELETE FROM sessions WHERE expires <= $1")
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created, expires) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(ids::hash_token(&new.cookie))
        .bind(user_id)
        .bind(&new.csrf_token)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(new)
    }

    /// The live session of a cookie value, if any.
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>> {
        let hash = ids::hash_token(cookie);
        let r = sqlx::query(
            "SELECT u.id, u.email, u.name, s.csrf_token, s.token_hash FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires > $2",
        )
        .bind(&hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = r else { return Ok(None) };
        if !ids::ct_eq(&r.try_get::<String, _>("token_hash")?, &hash) {
            return Ok(None);
        }
        Ok(Some(Session {
            user: user_of(&r)?,
            csrf_token: r.try_get("csrf_token")?,
        }))
    }

    /// Ends a session (sign out). Ending one that is gone already is not an error.
    pub async fn end_session(&self, cookie: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(ids::hash_token(cookie))
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// Names a team's token (the dashboard's label for it). `NotFound` for another team's.
    pub async fn name_token(&self, team_id: &str, token_id: &str, name: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("UPDATE api_tokens SET name = $1 WHERE id = $2 AND team_id = $3")
            .bind(name)
            .bind(token_id)
            .bind(team_id)
            .execute(&mut *w.tx)
            .await?;
        found(r.rows_affected())?;
        w.commit().await
    }
}
