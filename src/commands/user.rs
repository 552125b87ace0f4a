//! `guichet user create --name NAME --role reviewer|admin --password-stdin`: a staff account
//! for the web interface. The password is read from standard input (never from the command
//! line, where `ps` and shell history would show it) and stored as an argon2 hash.

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
) -> anyhow::Result<ExitCode> {
    if !password_stdin {
        anyhow::bail!("give the password on standard input with --password-stdin");
    }
    let mut input = String::new();
    std::io::stdin()
        .take(MAX_PASSWORD_BYTES)
        .read_to_string(&mut input)
        .context("reading the password from standard input")?;
    // One line, as `echo` or a password manager pipes it: the final newline is not part of it.
    let password = input
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&input)
        .to_string();
    let app = wiring::open(&Config::load(args)?).await?;
    match review::create_account(&app, name, role, password).await {
        Ok(()) => {
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
