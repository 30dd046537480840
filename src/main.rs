//! The `postdate` binary: parses the command line and runs the app until SIGTERM or ctrl-c.

use clap::{Parser, Subcommand};
use postdate::app::App;
use postdate::config::{Config, EngineArgs, LogFormat, DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_TOKEN};
use postdate::store::Store;
use postdate::telemetry;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "postdate",
    version,
    about = "Self-hosted, QStash-compatible delayed and scheduled HTTP delivery"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as human-readable text or as one JSON object per line (for log collectors).
    #[arg(long, global = true, env = "POSTDATE_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Export traces to this OpenTelemetry collector over OTLP/HTTP (e.g. http://127.0.0.1:4318); needs a
    /// build with `--features otlp`.
    #[arg(long, global = true, env = "POSTDATE_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Local development: an embedded SQLite file, the public Upstash dev credentials, 127.0.0.1:8080.
    Dev {
        /// Address to listen on.
        #[arg(long, env = "POSTDATE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Database URL; a SQLite file under the working directory by default.
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://.postdate/dev.db")]
        database_url: String,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Production: Postgres (or a SQLite file); QSTASH_TOKEN is required.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "POSTDATE_LISTEN", default_value = "0.0.0.0:8080")]
        listen: String,
        /// Database URL: postgres://… or sqlite://…
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Applies database migrations and exits (dev and serve also migrate on start).
    Migrate {
        /// Database URL: postgres://… or sqlite://…
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// Asks a running Postdate whether it is ready (`GET /readyz`); exits 0 when it is, 1 when it is not or
    /// does not answer. For container HEALTHCHECKs, e.g. `postdate healthcheck`.
    Healthcheck {
        /// The readiness URL; by default the one of the listen address in POSTDATE_LISTEN (or port 8080).
        #[arg(long)]
        url: Option<String>,
        /// The listen address the default URL is derived from.
        #[arg(long, env = "POSTDATE_LISTEN", default_value = "127.0.0.1:8080", hide = true)]
        listen: String,
    },
    /// The command-line client (publish, messages, dlq, schedules, logs, groups, queues, keys).
    #[command(flatten)]
    Client(postdate::cli::ClientCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let telemetry = match telemetry::init(cli.log_format, cli.otlp_endpoint.as_deref()) {
        Ok(telemetry) => telemetry,
        Err(message) => {
            eprintln!("postdate: {message}");
            return std::process::ExitCode::FAILURE;
        }
    };
    raise_open_file_limit();
    let code = match cli.command {
        Command::Healthcheck { url, listen } => healthcheck(url.unwrap_or_else(|| readiness_url(&listen))).await,
        Command::Client(command) => postdate::cli::run(command).await,
        command => match run(command).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("postdate: {message}");
                std::process::ExitCode::FAILURE
            }
        },
    };
    // The last spans are sent off the async runtime: the exporter blocks.
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await.ok();
    code
}

/// `/readyz` on the loopback side of a listen address (a wildcard address is reached on 127.0.0.1).
fn readiness_url(listen: &str) -> String {
    let port = listen.rsplit(':').next().unwrap_or("8080");
    let host = match listen.rsplit_once(':').map(|(host, _)| host) {
        None | Some("" | "0.0.0.0" | "[::]") => "127.0.0.1",
        Some(host) => host,
    };
    format!("http://{host}:{port}/readyz")
}

/// Exit 0 when `url` answers 200 within 3 s, 1 otherwise (with the reason on stderr).
async fn healthcheck(url: String) -> std::process::ExitCode {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .no_proxy()
        .build()
        .expect("the HTTP client configuration is valid");
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => std::process::ExitCode::SUCCESS,
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            eprintln!("postdate: {url} is not ready ({status}): {body}");
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("postdate: {url} did not answer: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    let (config, dev) = match command {
        Command::Healthcheck { .. } | Command::Client(_) => {
            unreachable!("main answers healthchecks and client commands before starting anything")
        }
        Command::Migrate { database_url } => {
            let store = Store::connect(&database_url, 2).await.map_err(|e| e.to_string())?;
            store.migrate().await.map_err(|e| e.to_string())?;
            println!("migrations applied to the {} database", store.backend_name());
            return Ok(());
        }
        Command::Dev {
            listen,
            database_url,
            engine,
        } => (Config::from_args(listen, database_url, engine, true), true),
        Command::Serve {
            listen,
            database_url,
            engine,
        } => (Config::from_args(listen, database_url, engine, false), false),
    };
    let config = config.map_err(|e| e.to_string())?;
    let token = config.token.clone();
    let database = redact_password(&config.database_url);
    let app = App::build(config).await.map_err(|e| e.to_string())?;
    let on_signal = shutdown_on_signal(app.shutdown_token());
    let url = public_url(app.local_addr());
    tracing::info!(%url, %database, "postdate is listening");
    if dev && !app.local_addr().ip().is_loopback() {
        tracing::warn!(
            listen = %app.local_addr(),
            "WARNING: the dev server listens on a non-loopback address: anyone who can reach it can use its \
             token and signing keys, which are public unless you set your own. Use `postdate serve` to expose it."
        );
    }
    if dev {
        let keys = app.signing_keys();
        // Dev mode prints ready-to-paste settings (these are the public dev credentials unless overridden).
        println!(
            "\nPostdate dev server on {url} (database {database}), web console at {url}/console/. Paste into your \
             app's .env:\n"
        );
        println!("QSTASH_URL={url}");
        if token == DEV_TOKEN {
            println!("QSTASH_TOKEN={token}");
        } else {
            // A token of the user's own is a secret: the banner may end up in shared logs.
            println!("QSTASH_TOKEN={}  # the token you set, masked", mask(&token));
        }
        // Keys of the user's own are secrets too; the public dev keys are shown whole, ready to paste.
        let shown = |key: &str, dev_key: &str| match key == dev_key {
            true => key.to_string(),
            false => format!("{}  # the key you set, masked", mask(key)),
        };
        println!(
            "QSTASH_CURRENT_SIGNING_KEY={}",
            shown(&keys.current, DEV_CURRENT_SIGNING_KEY)
        );
        println!("QSTASH_NEXT_SIGNING_KEY={}\n", shown(&keys.next, DEV_NEXT_SIGNING_KEY));
    }
    tokio::spawn(on_signal);
    app.run().await.map_err(|e| e.to_string())
}

/// The first four characters of a long enough token and stars for the rest, so it can be recognised.
fn mask(token: &str) -> String {
    let shown = if token.chars().count() >= 12 { 4 } else { 0 };
    let head: String = token.chars().take(shown).collect();
    format!("{head}{}", "*".repeat(token.chars().count() - shown))
}

/// Raises the soft open-file limit to the hard limit: each client connection and delivery needs a
/// descriptor, and the usual soft limit of 1024 is far below what the hard limit allows.
fn raise_open_file_limit() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}

/// The address clients should use: a wildcard listen address is reachable as localhost.
fn public_url(addr: std::net::SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    format!("http://{host}:{}", addr.port())
}

/// Database URLs may carry a password; never log it.
fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Registers the signal handlers at once (a SIGTERM that arrives right after the banner must stop the
/// process gracefully, not kill it) and returns the task that cancels `token` on SIGTERM or ctrl-c.
fn shutdown_on_signal(token: CancellationToken) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut handlers: Vec<tokio::signal::unix::Signal> = [
        tokio::signal::unix::SignalKind::terminate(),
        tokio::signal::unix::SignalKind::interrupt(),
    ]
    .into_iter()
    .filter_map(|kind| tokio::signal::unix::signal(kind).ok())
    .collect();
    async move {
        #[cfg(unix)]
        if handlers.is_empty() {
            std::future::pending::<()>().await;
        } else {
            futures_util::future::select_all(handlers.iter_mut().map(|signal| Box::pin(signal.recv()))).await;
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing deliveries in flight");
        token.cancel();
    }
}
