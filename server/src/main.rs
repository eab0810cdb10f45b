//! The `gatehouse` command: serve | migrate | openapi | secret | info.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gatehouse_server::config::{redact_url, Config, ProcessEnv};
use gatehouse_server::{Gatehouse, StartError};

/// Only the binary sets the allocator; an app embedding the library keeps its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Authentication server, wire-compatible with Better Auth"
)]
struct Cli {
    /// Configuration file (TOML). Env: GATEHOUSE_CONFIG.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log lines as readable text (colours only on a terminal) or one JSON
    /// object per line, for log collectors. Env: GATEHOUSE_LOG_FORMAT.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "GATEHOUSE_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document of the configured plugins (no database needed).
    Openapi {
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Include every built-in plugin, whatever the configuration says.
        #[arg(long)]
        all_plugins: bool,
    },
    /// Print a new random secret suitable for GATEHOUSE_SECRET.
    Secret,
    /// Show the effective configuration (secrets redacted).
    Info,
    /// Measure argon2id hashes per second with the configured cost, on one
    /// worker and on all of them: the ceiling for sign-ins on this machine.
    HashBench {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// A plugin's operator command: `gatehouse <plugin-id> <args>...`
    /// (`gatehouse <plugin-id> help` lists them).
    #[command(external_subcommand)]
    Plugin(Vec<String>),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::Error::from(e).context("starting the async runtime")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// One line on stderr, the cause chain included and no backtrace (whatever
/// `RUST_BACKTRACE` says): start-up errors are for operators, not debuggers.
fn fail(e: &anyhow::Error) -> std::process::ExitCode {
    eprintln!("gatehouse: error: {e:#}");
    std::process::ExitCode::FAILURE
}

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,gatehouse_server=info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let load = || Config::load(cli.config.as_deref(), &ProcessEnv).context("loading configuration");
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(load()?).await,
        Command::Migrate => {
            let config = load()?;
            let registry = gatehouse_server::check_config(&config)?;
            let db = gatehouse_server::db::Db::connect(&config.database_url, 2).await?;
            let n = gatehouse_server::run_migrations(&db, &registry).await?;
            tracing::info!(applied = n, database = %redact_url(&config.database_url), "migrations done");
            Ok(())
        }
        Command::Openapi { out, all_plugins } => {
            let mut config = load()?;
            if all_plugins {
                config.plugins = gatehouse_server::plugins::catalog()
                    .iter()
                    .map(|p| p.id().to_string())
                    .collect();
            }
            let mut spec = gatehouse_server::openapi_spec(&config)?;
            spec.push('\n');
            match out {
                Some(path) => std::fs::write(&path, spec)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{spec}"),
            }
            Ok(())
        }
        Command::Secret => {
            println!("{}", gatehouse_server::generate_secret());
            Ok(())
        }
        Command::HashBench { seconds } => {
            let config = load()?;
            hash_bench(config.password_hash, seconds).await
        }
        Command::Plugin(args) => {
            let (id, rest) = args.split_first().context("a plugin id")?;
            let config = load()?;
            if !config.plugins.contains(id) {
                anyhow::bail!(
                    "no command {id:?}, nor a plugin of that id enabled in this configuration"
                );
            }
            let gatehouse = match Gatehouse::builder(config).build().await {
                Ok(g) => g,
                Err(StartError::Config(e)) => anyhow::bail!("invalid configuration: {e}"),
                Err(e) => return Err(e.into()),
            };
            let api = gatehouse.api();
            let plugin = gatehouse
                .state()
                .plugins
                .all()
                .iter()
                .find(|p| p.id() == id.as_str())
                .cloned()
                .with_context(|| format!("plugin {id:?} is not registered"))?;
            let Some(run) = plugin.command(&api, rest) else {
                anyhow::bail!("plugin {id:?} has no commands");
            };
            let out = run.await.map_err(|e| anyhow::anyhow!(e))?;
            println!("{out}");
            Ok(())
        }
        Command::Info => {
            let config = load()?;
            let registry = match gatehouse_server::check_config(&config) {
                Ok(r) => r,
                Err(e) => anyhow::bail!("invalid configuration: {e}"),
            };
            println!("# gatehouse {}", env!("CARGO_PKG_VERSION"));
            println!("# plugins enabled:");
            for p in registry.all() {
                println!("#   {:<12} {}", p.id(), p.description());
            }
            println!("# the effective configuration (secrets redacted):\n");
            print!("{}", config.describe(&registry));
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let base = format!("{}{}", config.base_url(), config.base_path);
    // Bound before anything is created (database, secret file): a busy
    // port fails first and leaves nothing behind.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let database = redact_url(&config.database_url);
    let gatehouse = match Gatehouse::builder(config).build().await {
        Ok(g) => g,
        Err(StartError::Config(e)) => anyhow::bail!("invalid configuration: {e}"),
        Err(StartError::Storage(e)) => anyhow::bail!("database {database}: {e}"),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(
        %listen,
        api = %base,
        backend = gatehouse.state().db.backend_name(),
        plugins = ?gatehouse.state().plugins.all().iter().map(|p| p.id()).collect::<Vec<_>>(),
        "gatehouse listening"
    );
    let limits =
        gatehouse_server::http::server::Limits::from_config(&gatehouse.state().config.server);
    gatehouse_server::http::server::serve(listener, gatehouse.app(), limits, shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM (what orchestrators send) or Ctrl-C: stop accepting, let the
/// requests in flight finish (up to 10 s), then exit.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down: draining the requests in flight");
}

/// Hashes back to back for `seconds`, first with one caller, then with as
/// many callers as there are workers (the pool's queue never fills).
async fn hash_bench(
    params: gatehouse_server::config::PasswordHashConfig,
    seconds: u64,
) -> anyhow::Result<()> {
    use gatehouse_server::crypto::password::PasswordHasher;
    println!(
        "argon2id m={} KiB t={} p={}",
        params.memory_kib, params.iterations, params.parallelism
    );
    let hasher = PasswordHasher::new(params)?;
    let workers = hasher.workers();
    println!("{workers} workers");
    for callers in [1, workers] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while std::time::Instant::now() < deadline {
                        hasher.hash("hash-bench-password").await?;
                        n += 1;
                    }
                    Ok::<_, gatehouse_server::crypto::password::PasswordError>(n)
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await??;
        }
        println!(
            "{callers} caller(s): {:.1} hashes/s",
            total as f64 / seconds as f64
        );
    }
    Ok(())
}
