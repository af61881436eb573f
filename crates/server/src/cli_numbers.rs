//! `parley trunk …` and `parley number …`: a team's SIP trunks and phone numbers from the
//! command line, through the same checks as `POST /sip_trunk` and `POST /phone_number`.

use anyhow::Context;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum TrunkCommand {
    /// Add a SIP trunk to a team; prints it (its password is never printed).
    Add {
        /// The team that owns the trunk.
        #[arg(long, visible_alias = "team-id")]
        team: String,
        /// A name for the trunk.
        #[arg(long)]
        name: String,
        /// The carrier's SIP host name or IP address.
        #[arg(long)]
        host: String,
        /// The carrier's SIP port.
        #[arg(long, default_value_t = 5060)]
        port: u16,
        /// udp, tcp or tls.
        #[arg(long, default_value = "udp")]
        transport: String,
        /// Digest user name (answered on 401/407).
        #[arg(long)]
        username: Option<String>,
        /// Read the digest password from the first line of standard input (preferred: a
        /// password on the command line shows in the process list and shell history).
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The digest password (see --password-stdin).
        #[arg(long)]
        password: Option<String>,
        /// Domain of the From header (default: the host).
        #[arg(long)]
        from_domain: Option<String>,
        /// A CIDR or IP allowed to send INVITEs (repeat it; none: only the host).
        #[arg(long = "inbound", value_name = "CIDR")]
        inbound: Vec<String>,
        /// Calls the trunk may carry at once (none: no limit of its own).
        #[arg(long)]
        max_concurrent_calls: Option<i64>,
        /// Print the trunk as JSON (as the API shows it).
        #[arg(long)]
        json: bool,
    },
    /// List a team's SIP trunks.
    List {
        #[arg(long, visible_alias = "team-id")]
        team: String,
        /// Print `{"sip_trunks": [...], "count": n}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum NumberCommand {
    /// Register a phone number for a team; prints it (secrets are never printed).
    Add {
        /// The team that owns the number.
        #[arg(long, visible_alias = "team-id")]
        team: String,
        /// The number, E.164 (+14155550123) or national (read in --country-code).
        #[arg(long)]
        number: String,
        /// Dialing prefix of a national number.
        #[arg(long, default_value = "+1")]
        country_code: String,
        /// sip, twilio or sandbox.
        #[arg(long)]
        network: String,
        /// The SIP trunk's id (network sip).
        #[arg(long)]
        trunk: Option<String>,
        /// The Twilio account SID (network twilio).
        #[arg(long)]
        twilio_account_sid: Option<String>,
        /// Read the Twilio auth token from the first line of standard input (network twilio).
        #[arg(long, conflicts_with = "twilio_auth_token")]
        twilio_auth_token_stdin: bool,
        /// The Twilio auth token (see --twilio-auth-token-stdin).
        #[arg(long)]
        twilio_auth_token: Option<String>,
        /// The voice agent (interview id) that answers calls to the number.
        #[arg(long)]
        agent: Option<String>,
        /// A label for the number.
        #[arg(long)]
        label: Option<String>,
        /// Make it the caller id of the team's outbound calls.
        #[arg(long)]
        default_outbound: bool,
        /// Print the number as JSON (as the API shows it).
        #[arg(long)]
        json: bool,
    },
    /// List a team's phone numbers.
    List {
        #[arg(long, visible_alias = "team-id")]
        team: String,
        /// Print `{"phone_numbers": [...], "count": n}`.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn trunk_command(store: &parley_store::Store, command: TrunkCommand) -> anyhow::Result<()> {
    use parley_api::routes::numbers::{trunk_write, TrunkBody};
    match command {
        TrunkCommand::Add {
            team,
            name,
            host,
            port,
            transport,
            username,
            password_stdin,
            password,
            from_domain,
            inbound,
            max_concurrent_calls,
            json,
        } => {
            let team = crate::api_team(store, &team).await?;
            let transport = parley_core::number::SipTransport::parse(&transport.to_ascii_lowercase())
                .context("--transport must be udp, tcp or tls")?;
            let password = if password_stdin {
                Some(crate::secret_from_stdin("password")?)
            } else {
                password
            };
            let body = TrunkBody {
                name: Some(name),
                host: Some(host),
                port: Some(i64::from(port)),
                transport: Some(transport),
                username,
                password,
                from_domain,
                inbound_addresses: Some(inbound),
                max_concurrent_calls,
            };
            let write = trunk_write(body, None).map_err(|e| anyhow::anyhow!("{e}"))?;
            let trunk = store.create_sip_trunk(&team.id, &write).await?;
            print_one(json, &trunk, trunk_line)?;
        }
        TrunkCommand::List { team, json } => {
            let team = crate::api_team(store, &team).await?;
            let (trunks, count) = store.list_sip_trunks(&team.id, 0, crate::LIST_ALL).await?;
            print_all(json, "sip_trunks", &trunks, count, trunk_line);
        }
    }
    Ok(())
}

/// Prints one record: as JSON, or as its tab-separated line.
fn print_one<T: serde::Serialize>(json: bool, v: &T, line: fn(&T) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(v)?);
    } else {
        println!("{}", line(v));
    }
    Ok(())
}

/// Prints a list: as the API's page (`{<key>: [...], count}`), or a line per record.
fn print_all<T: serde::Serialize>(json: bool, key: &str, items: &[T], count: i64, line: fn(&T) -> String) {
    if json {
        println!("{}", serde_json::json!({ key: items, "count": count }));
    } else {
        for v in items {
            println!("{}", line(v));
        }
    }
}

fn trunk_line(t: &parley_core::number::SipTrunk) -> String {
    format!(
        "{}\t{}\t{}:{} ({})\tuser: {}\tpassword: {}\tinbound: {}",
        t.id,
        t.name,
        t.host,
        t.port,
        t.transport.as_str(),
        t.username.as_deref().unwrap_or("-"),
        if t.has_password { "set" } else { "none" },
        if t.inbound_addresses.is_empty() {
            "host only".to_string()
        } else {
            t.inbound_addresses.join(",")
        },
    )
}

pub(crate) async fn number_command(store: &parley_store::Store, command: NumberCommand) -> anyhow::Result<()> {
    use parley_api::routes::numbers::{number_write, NumberBody, TwilioBody};
    match command {
        NumberCommand::Add {
            team,
            number,
            country_code,
            network,
            trunk,
            twilio_account_sid,
            twilio_auth_token_stdin,
            twilio_auth_token,
            agent,
            label,
            default_outbound,
            json,
        } => {
            let team = crate::api_team(store, &team).await?;
            let network = parley_core::number::NetworkKind::parse(&network.to_ascii_lowercase())
                .context("--network must be sip, twilio or sandbox")?;
            let token = if twilio_auth_token_stdin {
                Some(crate::secret_from_stdin("Twilio auth token")?)
            } else {
                twilio_auth_token
            };
            let twilio = match (twilio_account_sid, token) {
                (Some(account_sid), auth_token) => Some(TwilioBody {
                    account_sid,
                    auth_token,
                }),
                (None, Some(_)) => anyhow::bail!("--twilio-auth-token needs --twilio-account-sid"),
                (None, None) => None,
            };
            let body = NumberBody {
                phone_number: Some(number),
                country_code: Some(country_code),
                network: Some(network),
                sip_trunk_id: trunk,
                twilio,
                inbound_interview_id: agent,
                label,
                default_outbound: Some(default_outbound),
            };
            let write = number_write(store, &team, body, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let n = store.create_phone_number(&team.id, &write).await?;
            print_one(json, &n, number_line)?;
        }
        NumberCommand::List { team, json } => {
            let team = crate::api_team(store, &team).await?;
            let (numbers, count) = store.list_phone_numbers(&team.id, 0, crate::LIST_ALL).await?;
            print_all(json, "phone_numbers", &numbers, count, number_line);
        }
    }
    Ok(())
}

fn number_line(n: &parley_core::number::PhoneNumber) -> String {
    let via = match (&n.sip_trunk_id, &n.twilio) {
        (Some(t), _) => format!("trunk {t}"),
        (_, Some(tw)) => format!("twilio {}", tw.account_sid),
        _ => "-".into(),
    };
    format!(
        "{}\t{}\t{}\t{}\tagent: {}\t{}{}",
        n.id,
        n.phone_number,
        n.network,
        via,
        n.inbound_interview_id.as_deref().unwrap_or("-"),
        n.label.as_deref().unwrap_or(""),
        if n.default_outbound { "\tdefault outbound" } else { "" },
    )
}
