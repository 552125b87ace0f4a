//! `guichet user create --name NAME --role reviewer|admin --password-stdin`: a staff account
//! for the web interface. The password is read from standard input (never from the command
//! line, where `ps` and shell history would show it) and stored as an argon2 hash; `--email`
//! gives the e-mail by which single sign-on finds the account, `--campaign ID` (repeatable)
//! the campaigns it reaches (none: every campaign).
//! `guichet user passwd NAME --password-stdin` replaces it; `guichet user disable NAME` and
//! `enable NAME` switch an account off and on. Both end the account's sessions.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{Config, ConfigArgs};
use crate::wiring;

/// The most read from standard input: a password, not a file.
const MAX_PASSWORD_BYTES: u64 = 4096;

pub async fn create(
    args: &ConfigArgs,
    name: &str,
    role: &str,
    password_stdin: bool,
    email: Option<&str>,
    campaigns: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let password = read_password(password_stdin)?;
    let app = wiring::open(&Config::load(args)?).await?;
    match review::create_account(&app, name, role, password, Some(campaigns)).await {
        Ok(()) => {
            if let Some(email) = email {
                app.repo
                    .set_staff_email(name, Some(email.trim()))
                    .await
                    .context("setting the account's e-mail (is another account using it?)")?;
            }
            println!("staff account {name} ({role}) created");
            Ok(ExitCode::SUCCESS)
        }
        Err(review::AccountError::Repository(e)) => Err(e.into()),
        Err(e) => {
            eprintln!("guichet: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

pub async fn passwd(
    args: &ConfigArgs,
    name: &str,
    password_stdin: bool,
) -> anyhow::Result<ExitCode> {
    let password = read_password(password_stdin)?;
    let app = wiring::open(&Config::load(args)?).await?;
    match review::set_password(&app, name, password, None).await {
        Ok(()) => {
            println!("staff account {name}: password replaced, sessions ended");
            Ok(ExitCode::SUCCESS)
        }
        Err(review::AccountError::Repository(e)) => Err(e.into()),
        Err(e) => {
            eprintln!("guichet: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

pub async fn set_disabled(
    args: &ConfigArgs,
    name: &str,
    disabled: bool,
) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    if !app.repo.set_staff_user_disabled(name, disabled).await? {
        eprintln!("guichet: no staff account {name}");
        return Ok(ExitCode::from(1));
    }
    let state = if disabled {
        "disabled, sessions ended"
    } else {
        "enabled"
    };
    println!("staff account {name} {state}");
    Ok(ExitCode::SUCCESS)
}

/// The password piped on standard input: one line, as `echo` or a password manager gives it
/// (the final newline is not part of it).
fn read_password(password_stdin: bool) -> anyhow::Result<String> {
    if !password_stdin {
        anyhow::bail!("give the password on standard input with --password-stdin");
    }
    let mut input = String::new();
    std::io::stdin()
        .take(MAX_PASSWORD_BYTES)
        .read_to_string(&mut input)
        .context("reading the password from standard input")?;
    Ok(input
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&input)
        .to_string())
}
