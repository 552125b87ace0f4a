//! `guichet keys rotate`: wraps every data key of the encrypted store under the first
//! configured master key, without rewriting any content, so that the others can be removed
//! from the configuration afterwards (docs/deployment.md, "Keys").

use std::process::ExitCode;

use crate::config::{Config, ConfigArgs};
use crate::wiring;

pub async fn rotate(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let store = wiring::sealed_store(&Config::load(args)?).await?;
    let rotation = store.rotate().await?;
    for (path, error) in &rotation.failed {
        println!("failed   {path}: {error}");
    }
    println!(
        "{} data key(s) wrapped again under {}, {} already were",
        rotation.rewrapped,
        store.current_key(),
        rotation.current
    );
    if rotation.failed.is_empty() {
        println!(
            "every data key is wrapped under {}: the other keys may be removed",
            store.current_key()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{} data key(s) could not be: keep the other keys until a rotation succeeds",
            rotation.failed.len()
        );
        Ok(ExitCode::from(1))
    }
}
