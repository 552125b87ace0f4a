//! `guichet serve`: the API and the background work, until SIGINT or SIGTERM.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use ingest::{App, Role};

use super::token;
use crate::config::{Config, ConfigArgs};
use crate::wiring;

/// The sample campaigns, for `--demo` when run outside a checkout.
const SAMPLE_CAMPAIGNS: &[(&str, &str)] = &[
    (
        "cap-2025-poitiers.toml",
        include_str!("../../samples/campaigns/cap-2025-poitiers.toml"),
    ),
    (
        "demonstration.toml",
        include_str!("../../samples/campaigns/demonstration.toml"),
    ),
];

pub async fn run(
    args: &ConfigArgs,
    listen: Option<SocketAddr>,
    demo: bool,
) -> anyhow::Result<ExitCode> {
    init_logs();
    let mut config = Config::load(args)?;
    if let Some(listen) = listen {
        config.listen = listen;
    }
    config.require_shared_secret()?;
    let app = wiring::open(&config).await?;
    // Bound before the demo speaks, so that it can print the address actually taken (with
    // `--listen 127.0.0.1:0`, the port the system chose).
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    if demo {
        load_demo(&app, address).await?;
    }
    if app.scanner.is_some() {
        tokio::spawn(ingest::pipeline::scan::worker(app.clone()));
    }
    // Every process renders pictures of pages, one document at a time.
    tokio::spawn(ingest::pipeline::render::worker(app.clone()));
    tokio::spawn(ingest::pipeline::resumable::housekeeping(app.clone()));
    // Every process applies the retention rules (passes are idempotent).
    tokio::spawn(ingest::pipeline::purge::worker(
        app.clone(),
        config.retention.clone(),
    ));
    // Every process splits mailroom batches; job leases keep two from taking the same one.
    tokio::spawn(ingest::pipeline::mailroom::worker(
        app.clone(),
        config.mailroom.clone(),
    ));
    // Before any worker counts anything: counts made earlier would be lost.
    ingest::metrics::install();
    // Every process delivers webhooks; endpoint leases keep them from sending one twice.
    tokio::spawn(ingest::webhooks::worker(
        app.clone(),
        config.webhooks.clone(),
    ));
    tracing::info!(%address, data = %config.data_dir.display(), "guichet listening");
    println!("guichet listening on http://{address}");
    crate::http::serve(
        listener,
        api::router(app.clone()).merge(staff_router(&config, app, address)?),
        &config.http,
        shutdown(),
    )
    .await
    .context("serving")?;
    Ok(ExitCode::SUCCESS)
}

/// The staff interface: settings from the environment, single sign-on from the configuration.
fn staff_router(
    config: &Config,
    app: ingest::App,
    address: std::net::SocketAddr,
) -> anyhow::Result<axum::Router> {
    let mut settings = review::Settings::from_env(address);
    settings.oidc = config.oidc_settings()?;
    tokio::spawn(review::refresher(app.clone()));
    Ok(review::router_with(app, settings))
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GUICHET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Loads `samples/campaigns/*.toml` (from the working directory when present, else the copies
/// built in), prints a new token for each role, and makes the staff accounts, printed with
/// the URL of the staff pages at `address`.
async fn load_demo(app: &App, address: SocketAddr) -> anyhow::Result<()> {
    for (origin, source) in sample_campaigns()? {
        let campaign = app
            .load_campaign(&source, &origin)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "demo: campaign {} loaded ({})",
            campaign.id(),
            campaign.title()
        );
    }
    for role in Role::ALL {
        let token = token::issue(app, role, &format!("demo-{role}")).await?;
        println!("demo: {role:<7} token {token}");
    }
    let staff = staff_url(address);
    for (name, role) in DEMO_ACCOUNTS {
        // Each start makes a new password; only its hash is kept, so a second start on the
        // same data cannot show the first one again.
        let password = ingest::new_token()[4..24].to_string();
        match review::create_account(app, name, role, password.clone(), None).await {
            Ok(()) => {
                println!("demo: staff {role:<8} login {name} password {password} at {staff}");
            }
            Err(review::AccountError::Taken(_)) => println!(
                "demo: staff {role:<8} login {name} exists (its password was shown when it was \
                 made) at {staff}"
            ),
            Err(e) => return Err(anyhow::anyhow!("demo account {name}: {e}")),
        }
    }
    Ok(())
}

/// The staff accounts `--demo` makes, to open the staff pages (`/staff/`) at once.
const DEMO_ACCOUNTS: [(&str, &str); 2] =
    [("demo-instructeur", "reviewer"), ("demo-admin", "admin")];

/// The staff pages at `address`, as a browser on this machine opens them: an address that
/// listens on every interface (`0.0.0.0`, `::`) is reached through the loopback.
fn staff_url(mut address: SocketAddr) -> String {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => address.set_ip(Ipv4Addr::LOCALHOST.into()),
        IpAddr::V6(ip) if ip.is_unspecified() => address.set_ip(Ipv6Addr::LOCALHOST.into()),
        _ => {}
    }
    format!("http://{address}/staff/")
}

fn sample_campaigns() -> anyhow::Result<Vec<(String, String)>> {
    let dir = Path::new("samples/campaigns");
    if !dir.is_dir() {
        return Ok(SAMPLE_CAMPAIGNS
            .iter()
            .map(|(name, source)| (format!("samples/campaigns/{name}"), source.to_string()))
            .collect());
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let source = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok((path.display().to_string(), source))
        })
        .collect()
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staff_url_opens_from_this_machine() {
        let url = |address: &str| staff_url(address.parse().expect("a socket address"));
        assert_eq!(url("127.0.0.1:8080"), "http://127.0.0.1:8080/staff/");
        assert_eq!(url("192.0.2.7:80"), "http://192.0.2.7:80/staff/");
        assert_eq!(url("0.0.0.0:8081"), "http://127.0.0.1:8081/staff/");
        assert_eq!(url("[::]:8080"), "http://[::1]:8080/staff/");
    }
}
