//! `guichet cover-sheet REFERENCE [--piece CODE] -o FILE`: the sheet the portal also serves.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{Config, ConfigArgs};
use crate::wiring;

pub async fn write(
    args: &ConfigArgs,
    reference: &str,
    piece: Option<&str>,
    output: &Path,
) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    let pdf = ingest::pipeline::mailroom::cover_sheet(&app, reference, piece)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::write(output, pdf).with_context(|| format!("writing {}", output.display()))?;
    println!("{}", output.display());
    Ok(ExitCode::SUCCESS)
}
