//! `guichet campaign load FILE`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{Config, ConfigArgs};
use crate::wiring;

pub async fn load(args: &ConfigArgs, file: &Path) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    let source =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    match app
        .load_campaign(&source, &file.display().to_string())
        .await
    {
        Ok(campaign) => {
            println!("campaign {} loaded: {}", campaign.id(), campaign.title());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}
