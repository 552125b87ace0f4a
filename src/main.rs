//! `guichet`: the command line. Configuration, wiring, and one module per command.

mod commands;
mod config;
mod http;
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
    /// Manage staff accounts of the web interface.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage campaigns.
    Campaign {
        #[command(subcommand)]
        action: CampaignAction,
    },
    /// Write the printable cover sheet of a dossier (or a piece's separator sheet).
    CoverSheet {
        reference: String,
        /// The piece whose separator sheet to write.
        #[arg(long, value_name = "CODE")]
        piece: Option<String>,
        /// Where to write the PDF.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// The scanning-station side: send scanned batches to a guichet server.
    Mailroom {
        #[command(subcommand)]
        action: MailroomAction,
    },
    /// Re-read every stored object and check it against its SHA-256.
    Verify {
        #[command(flatten)]
        config: ConfigArgs,
        /// Remove the objects no document points at (and stray data keys), when written more
        /// than --older-than ago. Without it, verify only says what it would remove.
        #[arg(long)]
        remove_orphans: bool,
        /// How old an orphan must be to be removed (humantime: 1h, 30m, 2days): a younger one
        /// may belong to an intake not yet recorded.
        #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: std::time::Duration,
    },
    /// Manage the master keys of encryption at rest.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Apply the campaigns' retention rules now (the service does it in the background), or
    /// list what they will purge and when.
    Purge {
        #[command(flatten)]
        config: ConfigArgs,
        /// List the documents under a rule, with when they go; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check what the dossier journals record.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// The child process that draws a document's pages for staff, started by guichet itself
    /// under memory and time limits; writes framed records to standard output (`previews`).
    #[command(hide = true)]
    RenderPages {
        /// The document's kind, as detected at intake.
        #[arg(long)]
        kind: dossiers::Kind,
        /// The first page to draw (1-based): a child that died is followed by another.
        #[arg(long, default_value_t = 1, value_name = "N")]
        from_page: u32,
        #[arg(long, value_name = "N")]
        max_pages: Option<u32>,
        #[arg(long, value_name = "RATIO")]
        max_height_ratio: Option<u32>,
        /// The most bytes of address space the child may map (it sets the limit on itself).
        #[arg(long, value_name = "BYTES")]
        memory_limit: u64,
        /// The server's process id: the child dies with it.
        #[arg(long, value_name = "PID")]
        parent: u32,
        file: PathBuf,
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
        /// A campaign the token may reach (repeatable); none: every campaign.
        #[arg(long = "campaign", value_name = "ID")]
        campaigns: Vec<String>,
        /// How long the token lives (humantime: 2s, 12h, 90d); none: until revoked.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expires_in: Option<std::time::Duration>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List the tokens: name, role, scope, created, expires, last used, revoked.
    List {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Revoke every live token of this name; exits 1 when there is none.
    Revoke {
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a staff account; the password is read from standard input.
    Create {
        #[arg(long)]
        name: String,
        /// `reviewer` or `admin`.
        #[arg(long, value_parser = ["reviewer", "admin"])]
        role: String,
        /// Read the password from standard input (the only way to give it).
        #[arg(long)]
        password_stdin: bool,
        /// The e-mail by which single sign-on finds the account (see docs/staff.md).
        #[arg(long)]
        email: Option<String>,
        /// A campaign the account may reach (repeatable); none: every campaign.
        #[arg(long = "campaign", value_name = "ID")]
        campaigns: Vec<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Give an account a new password, read from standard input; its sessions end.
    Passwd {
        name: String,
        /// Read the password from standard input (the only way to give it).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Disable an account: it can no longer log in, and its sessions end at once.
    Disable {
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Enable a disabled account again.
    Enable {
        name: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(clap::Args)]
struct StationArgs {
    /// The guichet server, e.g. https://guichet.example.org
    #[arg(long, env = "GUICHET_SERVER", value_name = "URL")]
    server: String,
    /// A token with the station role.
    #[arg(long, env = "GUICHET_TOKEN", value_name = "T", hide_env_values = true)]
    token: String,
}

#[derive(Subcommand)]
enum MailroomAction {
    /// Send batches (PDF or multi-page TIFF); retries while the server is unreachable.
    Send {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        station: StationArgs,
    },
    /// Send every complete file that appears in DIR; move it to DIR/sent once acknowledged,
    /// to DIR/failed (with a reason file) when refused.
    Watch {
        dir: PathBuf,
        #[command(flatten)]
        station: StationArgs,
        /// Seconds a file's size and time must stay unchanged before it is sent.
        #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
        settle: f64,
        /// Handle what is in DIR, then exit.
        #[arg(long)]
        once: bool,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Wrap every data key under the first configured key, without rewriting content; the
    /// other keys may then be removed from the configuration.
    Rotate {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check every dossier's journal chain; prints each break and exits 1 on any.
    Verify {
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

impl From<StationArgs> for commands::mailroom::Station {
    fn from(args: StationArgs) -> Self {
        commands::mailroom::Station {
            server: args.server,
            token: args.token,
        }
    }
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
    // The page renderer runs under a small address-space limit: no runtime, no threads.
    let command = match cli.command {
        Command::RenderPages {
            kind,
            from_page,
            max_pages,
            max_height_ratio,
            memory_limit,
            parent,
            file,
        } => {
            return commands::render_pages::run(
                &file,
                kind,
                from_page,
                max_pages,
                max_height_ratio,
                memory_limit,
                parent,
            );
        }
        command => command,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let result = runtime.block_on(async move {
        match command {
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
            Command::Token { action } => match action {
                TokenAction::Create {
                    role,
                    name,
                    campaigns,
                    expires_in,
                    config,
                } => commands::token::create(&config, role, &name, campaigns, expires_in).await,
                TokenAction::List { config } => commands::token::list(&config).await,
                TokenAction::Revoke { name, config } => {
                    commands::token::revoke(&config, &name).await
                }
            },
            Command::User {
                action:
                    UserAction::Create {
                        name,
                        role,
                        password_stdin,
                        email,
                        campaigns,
                        config,
                    },
            } => {
                let email = email.as_deref();
                commands::user::create(&config, &name, &role, password_stdin, email, campaigns)
                    .await
            }
            Command::User {
                action:
                    UserAction::Passwd {
                        name,
                        password_stdin,
                        config,
                    },
            } => commands::user::passwd(&config, &name, password_stdin).await,
            Command::User {
                action: UserAction::Disable { name, config },
            } => commands::user::set_disabled(&config, &name, true).await,
            Command::User {
                action: UserAction::Enable { name, config },
            } => commands::user::set_disabled(&config, &name, false).await,
            Command::Campaign {
                action: CampaignAction::Load { file, config },
            } => commands::campaign::load(&config, &file).await,
            Command::CoverSheet {
                reference,
                piece,
                output,
                config,
            } => commands::cover_sheet::write(&config, &reference, piece.as_deref(), &output).await,
            Command::Mailroom { action } => match action {
                MailroomAction::Send { files, station } => {
                    commands::mailroom::send(&station.into(), &files).await
                }
                MailroomAction::Watch {
                    dir,
                    station,
                    settle,
                    once,
                } => {
                    let settle = std::time::Duration::try_from_secs_f64(settle)
                        .map_err(|e| anyhow::anyhow!("--settle: {e}"))?;
                    commands::mailroom::watch(&station.into(), &dir, settle, once).await
                }
            },
            Command::Verify {
                config,
                remove_orphans,
                older_than,
            } => {
                let options = commands::verify::Options {
                    remove_orphans,
                    older_than,
                };
                commands::verify::run(&config, options).await
            }
            Command::Keys {
                action: KeysAction::Rotate { config },
            } => commands::keys::rotate(&config).await,
            Command::Purge { config, dry_run } => commands::purge::run(&config, dry_run).await,
            Command::Audit {
                action: AuditAction::Verify { config },
            } => commands::audit::verify(&config).await,
            Command::RenderPages { .. } => unreachable!("handled before the runtime starts"),
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
