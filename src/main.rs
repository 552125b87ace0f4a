//! `guichet`: the command line. Configuration, wiring, and one module per command.

mod commands;
mod config;
mod wiring;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use config::ConfigArgs;

#[derive(Parser)]
#[command(
    name = "guichet",
    version,
    about = "Intake and validation of supporting documents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the background work.
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        /// Address to listen on (overrides the configuration).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Load the sample campaigns and print a token for each role.
        #[arg(long)]
        demo: bool,
    },
    /// Give the verdict on local files, offline.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Check against a piece of this campaign (with --piece).
        #[arg(long, value_name = "FILE", requires = "piece")]
        campaign: Option<PathBuf>,
        /// The piece code in --campaign.
        #[arg(long, value_name = "CODE", requires = "campaign")]
        piece: Option<String>,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Manage campaigns.
    Campaign {
        #[command(subcommand)]
        action: CampaignAction,
    },
    /// Re-read every stored object and check it against its SHA-256.
    Verify {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token; prints it alone on the last line.
    Create {
        #[arg(long)]
        role: ingest::Role,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum CampaignAction {
    /// Load (or replace) a campaign from its TOML file.
    Load {
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 2; --help and --version succeed.
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve {
                config,
                listen,
                demo,
            } => commands::serve::run(&config, listen, demo).await,
            Command::Validate {
                files,
                campaign,
                piece,
                json,
            } => commands::validate::run(&files, campaign.as_deref(), piece.as_deref(), json),
            Command::Token {
                action: TokenAction::Create { role, name, config },
            } => commands::token::create(&config, role, &name).await,
            Command::Campaign {
                action: CampaignAction::Load { file, config },
            } => commands::campaign::load(&config, &file).await,
            Command::Verify { config } => commands::verify::run(&config).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("guichet: {e:#}");
            ExitCode::from(2)
        }
    }
}
