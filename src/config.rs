//! The configuration of guichet: one typed structure, read from a TOML file (`--config`),
//! then environment variables, then command-line flags, and validated before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use ingest::IntakeSettings;
use ingest::pipeline::mailroom::MailroomSettings;
use ingest::pipeline::purge::PurgeSettings;
use ingest::secrets::MIN_SECRET_BYTES;
use ingest::webhooks::WebhookSettings;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the API and staff interface listen on (`GUICHET_LISTEN`).
    pub listen: SocketAddr,
    /// Where the embedded default keeps its database, objects, staging and secret
    /// (`GUICHET_DATA`).
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    /// Encryption at rest of every stored object (`[encryption]`, see docs/deployment.md).
    pub encryption: EncryptionConfig,
    pub clamav: ClamavConfig,
    /// Signs cover sheets and webhooks; shared by every process of one deployment
    /// (`GUICHET_SECRET`), at least 32 bytes. Generated and kept under `data_dir` when absent,
    /// which only a lone process on the embedded default may do: `serve` refuses to start
    /// without it on PostgreSQL or S3.
    pub secret: Option<String>,
    /// The secrets `secret` replaced, newest first (`GUICHET_PREVIOUS_SECRETS`,
    /// comma-separated): cover sheets printed and webhook secrets handed out under them keep
    /// working during a rotation (see docs/deployment.md).
    pub previous_secrets: Vec<String>,
    /// Intake limits and concurrency.
    pub intake: IntakeSettings,
    /// Webhook delivery: retries, timeouts, concurrency (`[webhooks]`, see docs/webhooks.md).
    pub webhooks: WebhookSettings,
    /// HTTP limits: header size, header read timeout, request rate (`[http]`).
    pub http: crate::http::HttpSettings,
    /// How often retention purges run (`[retention]`, see docs/retention.md).
    pub retention: PurgeSettings,
    /// Retries of mailroom batches that fail (`[mailroom]`, see docs/decisions.md).
    pub mailroom: MailroomSettings,
    /// Staff single sign-on with OpenID Connect (`[oidc]`, see docs/staff.md); off unless
    /// `issuer` is set.
    pub oidc: OidcConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL, whose discovery document is read (`GUICHET_OIDC_ISSUER`);
    /// ProConnect: `https://auth.agentconnect.gouv.fr/api/v2` (production).
    pub issuer: Option<String>,
    /// The client id registered at the provider (`GUICHET_OIDC_CLIENT_ID`).
    pub client_id: Option<String>,
    /// Its secret (`GUICHET_OIDC_CLIENT_SECRET`).
    pub client_secret: Option<String>,
    /// `https://HOST/staff/login/oidc/callback`, as registered (`GUICHET_OIDC_REDIRECT_URL`).
    pub redirect_url: Option<String>,
    /// Scopes asked for (`GUICHET_OIDC_SCOPES`, space-separated); default `openid email`.
    /// ProConnect: `openid email given_name usual_name`.
    pub scopes: Option<Vec<String>>,
    /// `acr_values` asked for, space-separated (`GUICHET_OIDC_ACR_VALUES`); none by default.
    pub acr_values: Option<String>,
    /// The login page's button (`GUICHET_OIDC_LABEL`); default "Se connecter avec ProConnect / SSO".
    pub label: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://<path>` (default `sqlite://<data_dir>/guichet.db`) or `postgres://...`
    /// (`GUICHET_DATABASE_URL`).
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `fs` (objects under `<data_dir>/objects`) or `s3` (`GUICHET_STORAGE`).
    pub kind: StorageKind,
    pub s3: S3Config,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionConfig {
    /// Master keys, `ID:BASE64[,ID:BASE64...]`, 32 bytes each (`GUICHET_ENCRYPTION_KEYS`).
    /// The first seals new objects; the others only open what they sealed. None: objects are
    /// stored as they are.
    pub keys: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    Fs,
    S3,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// Custom endpoint for S3-compatible services (`GUICHET_S3_ENDPOINT`).
    pub endpoint: Option<String>,
    /// Bucket holding the objects (`GUICHET_S3_BUCKET`); required with `kind = "s3"`.
    pub bucket: Option<String>,
    /// Region (`GUICHET_S3_REGION`).
    pub region: Option<String>,
    /// Path-style addressing, as Garage, MinIO and Ceph expect (`GUICHET_S3_PATH_STYLE`).
    pub path_style: Option<bool>,
    /// A prefix for every key, so several deployments can share a bucket.
    pub prefix: Option<String>,
    /// Documents above this size go up in parts (bytes).
    pub multipart_threshold: Option<u64>,
    /// The size of each part (bytes, at least 5 MiB).
    pub part_size: Option<u64>,
    /// Parts in flight at once, per upload.
    pub concurrency: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClamavConfig {
    /// `tcp://host:port` or `unix:/path/clamd.sock`; none means no scan (`GUICHET_CLAMD`).
    /// With an address, every document is scanned before it is accepted or served; while
    /// clamd cannot answer, documents wait as `pending` and are scanned once it can.
    pub address: Option<String>,
    /// Seconds to wait for a connection to clamd. Default 5.
    pub connect_timeout_secs: u64,
    /// Seconds a whole scan may take before it counts as failed (and is retried).
    /// Default 120, clamd's own default limit.
    pub scan_timeout_secs: u64,
}

impl Default for ClamavConfig {
    fn default() -> Self {
        ClamavConfig {
            address: None,
            connect_timeout_secs: 5,
            scan_timeout_secs: 120,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./guichet-data"),
            database: DatabaseConfig::default(),
            storage: StorageConfig::default(),
            encryption: EncryptionConfig::default(),
            clamav: ClamavConfig::default(),
            secret: None,
            previous_secrets: Vec::new(),
            intake: IntakeSettings::default(),
            webhooks: WebhookSettings::default(),
            retention: PurgeSettings::default(),
            mailroom: MailroomSettings::default(),
            http: crate::http::HttpSettings::default(),
            oidc: OidcConfig::default(),
        }
    }
}

/// Flags that override the file and the environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// Configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory of the embedded default.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

impl Config {
    pub fn load(args: &ConfigArgs) -> anyhow::Result<Config> {
        let mut config = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading configuration {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("configuration {} is not valid", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        if let Some(data) = &args.data {
            config.data_dir = data.clone();
        }
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = var("GUICHET_LISTEN") {
            self.listen = v
                .parse()
                .with_context(|| format!("GUICHET_LISTEN={v} is not an address"))?;
        }
        if let Some(v) = var("GUICHET_DATA") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = var("GUICHET_DATABASE_URL") {
            self.database.url = Some(v);
        }
        if let Some(v) = var("GUICHET_STORAGE") {
            self.storage.kind = match v.as_str() {
                "fs" => StorageKind::Fs,
                "s3" => StorageKind::S3,
                other => bail!("GUICHET_STORAGE={other}: expected fs or s3"),
            };
        }
        let s3 = &mut self.storage.s3;
        s3.endpoint = var("GUICHET_S3_ENDPOINT").or(s3.endpoint.take());
        s3.bucket = var("GUICHET_S3_BUCKET").or(s3.bucket.take());
        s3.region = var("GUICHET_S3_REGION").or(s3.region.take());
        if let Some(v) = var("GUICHET_S3_PATH_STYLE") {
            s3.path_style = Some(matches!(v.as_str(), "1" | "true" | "yes"));
        }
        self.clamav.address = var("GUICHET_CLAMD").or(self.clamav.address.take());
        self.encryption.keys = var("GUICHET_ENCRYPTION_KEYS").or(self.encryption.keys.take());
        self.secret = var("GUICHET_SECRET").or(self.secret.take());
        if let Some(previous) = var("GUICHET_PREVIOUS_SECRETS") {
            self.previous_secrets = previous
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        let oidc = &mut self.oidc;
        oidc.issuer = var("GUICHET_OIDC_ISSUER").or(oidc.issuer.take());
        oidc.client_id = var("GUICHET_OIDC_CLIENT_ID").or(oidc.client_id.take());
        oidc.client_secret = var("GUICHET_OIDC_CLIENT_SECRET").or(oidc.client_secret.take());
        oidc.redirect_url = var("GUICHET_OIDC_REDIRECT_URL").or(oidc.redirect_url.take());
        if let Some(v) = var("GUICHET_OIDC_SCOPES") {
            oidc.scopes = Some(v.split_whitespace().map(str::to_string).collect());
        }
        oidc.acr_values = var("GUICHET_OIDC_ACR_VALUES").or(oidc.acr_values.take());
        oidc.label = var("GUICHET_OIDC_LABEL").or(oidc.label.take());
        Ok(())
    }

    /// The single sign-on settings of the staff interface, when `oidc.issuer` is set; then
    /// the client id, secret and redirect URL are required.
    pub fn oidc_settings(&self) -> anyhow::Result<Option<review::OidcSettings>> {
        let oidc = &self.oidc;
        let Some(issuer) = oidc.issuer.clone().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let required = |value: &Option<String>, name: &str| {
            value
                .clone()
                .filter(|s| !s.is_empty())
                .with_context(|| format!("oidc.{name} is required with oidc.issuer"))
        };
        Ok(Some(review::OidcSettings {
            issuer,
            client_id: required(&oidc.client_id, "client_id (GUICHET_OIDC_CLIENT_ID)")?,
            client_secret: required(
                &oidc.client_secret,
                "client_secret (GUICHET_OIDC_CLIENT_SECRET)",
            )?,
            redirect_url: required(
                &oidc.redirect_url,
                "redirect_url (GUICHET_OIDC_REDIRECT_URL)",
            )?,
            scopes: oidc
                .scopes
                .clone()
                .unwrap_or_else(|| vec!["openid".into(), "email".into()]),
            acr_values: oidc.acr_values.clone().filter(|s| !s.is_empty()),
            label: oidc
                .label
                .clone()
                .unwrap_or_else(|| "Se connecter avec ProConnect / SSO".into()),
        }))
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.http.check()?;
        self.oidc_settings()?;
        let url = self.database_url();
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if !known.iter().any(|scheme| url.starts_with(scheme)) {
            bail!("database.url: expected sqlite://PATH or postgres://..., got {url:?}");
        }
        if self.storage.kind == StorageKind::S3 {
            self.s3_settings()?;
        }
        self.scanner()?;
        self.keyring()?;
        if self
            .secret
            .as_ref()
            .is_some_and(|s| s.len() < MIN_SECRET_BYTES)
        {
            bail!("secret (GUICHET_SECRET): at least {MIN_SECRET_BYTES} bytes");
        }
        if self
            .previous_secrets
            .iter()
            .any(|s| s.len() < MIN_SECRET_BYTES)
        {
            bail!(
                "previous_secrets (GUICHET_PREVIOUS_SECRETS): each at least {MIN_SECRET_BYTES} bytes"
            );
        }
        self.webhooks.validate().map_err(|e| anyhow::anyhow!(e))?;
        self.mailroom.validate().map_err(|e| anyhow::anyhow!(e))?;
        if self.intake.max_body_bytes == 0 {
            bail!("intake.max_body_bytes must be positive");
        }
        Ok(())
    }

    /// The S3 store's settings; the bucket is required.
    pub fn s3_settings(&self) -> anyhow::Result<storage::S3Settings> {
        let s3 = &self.storage.s3;
        let Some(bucket) = s3.bucket.clone().filter(|b| !b.is_empty()) else {
            bail!("storage.s3.bucket (GUICHET_S3_BUCKET) is required with storage.kind = \"s3\"");
        };
        let mut settings = storage::S3Settings::new(bucket);
        settings.endpoint = s3.endpoint.clone();
        settings.region = s3.region.clone();
        settings.path_style = s3.path_style.unwrap_or(false);
        if let Some(prefix) = &s3.prefix {
            settings.prefix = prefix.clone();
        }
        if let Some(threshold) = s3.multipart_threshold {
            settings.multipart_threshold = threshold;
        }
        if let Some(part_size) = s3.part_size {
            settings.part_size = part_size;
        }
        if let Some(concurrency) = s3.concurrency {
            settings.concurrency = concurrency;
        }
        settings.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(settings)
    }

    /// The master keys, when `encryption.keys` is set (and not empty).
    pub fn keyring(&self) -> anyhow::Result<Option<storage::Keyring>> {
        let Some(keys) = self
            .encryption
            .keys
            .as_deref()
            .filter(|k| !k.trim().is_empty())
        else {
            return Ok(None);
        };
        storage::Keyring::parse(keys)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("encryption.keys (GUICHET_ENCRYPTION_KEYS): {e}"))
    }

    /// The clamd client, when `clamav.address` is set.
    pub fn scanner(&self) -> anyhow::Result<Option<validators::clamd::Clamd>> {
        let clamav = &self.clamav;
        let Some(address) = clamav.address.as_deref().filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let address = address
            .parse()
            .map_err(|e| anyhow::anyhow!("clamav.address (GUICHET_CLAMD): {e}"))?;
        if clamav.connect_timeout_secs == 0 || clamav.scan_timeout_secs == 0 {
            bail!("clamav.connect_timeout_secs and clamav.scan_timeout_secs must be positive");
        }
        Ok(Some(validators::clamd::Clamd::new(address).with_timeouts(
            std::time::Duration::from_secs(clamav.connect_timeout_secs),
            std::time::Duration::from_secs(clamav.scan_timeout_secs),
        )))
    }

    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("guichet.db").display()))
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.data_dir.join("staging")
    }

    /// Whether the database is PostgreSQL (else SQLite, under the data directory by default).
    pub fn database_is_postgres(&self) -> bool {
        let url = self.database_url();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// Whether the data is shared by several processes (PostgreSQL or S3), which must then
    /// share a configured secret.
    pub fn shared(&self) -> bool {
        self.database_is_postgres() || self.storage.kind == StorageKind::S3
    }

    /// For `serve`: on shared data, a secret must be configured, since a generated one would
    /// differ from process to process (cover sheets printed by one would fail on another).
    pub fn require_shared_secret(&self) -> anyhow::Result<()> {
        if self.shared() && self.secret.is_none() {
            bail!(
                "no secret configured: on PostgreSQL or S3 every process must share one; set \
                 `secret` in the configuration file or GUICHET_SECRET (at least \
                 {MIN_SECRET_BYTES} random bytes, e.g. `openssl rand -base64 48`)"
            );
        }
        Ok(())
    }

    /// The configured secret, or the one kept under `data_dir`, made on first start; with the
    /// previous ones.
    pub fn secrets(&self) -> anyhow::Result<ingest::Secrets> {
        let current = match &self.secret {
            Some(secret) => secret.clone(),
            None => kept_secret(&self.data_dir.join("secret"))?,
        };
        Ok(ingest::Secrets {
            current: current.into_bytes(),
            previous: self
                .previous_secrets
                .iter()
                .map(|s| s.clone().into_bytes())
                .collect(),
        })
    }
}

/// The secret kept in `path`, made there on first start.
fn kept_secret(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(secret) => {
            let secret = secret.trim().to_string();
            if secret.len() < MIN_SECRET_BYTES {
                bail!(
                    "the secret in {} is {} bytes long, at least {MIN_SECRET_BYTES} are needed \
                     (remove the file to have a new one made, or set GUICHET_SECRET)",
                    path.display(),
                    secret.len()
                );
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_secret(path),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Makes a secret and writes it to `path` atomically: to a temporary file (mode 0600) of the
/// same directory, synced, then renamed over `path` (refused if it exists: two processes
/// starting at once keep the first's) and the directory synced, so a crash leaves either no
/// file or the whole secret.
fn write_secret(path: &Path) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let secret = ingest::new_token();
    let dir = path.parent().unwrap_or(Path::new("."));
    let temporary = dir.join(format!(".secret.{}.tmp", std::process::id()));
    let creating = || format!("creating {}", path.display());
    // Left by a crashed process that had this process id.
    let _ = std::fs::remove_file(&temporary);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(secret.as_bytes())?;
        file.sync_all()
    })();
    // A hard link fails when `path` exists, where a rename would replace it.
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => {}
        // Another process made it first: theirs is the secret.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return kept_secret(path),
        Err(e) => return Err(e).with_context(creating),
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(creating)?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let mut config: Config =
            toml::from_str("listen = \"127.0.0.1:9000\"\n[storage.s3]\nbucket = \"from-file\"\n")
                .expect("valid file");
        config
            .apply_env(|name| match name {
                "GUICHET_LISTEN" => Some("0.0.0.0:8081".into()),
                "GUICHET_S3_REGION" => Some("garage".into()),
                _ => None,
            })
            .expect("valid environment");
        assert_eq!(config.listen.to_string(), "0.0.0.0:8081");
        assert_eq!(config.storage.s3.bucket.as_deref(), Some("from-file"));
        assert_eq!(config.storage.s3.region.as_deref(), Some("garage"));
    }

    #[test]
    fn defaults_are_the_embedded_default() {
        let config = Config::default();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url(), "sqlite://./guichet-data/guichet.db");
        assert!(config.validate().is_ok());
    }

    #[test]
    fn clamav_address_is_checked() {
        let mut config = Config::default();
        config.clamav.address = Some("unix:/run/clamav/clamd.ctl".into());
        assert!(config.validate().is_ok());
        config.clamav.address = Some("tcp://127.0.0.1:3310".into());
        assert!(config.scanner().expect("valid").is_some());
        config.clamav.address = Some("127.0.0.1:3310".into());
        let error = config.validate().expect_err("no scheme").to_string();
        assert!(error.contains("clamav.address"), "{error}");
    }

    #[test]
    fn encryption_keys_come_from_the_file_or_the_environment() {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let mut config: Config =
            toml::from_str(&format!("[encryption]\nkeys = \"file:{key}\"\n")).expect("valid");
        let ring = config.keyring().expect("valid").expect("keys");
        assert_eq!(ring.current(), "file");
        config
            .apply_env(|name| {
                (name == "GUICHET_ENCRYPTION_KEYS").then(|| format!("new:{key},old:{key}"))
            })
            .expect("valid environment");
        let ring = config.keyring().expect("valid").expect("keys");
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["new", "old"]);
        config.encryption.keys = Some("short:AAEC".into());
        let error = config.validate().expect_err("16 bits").to_string();
        assert!(
            error.contains("GUICHET_ENCRYPTION_KEYS") && error.contains("short"),
            "{error}"
        );
    }

    #[test]
    fn the_kept_secret_is_made_once_private_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let made = config.secrets().expect("made").current;
        assert!(made.len() >= MIN_SECRET_BYTES);
        assert_eq!(config.secrets().expect("read").current, made);
        let path = dir.path().join("secret");
        let mode = std::fs::metadata(&path).expect("kept").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(left.len(), 1, "no temporary file is left");
        std::fs::write(&path, "short").expect("write");
        let error = config.secrets().expect_err("too short").to_string();
        assert!(error.contains("at least 32"), "{error}");
    }

    #[test]
    fn shared_data_needs_a_configured_secret_and_previous_ones_are_listed() {
        let mut config = Config::default();
        assert!(config.require_shared_secret().is_ok());
        config.database.url = Some("postgres://db/guichet".into());
        let error = config
            .require_shared_secret()
            .expect_err("shared")
            .to_string();
        assert!(error.contains("GUICHET_SECRET"), "{error}");
        config.database.url = None;
        config.storage.kind = StorageKind::S3;
        assert!(config.require_shared_secret().is_err());
        let (s1, s2) = ("1".repeat(32), "2".repeat(40));
        config
            .apply_env(|name| match name {
                "GUICHET_SECRET" => Some(s2.clone()),
                "GUICHET_PREVIOUS_SECRETS" => Some(format!("{s1}, ")),
                _ => None,
            })
            .expect("valid environment");
        assert!(config.require_shared_secret().is_ok());
        let secrets = config.secrets().expect("configured");
        assert_eq!(secrets.current, s2.as_bytes());
        assert_eq!(secrets.previous, [s1.as_bytes()]);
        config.previous_secrets = vec!["short".into()];
        assert!(config.validate().is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let mut config = Config::default();
        assert!(
            config
                .apply_env(|n| (n == "GUICHET_STORAGE").then(|| "ftp".into()))
                .is_err()
        );
    }
}
