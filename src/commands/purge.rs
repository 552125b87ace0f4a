//! `guichet purge`: applies the campaigns' retention rules now (the service does it in the
//! background too), or with `--dry-run` lists what the rules will purge, and when.

use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};

use crate::config::{Config, ConfigArgs};
use crate::wiring;

pub async fn run(args: &ConfigArgs, dry_run: bool) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    if dry_run {
        let now = Utc::now();
        let listed =
            ingest::pipeline::purge::due(&app, now, true, ingest::pipeline::purge::LISTED).await?;
        for due in &listed {
            let when = if due.due_at <= now {
                "due now"
            } else {
                "later"
            };
            println!(
                "{}  {when:<7}  {}  {}  {}  {}",
                due.due_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                due.dossier,
                due.document,
                due.piece.as_deref().unwrap_or("-"),
                due.rule
            );
        }
        let now_due = listed.iter().filter(|d| d.due_at <= now).count();
        println!(
            "{} document(s) under a retention rule, {now_due} due now; nothing was changed",
            listed.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report = ingest::pipeline::purge::pass(&app).await?;
    for due in &report.purged {
        println!("purged  {}  {}  {}", due.dossier, due.document, due.rule);
    }
    println!(
        "{} document(s) purged, {} object(s) deleted",
        report.purged.len(),
        report.objects_deleted
    );
    Ok(ExitCode::SUCCESS)
}
