//! One typed configuration, read from the environment (and an optional `.env`)
//! and validated at start-up, so that a bad value stops the program before it
//! serves anything, with a message that names the variable.

mod cidr;

pub use cidr::{Cidr, canonical};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration error in {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }
}

/// Where originals and thumbnails are stored.
#[derive(Clone, Debug)]
pub enum StorageConfig {
    /// Local files under a directory, served by the app at `/files/...`.
    Fs { dir: PathBuf },
    /// An S3-compatible object store (AWS, MinIO, Garage, ...).
    S3(S3Config),
}

#[derive(Clone)]
pub struct S3Config {
    pub endpoint: String,
    pub public_endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("public_endpoint", &self.public_endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &"<redacted>")
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub db_pool_size: usize,
    pub bind: SocketAddr,
    /// The address clients use to reach this server (links, `/files` URLs).
    pub public_url: String,
    pub jwt_secret: Secret,
    /// True when no `JWT_SECRET` was given and a random one was made for this
    /// process only.
    pub jwt_secret_is_ephemeral: bool,
    pub token_ttl: Duration,
    pub storage: StorageConfig,
    pub workers: usize,
    /// Workers of a `serve` that only take the jobs its own uploads hand
    /// over (no claims from the table), so that one upload's I/O overlaps
    /// another's decode.
    pub handoff_workers: usize,
    pub max_upload_bytes: u64,
    /// Largest file a direct upload (`createUploadUrl`) may announce. At
    /// most `i32::MAX`, the largest GraphQL `Int`.
    pub max_direct_upload_bytes: u64,
    pub max_files_per_request: usize,
    /// Largest JSON body, multipart `operations` or `map` field, and
    /// WebSocket message: bounded before anything is parsed.
    pub max_json_bytes: usize,
    pub max_image_pixels: u64,
    /// Largest pixel buffer one image may need while it is decoded.
    pub max_decode_bytes: u64,
    /// Most frames an animation (GIF, WebP, APNG) may have, counted from
    /// its structure before decoding; thumbnails show the first.
    pub max_frames: u32,
    /// Pixel buffers all jobs of this process may hold at once; jobs wait
    /// for their share.
    pub decode_memory_budget: u64,
    pub jpeg_quality: u8,
    /// Lifetime of the presigned URLs that queries hand out.
    pub url_ttl: Duration,
    /// How long a worker holds a job before another may take it over.
    pub job_lease: Duration,
    /// How long an upload waits for a worker of its own process to become
    /// idle before its job is queued (0: never waits).
    pub handoff_wait: Duration,
    /// How often expired images and old links are swept.
    pub sweep_interval: Duration,
    pub introspection: bool,
    /// Failed logins per username, and login attempts per client address,
    /// allowed per `login_window`.
    pub login_failures_per_user: u32,
    pub login_attempts_per_ip: u32,
    pub login_window: Duration,
    /// The first delay after a username's free attempts are used up; each
    /// further failure doubles it, up to `login_window`.
    pub login_base_delay: Duration,
    /// Peers whose `X-Forwarded-For` is believed (reverse proxies, load
    /// balancers); empty: the client is the TCP peer.
    pub trusted_proxies: Vec<Cidr>,
    /// Origins allowed by CORS; empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    pub log_format: LogFormat,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    /// When set, `/metrics` is served only on this address, not on `BIND`.
    pub metrics_bind: Option<SocketAddr>,
    /// How long a `/readyz` answer is reused.
    pub ready_cache: Duration,
}

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@localhost:5432/image_vault";

impl Config {
    /// Reads the process environment (after loading `.env` if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is an error worth stopping for.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::new(".env", e.to_string())),
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable lookup (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env { lookup: &lookup };
        let bind: SocketAddr = env.parse("BIND", "127.0.0.1:8080".parse().ok())?;
        let public_url = match env.get("PUBLIC_URL") {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::new(
                        "PUBLIC_URL",
                        "must start with http:// or https://",
                    ));
                }
                url.trim_end_matches('/').to_owned()
            }
            None => format!("http://{bind}"),
        };
        let (jwt_secret, jwt_secret_is_ephemeral) = match env.get("JWT_SECRET") {
            Some(s) if s.len() < 32 => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "must be at least 32 characters long",
                ));
            }
            Some(s) => (Secret(s.into_bytes()), false),
            None => {
                let bytes: [u8; 32] = rand::random();
                (Secret(bytes.to_vec()), true)
            }
        };
        let storage = match env.get("STORAGE").as_deref() {
            None | Some("fs") => StorageConfig::Fs {
                dir: PathBuf::from(env.get("STORAGE_DIR").unwrap_or_else(|| "./data".into())),
            },
            Some("s3") => {
                let endpoint = env.require("S3_ENDPOINT")?;
                let public_endpoint = env.get("S3_PUBLIC_ENDPOINT").unwrap_or(endpoint.clone());
                for (var, url) in [
                    ("S3_ENDPOINT", &endpoint),
                    ("S3_PUBLIC_ENDPOINT", &public_endpoint),
                ] {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(ConfigError::new(var, "must start with http:// or https://"));
                    }
                }
                StorageConfig::S3(S3Config {
                    endpoint,
                    public_endpoint,
                    region: env.get("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                    bucket: env.require("S3_BUCKET")?,
                    access_key_id: env.require("S3_ACCESS_KEY_ID")?,
                    secret_access_key: env.require("S3_SECRET_ACCESS_KEY")?,
                })
            }
            Some(other) => {
                return Err(ConfigError::new(
                    "STORAGE",
                    format!("unknown backend {other:?}; expected \"fs\" or \"s3\""),
                ));
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let config = Config {
            database_url: env
                .get("DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            db_pool_size: env.parse_range("DB_POOL_SIZE", 16, 1..=1000)?,
            bind,
            public_url,
            jwt_secret,
            jwt_secret_is_ephemeral,
            token_ttl: Duration::from_secs(env.parse_range(
                "TOKEN_TTL_SECONDS",
                86_400,
                60..=30 * 86_400,
            )?),
            storage,
            workers: env.parse_range("WORKERS", cores, 0..=256)?,
            handoff_workers: env.parse_range("HANDOFF_WORKERS", cores, 0..=256)?,
            max_upload_bytes: env.parse_range("MAX_UPLOAD_BYTES", 50 << 20, 1..=(1 << 40))?,
            max_direct_upload_bytes: env.parse_range(
                "MAX_DIRECT_UPLOAD_BYTES",
                512 << 20,
                1..=u64::from(i32::MAX.unsigned_abs()),
            )?,
            max_files_per_request: env.parse_range("MAX_FILES_PER_REQUEST", 20, 1..=1000)?,
            max_json_bytes: env.parse_range("MAX_JSON_BYTES", 256 << 10, 1024..=16 << 20)?,
            max_image_pixels: env.parse_range("MAX_IMAGE_PIXELS", 50_000_000, 1..=1 << 32)?,
            max_decode_bytes: env.parse_range("MAX_DECODE_BYTES", 512 << 20, 1 << 20..=1 << 40)?,
            max_frames: env.parse_range("MAX_FRAMES", 1000, 1..=1_000_000)?,
            decode_memory_budget: env.parse_range(
                "DECODE_MEMORY_BUDGET",
                1 << 30,
                1 << 20..=1 << 42,
            )?,
            jpeg_quality: env.parse_range("JPEG_QUALITY", 85, 1..=100)?,
            url_ttl: Duration::from_secs(env.parse_range("URL_TTL_SECONDS", 3600, 60..=604_800)?),
            job_lease: Duration::from_secs(env.parse_range("JOB_LEASE_SECONDS", 60, 1..=86_400)?),
            handoff_wait: Duration::from_millis(env.parse_range(
                "HANDOFF_WAIT_MS",
                200,
                0..=10_000,
            )?),
            sweep_interval: Duration::from_secs(env.parse_range(
                "SWEEP_INTERVAL_SECONDS",
                60,
                1..=86_400,
            )?),
            introspection: env.parse("INTROSPECTION", Some(true))?,
            login_failures_per_user: env.parse_range(
                "LOGIN_FAILURES_PER_USER",
                10,
                1..=1_000_000,
            )?,
            login_attempts_per_ip: env.parse_range("LOGIN_ATTEMPTS_PER_IP", 100, 1..=1_000_000)?,
            login_window: Duration::from_secs(env.parse_range(
                "LOGIN_WINDOW_SECONDS",
                900,
                1..=86_400,
            )?),
            login_base_delay: Duration::from_secs(env.parse_range(
                "LOGIN_BASE_DELAY_SECONDS",
                30,
                1..=86_400,
            )?),
            trusted_proxies: trusted_proxies(env.get("TRUSTED_PROXIES"))?,
            cors_origins: cors_origins(env.get("CORS_ALLOWED_ORIGINS"))?,
            log_format: match env.get("LOG_FORMAT").as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(ConfigError::new(
                        "LOG_FORMAT",
                        format!("unknown format {other:?}; expected \"text\" or \"json\""),
                    ));
                }
            },
            metrics_token: match env.get("METRICS_TOKEN") {
                Some(t) if t.len() < 16 => {
                    return Err(ConfigError::new(
                        "METRICS_TOKEN",
                        "must be at least 16 characters long",
                    ));
                }
                Some(t) => Some(Secret(t.into_bytes())),
                None => None,
            },
            metrics_bind: match env.get("METRICS_BIND") {
                Some(_) => Some(env.parse("METRICS_BIND", None)?),
                None => None,
            },
            ready_cache: Duration::from_millis(env.parse_range(
                "READY_CACHE_MS",
                2000,
                0..=60_000,
            )?),
        };
        if config.max_decode_bytes > config.decode_memory_budget {
            return Err(ConfigError::new(
                "MAX_DECODE_BYTES",
                "must not be larger than DECODE_MEMORY_BUDGET",
            ));
        }
        if !config.database_url.starts_with("postgres://")
            && !config.database_url.starts_with("postgresql://")
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must be a postgres:// or postgresql:// URL",
            ));
        }
        Ok(config)
    }

    /// A configuration for tests and tools: every default, the given overrides.
    pub fn from_map(vars: &HashMap<&str, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|k| vars.get(k).cloned())
    }
}

fn trusted_proxies(raw: Option<String>) -> Result<Vec<Cidr>, ConfigError> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse()
                .map_err(|e| ConfigError::new("TRUSTED_PROXIES", e))
        })
        .collect()
}

fn cors_origins(raw: Option<String>) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            let valid = o.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains(['/', ' '])
            });
            if valid {
                Ok(o.to_owned())
            } else {
                Err(ConfigError::new(
                    "CORS_ALLOWED_ORIGINS",
                    format!("{o:?} is not an origin like https://app.example.com"),
                ))
            }
        })
        .collect()
}

struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    /// The variable's value; unset and empty are the same.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn require(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name)
            .ok_or_else(|| ConfigError::new(name, "is required but not set"))
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: Option<T>,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| ConfigError::new(name, format!("cannot parse {raw:?}: {e}"))),
            None => default.ok_or_else(|| ConfigError::new(name, "is required but not set")),
        }
    }

    fn parse_range<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
        T::Err: std::fmt::Display,
    {
        let value = self.parse(name, Some(default))?;
        if !range.contains(&value) {
            return Err(ConfigError::new(
                name,
                format!(
                    "{value} is out of range {}..={}",
                    range.start(),
                    range.end()
                ),
            ));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Config::from_map(&map)
    }

    #[test]
    fn defaults_are_valid_and_use_fs_storage() {
        let c = config(&[]).expect("defaults");
        assert!(matches!(c.storage, StorageConfig::Fs { .. }));
        assert!(c.jwt_secret_is_ephemeral);
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.jpeg_quality, 85);
        assert_eq!(c.max_direct_upload_bytes, 512 << 20);
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (var, value) in [
            ("BIND", "not-an-address"),
            ("WORKERS", "many"),
            ("WORKERS", "-1"),
            ("MAX_UPLOAD_BYTES", "0"),
            ("MAX_DIRECT_UPLOAD_BYTES", "1GiB"),
            ("MAX_DIRECT_UPLOAD_BYTES", "4294967296"),
            ("STORAGE", "ftp"),
            ("JWT_SECRET", "short"),
            ("DATABASE_URL", "mysql://x"),
            ("JPEG_QUALITY", "101"),
            ("LOG_FORMAT", "xml"),
            ("INTROSPECTION", "maybe"),
            ("PUBLIC_URL", "example.com"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://ok.example, evil.example/path",
            ),
            ("LOGIN_FAILURES_PER_USER", "0"),
            ("MAX_JSON_BYTES", "10"),
            ("METRICS_TOKEN", "short"),
            ("METRICS_BIND", "nowhere"),
            ("MAX_DECODE_BYTES", "1099511627776"),
            ("MAX_FRAMES", "0"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.example"),
            ("TRUSTED_PROXIES", "10.0.0.0/40"),
            ("LOGIN_BASE_DELAY_SECONDS", "0"),
        ] {
            let err = config(&[(var, value)]).expect_err(var);
            assert_eq!(err.var, var, "{err}");
            assert!(err.to_string().contains(var));
        }
    }

    #[test]
    fn s3_requires_its_variables() {
        let err = config(&[("STORAGE", "s3")]).expect_err("missing endpoint");
        assert_eq!(err.var, "S3_ENDPOINT");
        let err = config(&[("STORAGE", "s3"), ("S3_ENDPOINT", "http://minio:9000")])
            .expect_err("missing bucket");
        assert_eq!(err.var, "S3_BUCKET");
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let c = config(&[
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef-secret"),
            ("STORAGE", "s3"),
            ("S3_ENDPOINT", "http://minio:9000"),
            ("S3_BUCKET", "b"),
            ("S3_ACCESS_KEY_ID", "AKIDSECRETVALUE"),
            ("S3_SECRET_ACCESS_KEY", "very-secret-key"),
        ])
        .expect("valid");
        let printed = format!("{c:?}");
        assert!(!printed.contains("secret-key"));
        assert!(!printed.contains("AKIDSECRETVALUE"));
        assert!(!printed.contains("abcdef-secret"));
    }
}
