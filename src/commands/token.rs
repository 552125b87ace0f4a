//! `guichet token create`: the token is shown once, alone on the last line.

use std::process::ExitCode;

use ingest::Role;
use storage::TokenRecord;

use crate::config::{Config, ConfigArgs};
use crate::wiring;

pub async fn create(args: &ConfigArgs, role: Role, name: &str) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    let token = issue(&app, role, name).await?;
    println!("token for {name} ({role}):");
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

/// Creates and stores a token; returns it in clear, the only time it exists so.
pub async fn issue(app: &ingest::App, role: Role, name: &str) -> anyhow::Result<String> {
    let token = ingest::new_token();
    app.repo
        .insert_token(
            &ingest::token_hash(&token),
            &TokenRecord {
                role: role.as_str().to_string(),
                name: name.to_string(),
            },
        )
        .await?;
    Ok(token)
}
