//! Typed configuration (OPERATIONS.md): TOML file, `BEDSIDE_…` environment
//! overrides, command-line flags; validated once at start-up.
//!
//! Invariant: a [`Config`] that [`load`] returned is complete and consistent;
//! the rest of the hub never re-validates it. Every failure names the key.

use bedside_protocol::Role;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A configuration problem: names the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    /// Dotted key path, e.g. `session.idle_timeout_s`, or the file.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on. Default `0.0.0.0:8443`, dev mode `127.0.0.1:8080`.
    pub listen: Option<SocketAddr>,
    /// Embedded store (replay cache, resume tokens, admissions, messages).
    pub data_dir: PathBuf,
    /// Allowed `Origin` values; requests without Origin are allowed. Empty: loopback origins.
    pub allowed_origins: Vec<String>,
    /// Plain HTTP/WS outside dev mode (behind a TLS-terminating proxy, tests).
    pub insecure_http: bool,
    /// TLS certificate and key; required unless dev mode or `insecure_http`.
    pub tls: Option<TlsConfig>,
    /// Token verification.
    pub auth: AuthConfig,
    /// Session timing and limits.
    pub session: SessionConfig,
    /// Abuse limits.
    pub limits: LimitsConfig,
    /// Audit trail.
    pub audit: AuditConfig,
    /// STUN/TURN servers handed to clients.
    pub ice: IceConfig,
    /// Alert delivery.
    pub alerts: AlertsConfig,
    /// Network allow/deny lists.
    pub network: NetworkConfig,
    /// Cluster mode (Redis); absent: single node.
    pub cluster: Option<ClusterConfig>,
    /// Encryption of the embedded store at rest; absent: not encrypted.
    pub at_rest: Option<AtRestConfig>,
    /// Serving the web demo (or a clinic's build of it) at `/`.
    pub web: WebConfig,
    /// How log lines on stderr look.
    pub log_format: LogFormat,
    /// Dev mode: set by `serve --dev` or by `serve` without a config file.
    #[serde(skip)]
    pub dev: bool,
    /// `serve --audit-new-file`: set a damaged audit file aside and start a new one.
    #[serde(skip)]
    pub audit_new_file: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: None,
            data_dir: PathBuf::from("./bedside-data"),
            allowed_origins: Vec::new(),
            insecure_http: false,
            tls: None,
            auth: AuthConfig::default(),
            session: SessionConfig::default(),
            limits: LimitsConfig::default(),
            audit: AuditConfig::default(),
            ice: IceConfig::default(),
            alerts: AlertsConfig::default(),
            network: NetworkConfig::default(),
            cluster: None,
            at_rest: None,
            web: WebConfig::default(),
            log_format: LogFormat::Text,
            dev: false,
            audit_new_file: false,
        }
    }
}

/// `[tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; reloaded on change or SIGHUP.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Public JWK set of the clinic's issuer(s); required outside dev mode.
    /// A file (reloaded when it changes or on SIGHUP) or an `https://` URL
    /// of an identity provider (see [`AuthConfig::jwks_source`]).
    pub jwks: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for the `jwks` URL, beside the
    /// system's (a provider behind the clinic's own CA).
    pub jwks_ca: Option<PathBuf>,
    /// Seconds between fetches of the `jwks` URL when its response has no
    /// `Cache-Control: max-age`.
    pub jwks_refresh_s: u64,
    /// Fewest seconds between two fetches of the `jwks` URL: the floor
    /// under `max-age` and the rate limit of the fetch a token with an
    /// unknown `kid` triggers.
    pub jwks_min_refresh_s: u64,
    /// End the live sessions whose token was signed by a key that left
    /// the set (close 4001), not only refuse new hellos with it.
    pub end_sessions_of_removed_keys: bool,
    /// The `aud` operator API tokens must name (never the join audience).
    pub admin_audience: String,
    /// Issuers whose tokens may open the operator API; empty: `issuers`.
    /// Name only the identity provider that authenticates staff, so the
    /// backend that mints join tokens cannot mint admin ones.
    pub admin_issuers: Vec<String>,
    /// Accepted `iss` values; required outside dev mode.
    pub issuers: Vec<String>,
    /// Required `aud`.
    pub audience: String,
    /// Roles whose tokens must carry an MFA method in `amr`.
    pub require_mfa: Vec<Role>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwks: None,
            jwks_ca: None,
            jwks_refresh_s: 300,
            jwks_min_refresh_s: 30,
            end_sessions_of_removed_keys: false,
            admin_audience: "bedside-admin".to_owned(),
            admin_issuers: Vec::new(),
            issuers: Vec::new(),
            audience: "bedside".to_owned(),
            require_mfa: vec![Role::Provider],
        }
    }
}

/// Where the issuer keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWK set file.
    File(PathBuf),
    /// An identity provider's JWK set URL (`https://`).
    Url(String),
}

impl AuthConfig {
    /// `jwks` read as a URL when it starts with `https://` (or `http://`,
    /// which validation refuses), else as a file.
    pub fn jwks_source(&self) -> Option<JwksSource> {
        let j = self.jwks.as_ref()?;
        Some(match j.to_str() {
            Some(s) if s.starts_with("https://") || s.starts_with("http://") => {
                JwksSource::Url(s.to_owned())
            }
            _ => JwksSource::File(j.clone()),
        })
    }
}

/// `[session]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Seconds a new connection has to send `hello` or `resume`.
    pub hello_timeout_s: u64,
    /// Seconds without a client message before close 4008.
    pub idle_timeout_s: u64,
    /// Largest frame accepted; larger closes with 4009.
    pub max_message_bytes: usize,
    /// Seconds an e2e body is kept at most.
    pub retention_s: u64,
    /// Seconds a SIGTERM waits for sessions to move away before exiting.
    pub drain_timeout_s: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            hello_timeout_s: 5,
            idle_timeout_s: 900,
            max_message_bytes: bedside_protocol::DEFAULT_MAX_MESSAGE_BYTES,
            retention_s: 86_400,
            drain_timeout_s: 10,
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Messages per second per connection (burst 2x).
    pub messages_per_s: u32,
    /// Authentication failures per minute per source IP.
    pub auth_failures_per_min: u32,
    /// Seconds an IP over `auth_failures_per_min` is refused (4029).
    pub auth_cooldown_s: u64,
    /// Open WebSocket connections in total (more: HTTP 503 at the upgrade).
    pub max_connections: usize,
    /// Open WebSocket connections per source IP (more: HTTP 503).
    pub max_connections_per_ip: usize,
    /// Forbidden requests by one participant per minute that raise an ALERT.
    pub permission_violations_per_min: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            messages_per_s: 50,
            auth_failures_per_min: 10,
            auth_cooldown_s: 60,
            max_connections: 50_000,
            max_connections_per_ip: 200,
            permission_violations_per_min: 5,
        }
    }
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The JSON Lines audit file, kept apart from `data_dir`.
    pub path: PathBuf,
    /// Ed25519 private JWK set signing checkpoints (dev mode makes one).
    /// Replaced while the hub runs (a new key with a new `kid`, noticed on
    /// change or SIGHUP), later checkpoints are signed with it.
    pub signing_key: Option<PathBuf>,
    /// Public JWK set of retired signing keys, so the file's older
    /// checkpoints still verify at start after a rotation.
    pub retired_public_keys: Option<PathBuf>,
    /// Records between checkpoints.
    pub checkpoint_every: u64,
    /// `false` turns the trail off. Only for measuring its cost: a hub
    /// without an audit trail does not meet HIPAA's audit controls.
    pub enabled: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("./bedside-audit/audit.jsonl"),
            signing_key: None,
            retired_public_keys: None,
            checkpoint_every: 1000,
            enabled: true,
        }
    }
}

/// `[ice]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IceConfig {
    /// STUN URLs.
    pub stun: Vec<String>,
    /// TURN URLs.
    pub turn: Vec<String>,
    /// coturn `use-auth-secret` shared secret. Never logged.
    pub turn_secret: Option<String>,
    /// Lifetime of TURN credentials.
    pub turn_ttl_s: u64,
}

impl Default for IceConfig {
    fn default() -> Self {
        Self {
            stun: Vec::new(),
            turn: Vec::new(),
            turn_secret: None,
            turn_ttl_s: 3600,
        }
    }
}

impl std::fmt::Debug for IceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceConfig")
            .field("stun", &self.stun)
            .field("turn", &self.turn)
            .field(
                "turn_secret",
                &self.turn_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("turn_ttl_s", &self.turn_ttl_s)
            .finish()
    }
}

/// `[alerts]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// URL receiving a JSON POST per ALERT.
    pub webhook: Option<String>,
}

/// `log_format`: lines for people, or for a log shipper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line per event; colours only when stderr is a terminal (and
    /// `NO_COLOR` is unset).
    Text,
    /// One JSON object per line (`timestamp`, `level`, `message` and the
    /// event's fields at the top level), never colour.
    Json,
}

/// `[web]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Directory served at `/` (with the page's security headers). Unset:
    /// nothing is served outside dev mode; dev mode serves
    /// `$BEDSIDE_WEB_ROOT` or `web-demo/dist`.
    pub root: Option<PathBuf>,
}

impl Config {
    /// The directory served at `/`, if any.
    pub fn web_root(&self) -> Option<PathBuf> {
        self.web.root.clone().or_else(|| {
            self.dev.then(|| {
                std::env::var_os("BEDSIDE_WEB_ROOT")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("web-demo/dist"))
            })
        })
    }
}

/// `[network]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Allowed source networks; empty allows all.
    pub allow_cidrs: Vec<Cidr>,
    /// Refused source networks.
    pub deny_cidrs: Vec<Cidr>,
    /// MaxMind country database.
    pub geoip_db: Option<PathBuf>,
    /// Allowed ISO country codes (with `geoip_db`).
    pub allow_countries: Vec<String>,
}

/// A source network of `[network]`: a CIDR (`10.0.0.0/8`) or one address
/// (`192.0.2.7`), parsed once, when the configuration is read; a value that
/// is neither is a configuration error naming its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(pub ipnet::IpNet);

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map(Cidr)
            .map_err(|_| format!("{s:?} is not a CIDR like 10.0.0.0/8"))
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `[cluster]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Redis URL shared by the nodes (`redis://`, `rediss://` or
    /// `redis+unix://`).
    pub redis_url: String,
    /// This node's id, unique among the running nodes.
    pub node_id: String,
    /// Milliseconds a visit's lease lasts unless renewed (every third of
    /// it). Also how long a dead node's visits wait to be taken over.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
}

/// `[at_rest]`: the embedded store encrypted under a data key wrapped by a
/// root key kept apart from `data_dir`: `root_key_file`, or a key on a
/// PKCS#11 token (`pkcs11_module`, `pkcs11_token`, `pkcs11_pin_file`,
/// `pkcs11_key_label`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtRestConfig {
    /// A root key file (base64 of 32 bytes, mode 600), outside `data_dir`.
    pub root_key_file: Option<PathBuf>,
    /// The PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub pkcs11_module: Option<PathBuf>,
    /// The token's label.
    pub pkcs11_token: Option<String>,
    /// A file holding the token user's PIN, outside `data_dir`.
    pub pkcs11_pin_file: Option<PathBuf>,
    /// The label of the root key on the token.
    pub pkcs11_key_label: Option<String>,
}

fn default_lease_ms() -> u64 {
    5000
}

/// Flags from the command line that override the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config FILE`
    pub config_file: Option<PathBuf>,
    /// `--listen ADDR`
    pub listen: Option<SocketAddr>,
    /// `--dev`
    pub dev: bool,
    /// `--audit-new-file`
    pub audit_new_file: bool,
}

/// Default listen address outside dev mode.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";
/// Default listen address in dev mode.
pub const DEFAULT_DEV_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    /// The address to bind.
    pub fn listen_addr(&self) -> SocketAddr {
        let default = if self.dev {
            SocketAddr::from(([127, 0, 0, 1], 8080))
        } else {
            SocketAddr::from(([0, 0, 0, 0], 8443))
        };
        self.listen.unwrap_or(default)
    }
}

/// Loads the configuration: the file (if any), then `BEDSIDE_…` variables from
/// `env`, then the flags; then validates it.
pub fn load(
    flags: &Overrides,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut table = match &flags.config_file {
        Some(path) => read_table(path)?,
        None => toml::Table::new(),
    };
    apply_env(&mut table, env)?;
    let mut config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." || path.is_empty() {
                "config".to_owned()
            } else {
                path
            };
            let problem = e.into_inner().to_string();
            let problem = problem.lines().next().unwrap_or_default().trim().to_owned();
            ConfigError::new(key, problem)
        })?;
    config.dev = flags.dev || flags.config_file.is_none();
    config.audit_new_file = flags.audit_new_file;
    if let Some(listen) = flags.listen {
        config.listen = Some(listen);
    }
    validate(&config)?;
    Ok(config)
}

fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path.display().to_string(), format!("cannot read: {e}")))?;
    text.parse::<toml::Table>().map_err(|e| {
        let msg = e
            .message()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        ConfigError::new(
            path.display().to_string(),
            format!("invalid TOML{at}: {msg}"),
        )
    })
}

/// Applies `BEDSIDE_SECTION__KEY=value` overrides. The value is read as a TOML
/// value when it parses as one (numbers, booleans, arrays), else as a string.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, raw) in env {
        let Some(path) = name.strip_prefix("BEDSIDE_") else {
            continue;
        };
        let parts: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(ConfigError::new(name, "malformed variable name"));
        }
        let value = parse_env_value(&raw);
        let mut cursor = &mut *table;
        let (last, sections) = match parts.split_last() {
            Some(x) => x,
            None => continue,
        };
        for section in sections {
            let entry = cursor
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cursor = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::new(
                        name.clone(),
                        format!("{section} is not a section"),
                    ));
                }
            };
        }
        cursor.insert(last.clone(), value);
    }
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn validate(c: &Config) -> Result<(), ConfigError> {
    if c.dev {
        let ip = c.listen_addr().ip();
        if !ip.is_loopback() {
            return Err(ConfigError::new(
                "listen",
                format!("dev mode listens on loopback only, not {ip}"),
            ));
        }
    } else {
        if c.auth.jwks.is_none() {
            return Err(ConfigError::new("auth.jwks", "required outside dev mode"));
        }
        if c.auth.issuers.is_empty() {
            return Err(ConfigError::new(
                "auth.issuers",
                "required outside dev mode",
            ));
        }
        if c.audit.enabled && c.audit.signing_key.is_none() {
            return Err(ConfigError::new(
                "audit.signing_key",
                "required outside dev mode (bedside keygen makes one)",
            ));
        }
        if c.tls.is_none() && !c.insecure_http {
            return Err(ConfigError::new(
                "tls",
                "required unless dev mode or insecure_http = true",
            ));
        }
    }
    if c.auth.audience.is_empty() {
        return Err(ConfigError::new("auth.audience", "must not be empty"));
    }
    if let Some(root) = &c.web.root
        && !root.is_dir()
    {
        return Err(ConfigError::new(
            "web.root",
            format!("{} is not a directory", root.display()),
        ));
    }
    let s = &c.session;
    if !(1..=3600).contains(&s.drain_timeout_s) {
        return Err(ConfigError::new(
            "session.drain_timeout_s",
            "must be between 1 and 3600",
        ));
    }
    if !(1..=300).contains(&s.hello_timeout_s) {
        return Err(ConfigError::new(
            "session.hello_timeout_s",
            "must be 1..=300",
        ));
    }
    if s.idle_timeout_s == 0 {
        return Err(ConfigError::new(
            "session.idle_timeout_s",
            "must be at least 1",
        ));
    }
    if !(1024..=16 * 1024 * 1024).contains(&s.max_message_bytes) {
        return Err(ConfigError::new(
            "session.max_message_bytes",
            "must be between 1024 and 16777216",
        ));
    }
    if s.retention_s == 0 {
        return Err(ConfigError::new(
            "session.retention_s",
            "must be at least 1",
        ));
    }
    if c.limits.messages_per_s == 0 {
        return Err(ConfigError::new(
            "limits.messages_per_s",
            "must be at least 1",
        ));
    }
    if c.limits.auth_failures_per_min == 0 {
        return Err(ConfigError::new(
            "limits.auth_failures_per_min",
            "must be at least 1",
        ));
    }
    if let Some(JwksSource::Url(u)) = c.auth.jwks_source()
        && u.starts_with("http://")
    {
        return Err(ConfigError::new(
            "auth.jwks",
            "must be https:// (keys fetched in the clear could be replaced on the way)",
        ));
    }
    if c.auth.admin_audience.is_empty() || c.auth.admin_audience == c.auth.audience {
        return Err(ConfigError::new(
            "auth.admin_audience",
            "must be set and differ from auth.audience (a join token must never open the operator API)",
        ));
    }
    if c.auth.jwks_min_refresh_s == 0 || c.auth.jwks_min_refresh_s > 86_400 {
        return Err(ConfigError::new(
            "auth.jwks_min_refresh_s",
            "must be between 1 and 86400",
        ));
    }
    if c.auth.jwks_refresh_s < c.auth.jwks_min_refresh_s || c.auth.jwks_refresh_s > 86_400 {
        return Err(ConfigError::new(
            "auth.jwks_refresh_s",
            "must be between auth.jwks_min_refresh_s and 86400",
        ));
    }
    for (key, v) in [
        ("limits.max_connections", c.limits.max_connections),
        (
            "limits.max_connections_per_ip",
            c.limits.max_connections_per_ip,
        ),
        ("limits.auth_cooldown_s", c.limits.auth_cooldown_s as usize),
        (
            "limits.permission_violations_per_min",
            c.limits.permission_violations_per_min as usize,
        ),
    ] {
        if v == 0 {
            return Err(ConfigError::new(key, "must be at least 1"));
        }
    }
    if c.network.geoip_db.is_some() == c.network.allow_countries.is_empty() {
        return Err(ConfigError::new(
            "network.allow_countries",
            "network.geoip_db and network.allow_countries go together",
        ));
    }
    for (i, cc) in c.network.allow_countries.iter().enumerate() {
        if cc.len() != 2 || !cc.chars().all(|ch| ch.is_ascii_alphabetic()) {
            return Err(ConfigError::new(
                format!("network.allow_countries[{i}]"),
                format!("{cc:?} is not an ISO 3166-1 alpha-2 code like \"US\""),
            ));
        }
    }
    if let Some(url) = &c.alerts.webhook
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(ConfigError::new(
            "alerts.webhook",
            "must be an http:// or https:// URL",
        ));
    }
    if let Some(a) = &c.at_rest {
        validate_at_rest(a, c)?;
    }
    if c.audit.checkpoint_every == 0 {
        return Err(ConfigError::new(
            "audit.checkpoint_every",
            "must be at least 1",
        ));
    }
    for (i, o) in c.allowed_origins.iter().enumerate() {
        if !(o.starts_with("https://") || o.starts_with("http://")) || o.ends_with('/') {
            return Err(ConfigError::new(
                format!("allowed_origins[{i}]"),
                format!("{o:?} is not an origin like https://clinic.example"),
            ));
        }
    }
    if !c.ice.turn.is_empty() && c.ice.turn_secret.as_deref().is_none_or(str::is_empty) {
        return Err(ConfigError::new(
            "ice.turn_secret",
            "required when ice.turn is set",
        ));
    }
    for (key, urls, schemes) in [
        ("ice.stun", &c.ice.stun, &["stun:", "stuns:"][..]),
        ("ice.turn", &c.ice.turn, &["turn:", "turns:"][..]),
    ] {
        for u in urls {
            if !schemes.iter().any(|s| u.starts_with(s)) {
                return Err(ConfigError::new(
                    key,
                    format!("{u:?} must start with {}", schemes[0]),
                ));
            }
        }
    }
    if c.ice.turn_ttl_s == 0 {
        return Err(ConfigError::new("ice.turn_ttl_s", "must be at least 1"));
    }
    if let Some(cluster) = &c.cluster {
        let schemes = ["redis://", "rediss://", "redis+unix://"];
        if !schemes.iter().any(|p| cluster.redis_url.starts_with(p)) {
            return Err(ConfigError::new(
                "cluster.redis_url",
                "must be a redis://, rediss:// or redis+unix:// URL",
            ));
        }
        if !(500..=60_000).contains(&cluster.lease_ms) {
            return Err(ConfigError::new(
                "cluster.lease_ms",
                "must be between 500 and 60000",
            ));
        }
        if bedside_protocol::is_valid_id(&cluster.node_id).is_err() {
            return Err(ConfigError::new("cluster.node_id", "must be an identifier"));
        }
    }
    Ok(())
}

fn validate_at_rest(a: &AtRestConfig, c: &Config) -> Result<(), ConfigError> {
    if c.cluster.is_some() {
        return Err(ConfigError::new(
            "at_rest",
            "encrypts the embedded store; a cluster keeps its data in Redis (encrypt Redis's disk)",
        ));
    }
    let token = [
        a.pkcs11_module.is_some(),
        a.pkcs11_token.is_some(),
        a.pkcs11_pin_file.is_some(),
        a.pkcs11_key_label.is_some(),
    ];
    match (a.root_key_file.is_some(), token) {
        (true, [false, false, false, false]) => {}
        (false, [true, true, true, true]) => {}
        (true, _) => {
            return Err(ConfigError::new(
                "at_rest.root_key_file",
                "either a root key file or a PKCS#11 key (pkcs11_*), not both",
            ));
        }
        (false, [false, false, false, false]) => {
            return Err(ConfigError::new(
                "at_rest",
                "needs root_key_file, or pkcs11_module, pkcs11_token, pkcs11_pin_file and pkcs11_key_label",
            ));
        }
        (false, _) => {
            return Err(ConfigError::new(
                "at_rest.pkcs11_module",
                "a PKCS#11 root key needs pkcs11_module, pkcs11_token, pkcs11_pin_file and pkcs11_key_label",
            ));
        }
    }
    for (key, path) in [
        ("at_rest.root_key_file", &a.root_key_file),
        ("at_rest.pkcs11_pin_file", &a.pkcs11_pin_file),
        ("at_rest.pkcs11_module", &a.pkcs11_module),
    ] {
        if let Some(p) = path
            && inside(p, &c.data_dir)
        {
            return Err(ConfigError::new(
                key,
                "must not be inside data_dir (a copy of data_dir would carry the key that opens it)",
            ));
        }
    }
    Ok(())
}

/// Whether `path` lies inside `dir` (both resolved as far as they exist).
pub fn inside(path: &Path, dir: &Path) -> bool {
    fn resolve(p: &Path) -> PathBuf {
        let abs = if p.is_absolute() {
            p.to_owned()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        match (abs.parent(), abs.file_name()) {
            _ if abs.exists() => abs.canonicalize().unwrap_or(abs),
            (Some(parent), Some(name)) => resolve(parent).join(name),
            _ => abs,
        }
    }
    resolve(path).starts_with(resolve(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn flags(f: &tempfile::NamedTempFile) -> Overrides {
        Overrides {
            config_file: Some(f.path().to_owned()),
            ..Default::default()
        }
    }

    const MIN: &str = "insecure_http = true\n[auth]\njwks = \"k.json\"\nissuers = [\"clinic\"]\n[audit]\nsigning_key = \"a.json\"\n";

    #[test]
    fn no_file_is_dev_mode_on_loopback() {
        let c = load(&Overrides::default(), vec![]).unwrap();
        assert!(c.dev);
        assert_eq!(c.listen_addr().to_string(), DEFAULT_DEV_LISTEN);
    }

    #[test]
    fn env_overrides_nested_keys_with_types() {
        let f = file(MIN);
        let env = vec![
            (
                "BEDSIDE_SESSION__IDLE_TIMEOUT_S".to_owned(),
                "60".to_owned(),
            ),
            ("BEDSIDE_LISTEN".to_owned(), "127.0.0.1:9000".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let c = load(&flags(&f), env).unwrap();
        assert_eq!(c.session.idle_timeout_s, 60);
        assert_eq!(c.listen_addr().to_string(), "127.0.0.1:9000");
        assert!(!c.dev);
    }

    #[test]
    fn errors_name_the_key() {
        let f = file(MIN);
        let e = load(
            &flags(&f),
            vec![("BEDSIDE_SESSION__IDLE_TIMEOUT_S".into(), "soon".into())],
        )
        .unwrap_err();
        assert_eq!(e.key, "session.idle_timeout_s");

        let f = file("insecure_http = true\n[auth]\nissuers = [\"x\"]\n");
        assert_eq!(load(&flags(&f), vec![]).unwrap_err().key, "auth.jwks");

        let f = file("insecure_http = true\n[auth]\njwks = \"k\"\nissuers = [\"x\"]\n");
        assert_eq!(
            load(&flags(&f), vec![]).unwrap_err().key,
            "audit.signing_key"
        );

        let f = file("[auth]\njwks = \"k\"\nissuers = [\"x\"]\n[audit]\nsigning_key = \"a\"\n");
        assert_eq!(load(&flags(&f), vec![]).unwrap_err().key, "tls");

        let f = file(&format!(
            "{MIN}[network]\nallow_cidrs = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n"
        ));
        let e = load(&flags(&f), vec![]).unwrap_err();
        assert_eq!(e.key, "network.allow_cidrs[1]");
        assert!(e.problem.contains("is not a CIDR"), "{e}");

        let f = file(&format!("{MIN}[sesion]\nidle_timeout_s = 3\n"));
        let e = load(&flags(&f), vec![]).unwrap_err();
        assert!(e.problem.contains("sesion"), "{e}");

        let f = file("listen = [\n");
        let e = load(&flags(&f), vec![]).unwrap_err();
        assert!(e.problem.contains("invalid TOML"), "{e}");
    }

    #[test]
    fn dev_mode_refuses_public_listen() {
        let e = load(
            &Overrides {
                dev: true,
                listen: Some("0.0.0.0:1".parse().unwrap()),
                ..Default::default()
            },
            vec![],
        )
        .unwrap_err();
        assert_eq!(e.key, "listen");
    }

    #[test]
    fn turn_needs_secret_and_secret_is_redacted() {
        let f = file(&format!("{MIN}[ice]\nturn = [\"turn:t:3478\"]\n"));
        assert_eq!(load(&flags(&f), vec![]).unwrap_err().key, "ice.turn_secret");
        let f = file(&format!(
            "{MIN}[ice]\nturn = [\"turn:t:3478\"]\nturn_secret = \"hunter2\"\n"
        ));
        let c = load(&flags(&f), vec![]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
