//! `guichet audit verify`: walks every dossier's journal on the configured database and
//! checks its hash chain (`storage::repository::journal::verify_chain`).
//!
//! Prints `ok: N dossiers, M entries` and exits 0 when every chain holds, or each break
//! (`dossier REF: journal entry SEQ ...`, the first entry of the chain that does not follow
//! from the one before it) and exits 1. Only the database is opened: the object store is
//! `guichet verify`'s business. The chain alone cannot tell that a chain's last entries were
//! removed, nor that a whole chain was (see docs/decisions.md, "The dossier journal").

use std::process::ExitCode;

use storage::repository::journal::verify_chain;

use crate::config::{Config, ConfigArgs};
use crate::wiring;

/// Dossiers listed per page of `journaled_dossiers`.
const PAGE: u32 = 500;

pub async fn verify(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(args)?;
    std::fs::create_dir_all(&config.data_dir)?;
    let repo = wiring::repository(&config).await?;
    let (mut dossiers, mut entries, mut breaks) = (0usize, 0usize, 0usize);
    let mut after = String::new();
    loop {
        let page = repo.journaled_dossiers(&after, PAGE).await?;
        for reference in &page {
            let chain = repo.journal(reference).await?;
            dossiers += 1;
            entries += chain.len();
            if let Err(broken) = verify_chain(reference, &chain) {
                breaks += 1;
                println!("{broken}");
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = last.clone(),
            _ => break,
        }
    }
    if breaks == 0 {
        println!("ok: {dossiers} dossiers, {entries} entries");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{breaks} broken chain(s) among {dossiers} dossiers, {entries} entries");
        Ok(ExitCode::from(1))
    }
}
