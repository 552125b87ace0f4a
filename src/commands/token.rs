//! `guichet token create|list|revoke`: API tokens. A new token is shown once, alone on the
//! last line; the list never shows one (only the first characters of its hash).

use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ingest::Role;
use ingest::auth::NewToken;

use crate::config::{Config, ConfigArgs};
use crate::wiring;

pub async fn create(
    args: &ConfigArgs,
    role: Role,
    name: &str,
    campaigns: Vec<String>,
    expires_in: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    let new = NewToken {
        role,
        name: name.to_string(),
        campaigns: Some(campaigns),
        expires_in,
    };
    let token = ingest::auth::issue(&app, new).await?;
    println!("token for {name} ({role}):");
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

/// Creates and stores a token for every campaign, without expiry (the demo's).
pub async fn issue(app: &ingest::App, role: Role, name: &str) -> anyhow::Result<String> {
    let new = NewToken {
        role,
        name: name.to_string(),
        campaigns: None,
        expires_in: None,
    };
    Ok(ingest::auth::issue(app, new).await?)
}

/// One line a token, tab-separated under a header: name, role, scope, created, expires, last
/// used, revoked (`-` for none; `*` for every campaign).
pub async fn list(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    println!("id\tname\trole\tcampaigns\tcreated\texpires\tlast_used\trevoked");
    for t in app.repo.token_listing().await? {
        let scope = t.campaigns.map_or_else(|| "*".to_string(), |c| c.join(","));
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            t.id,
            t.name,
            t.role,
            scope,
            instant(Some(t.created_at)),
            instant(t.expires_at),
            instant(t.last_used_at),
            instant(t.revoked_at),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Revokes every live token named `name`; exits 1 when there is none.
pub async fn revoke(args: &ConfigArgs, name: &str) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    let revoked = app.repo.revoke_tokens(name, Utc::now()).await?;
    if revoked == 0 {
        eprintln!("no live token named {name}");
        return Ok(ExitCode::FAILURE);
    }
    println!("{revoked} token(s) named {name} revoked");
    Ok(ExitCode::SUCCESS)
}

fn instant(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "-".to_string(),
        |at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}
