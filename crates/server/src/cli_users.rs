//! `parley user …`: dashboard users from the command line (a sign-in link, a password from
//! standard input, a team's members), for an operator who cannot sign in.

use anyhow::Context;
use clap::Subcommand;
use parley_core::account::{is_plausible_email, Role};
use parley_server::Settings;

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Print a one-time link (valid 7 days) with which a user sets a new password; creates the
    /// user, and with --team adds them to it, when needed.
    ResetPassword {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// A team to add the user to (with --role).
        #[arg(long, visible_alias = "team-id")]
        team: Option<String>,
        /// Their role in --team: owner or member.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Set a user's password from standard input (its first line), creating the user when there
    /// is none; with --team, also adds them to the team. Ends the user's sessions.
    SetPassword {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// A team to add the user to (with --role).
        #[arg(long, visible_alias = "team-id")]
        team: Option<String>,
        /// Their role in --team: owner or member.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// List a team's members.
    List {
        /// The team whose members to list.
        #[arg(long, visible_alias = "team-id")]
        team: String,
    },
}

pub(crate) async fn user_command(
    s: &Settings,
    store: &parley_store::Store,
    command: UserCommand,
) -> anyhow::Result<()> {
    let membership = |team: &Option<String>, role: &str| -> anyhow::Result<Option<(String, Role)>> {
        let role = Role::parse(role).with_context(|| format!("--role {role:?}: owner or member"))?;
        Ok(team.clone().map(|t| (t, role)))
    };
    match command {
        UserCommand::ResetPassword { email, team, role } => {
            anyhow::ensure!(is_plausible_email(&email), "--email {email:?} is not an email address");
            let m = membership(&team, &role)?;
            if let Some((t, _)) = &m {
                store.team(t).await.context("no such team")?;
            }
            let (team, role) = m.map_or((None, Role::Member), |(t, r)| (Some(t), r));
            let link = store.create_account_link(&email, team.as_deref(), role).await?;
            println!("{}/app/welcome?token={link}", s.public_url().trim_end_matches('/'));
        }
        UserCommand::SetPassword { email, team, role } => {
            anyhow::ensure!(is_plausible_email(&email), "--email {email:?} is not an email address");
            let m = membership(&team, &role)?;
            if let Some((t, _)) = &m {
                store.team(t).await.context("no such team")?;
            }
            let password = crate::secret_from_stdin("password")?;
            parley_api::session::check_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = parley_api::session::hash_password(password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = store.set_user_password(&email, &hash).await?;
            if let Some((t, r)) = m {
                store.set_membership(&user.id, &t, r).await?;
            }
            println!("{}", serde_json::json!({ "user_id": user.id, "email": user.email }));
        }
        UserCommand::List { team } => {
            for m in store.team_members(&team).await? {
                println!("{}\t{}\t{}", m.user.id, m.user.email, m.role.as_str());
            }
        }
    }
    Ok(())
}
