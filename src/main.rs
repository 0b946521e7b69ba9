//! The `scim-sidecar` command: `serve`, `check`, `explain`, `test`, `init`, `demo`, `shadow-report`.
//! Thin on purpose: parse arguments, load config, start the library, map outcomes to exit codes
//! (0 ok, 64 bad configuration, 1 runtime failure).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use scim_sidecar::config::{self, Sources};

/// mimalloc instead of the system allocator: a request allocates and frees many small JSON
/// values, and glibc (mostly malloc and free) took a sixth of the CPU profile (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for an invalid configuration (BSD `EX_USAGE`, as linkerd2-proxy uses).
const EX_CONFIG: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "scim-sidecar",
    version,
    about = "A SCIM 2.0 server in front of a platform's own REST API, for Microsoft Entra ID provisioning."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the SCIM server with a configuration file.
    Serve {
        /// Path to the configuration file (see config/sidecar.toml).
        #[arg(long, env = "SCIM_SIDECAR_CONFIG", value_name = "PATH")]
        config: PathBuf,
        /// Shadow mode whatever the file says ([scim] mode = "shadow"): reads reach the
        /// platform, writes are recorded in [scim] shadow_record and simulated, never sent.
        #[arg(long)]
        shadow: bool,
    },
    /// Summarise a shadow record: what a live run would have changed (creates, updates by field,
    /// disables, deletes, member changes).
    ShadowReport {
        /// The shadow record ([scim] shadow_record of a shadow run).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate a configuration file and exit: 0 when valid, 64 with every error listed otherwise.
    Check {
        /// Path to the configuration file (see config/sidecar.toml).
        #[arg(long, env = "SCIM_SIDECAR_CONFIG", value_name = "PATH")]
        config: PathBuf,
    },
    /// Print the platform calls a SCIM request would make, without calling the platform.
    Explain {
        /// Path to the configuration file (see config/sidecar.toml).
        #[arg(long, env = "SCIM_SIDECAR_CONFIG", value_name = "PATH")]
        config: PathBuf,
        /// The SCIM request's method (GET, POST, PUT, PATCH, DELETE).
        method: String,
        /// Path and query, e.g. '/scim/v2/Users?filter=userName eq "ada@example.com"'.
        target: String,
        /// A file holding the request's JSON body ("-" reads standard input).
        #[arg(long, value_name = "FILE")]
        body: Option<PathBuf>,
    },
    /// Run mapping tests (docs/mapping-tests.md): 0 when every case passes, 1 when one fails.
    Test {
        /// Path to the configuration file (see config/sidecar.toml).
        #[arg(long, env = "SCIM_SIDECAR_CONFIG", value_name = "PATH")]
        config: PathBuf,
        /// Fixture files (TOML, `[[case]]` tables) or folders of them.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print a first mapping guessed from the platform's OpenAPI description (to standard
    /// output; what was found goes to standard error). Every guess is marked `# CHECK:`.
    Init {
        /// The platform's OpenAPI 3.x or Swagger 2.0 document, JSON or YAML.
        #[arg(long, value_name = "SPEC")]
        openapi: PathBuf,
    },
    /// Run the sidecar end to end against the embedded demo platform, in one process.
    Demo {
        /// Address of the SCIM listener.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Address of the demo platform (the "legacy app").
        #[arg(long, default_value = "127.0.0.1:8081")]
        platform_listen: std::net::SocketAddr,
        /// Address of the admin listener (/livez, /readyz).
        #[arg(long, default_value = "127.0.0.1:9090")]
        admin_listen: std::net::SocketAddr,
        /// Serve HTTPS with a generated self-signed certificate.
        #[arg(long)]
        tls: bool,
        /// The bearer token clients must send (at least 32 bytes); generated and printed if unset.
        #[arg(long, env = "SCIM_SIDECAR_DEMO_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Users (user<N>@example.com) the demo platform holds at start, e.g. for benchmarks.
        #[arg(long, default_value_t = 0)]
        seed_users: usize,
        /// Run only the demo platform (for benchmarks and for `serve` against it); its API key is
        /// DEMO_PLATFORM_API_KEY when set, else generated and printed.
        #[arg(long)]
        platform_only: bool,
        /// How the sidecar authenticates to the demo platform: "api-key" (X-Api-Key) or
        /// "oauth2" (client credentials against the platform's POST /oauth/token).
        #[arg(long, default_value = "api-key", value_parser = ["api-key", "oauth2"])]
        platform_auth: String,
        /// With --platform-auth oauth2: the lifetime of the access tokens, in seconds.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
        token_lifetime: u64,
    },
}

fn main() -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve { config, shadow } => serve(&config, shadow),
        Command::ShadowReport { file, json } => shadow_report(&file, json),
        Command::Explain {
            config,
            method,
            target,
            body,
        } => explain(&config, &method, &target, body.as_deref()),
        Command::Test { config, files } => mapping_test(&config, &files),
        Command::Init { openapi } => init(&openapi),
        Command::Demo {
            listen,
            platform_listen,
            admin_listen,
            tls,
            token,
            seed_users,
            platform_only,
            platform_auth,
            token_lifetime,
        } => demo(scim_sidecar::demo::Options {
            listen,
            platform_listen,
            admin_listen,
            tls,
            token,
            seed_users,
            platform_only,
            oauth: (platform_auth == "oauth2")
                .then(|| std::time::Duration::from_secs(token_lifetime)),
        }),
    };
    // The log writer thread writes what is still queued before the process exits.
    scim_sidecar::logging::sink::flush();
    code
}

fn load(path: &std::path::Path) -> Result<config::Config, ExitCode> {
    config::load(path, &Sources::process()).map_err(|errors| {
        eprintln!("{errors}");
        let n = errors.0.len();
        eprintln!(
            "{n} configuration error{} in {}",
            if n == 1 { "" } else { "s" },
            path.display()
        );
        ExitCode::from(EX_CONFIG)
    })
}

fn check(path: &std::path::Path) -> ExitCode {
    match load(path) {
        Ok(cfg) => {
            println!("{}: configuration is valid", path.display());
            println!(
                "  SCIM: {}://{}{}  admin: http://{}",
                if cfg.server.plain_http {
                    "http"
                } else {
                    "https"
                },
                cfg.server.listen,
                cfg.scim.base_path,
                cfg.admin.listen
            );
            let names: Vec<&str> = cfg.auth.tokens.names().collect();
            println!("  bearer tokens: {}", names.join(", "));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn init(path: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("--openapi {}: {e}", path.display());
            return ExitCode::from(EX_CONFIG);
        }
    };
    let source = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match scim_sidecar::openapi::scaffold(&text, &source) {
        Ok(scaffold) => {
            print!("{}", scaffold.toml);
            for note in scaffold.notes {
                eprintln!("{note}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("--openapi {}: {e}", path.display());
            ExitCode::from(EX_CONFIG)
        }
    }
}

fn serve(path: &std::path::Path, shadow: bool) -> ExitCode {
    let mut loader = config::Loader::process(path);
    if shadow {
        // The flag wins over the file and the environment, at start and at every reload.
        let var = config::EnvOverrides::var_of("scim.mode");
        loader.overrides.retain(|(k, _)| *k != var);
        loader.overrides.push((var, "shadow".to_owned()));
    }
    let cfg = match loader.load() {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{} configuration error(s) in {}",
                errors.0.len(),
                path.display()
            );
            return ExitCode::from(EX_CONFIG);
        }
    };
    scim_sidecar::logging::init(&cfg.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let running = match scim_sidecar::start_with(cfg, Some(loader)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "startup failed");
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        running.stop().await;
        tracing::info!("stopped");
        ExitCode::SUCCESS
    })
}

/// `shadow-report FILE`: 0 with the summary printed, 1 when the file cannot be read or a line is
/// not a record entry (the error names the line).
fn shadow_report(file: &std::path::Path, json: bool) -> ExitCode {
    use scim_sidecar::shadow::report;
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let entries = match report::parse(&text) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let summary = report::summarise(&entries);
    if json {
        println!("{:#}", summary.json());
    } else {
        print!("{}", summary.text());
    }
    ExitCode::SUCCESS
}

/// Waits for SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
        _ => {
            tracing::warn!("cannot install signal handlers; waiting for Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })
}

fn demo(opts: scim_sidecar::demo::Options) -> ExitCode {
    use scim_sidecar::demo;
    let token = opts.token.clone().unwrap_or_else(|| demo::random_hex(32));
    if let Err(e) = scim_sidecar::auth::check_secret(token.as_bytes()) {
        eprintln!("--token / SCIM_SIDECAR_DEMO_TOKEN: {e}");
        return ExitCode::from(EX_CONFIG);
    }
    let dir = match demo::DemoDir::create() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create the demo's temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    scim_sidecar::logging::init(&config::Log {
        format: config::LogFormat::Text,
        level: "info".to_owned(),
    });
    let rt = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(opts.platform_listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot listen on {} (--platform-listen): {e}", opts.platform_listen);
                return ExitCode::FAILURE;
            }
        };
        let platform_url = format!("http://{}", listener.local_addr().unwrap_or(opts.platform_listen));
        let platform_key = match std::env::var(demo::PLATFORM_KEY_ENV) {
            Ok(k) if opts.platform_only && !k.is_empty() => k,
            _ => demo::random_hex(16),
        };
        let client_secret = demo::random_hex(16);
        let platform = match opts.oauth {
            None => demo::Platform::new(platform_key.clone()),
            Some(lifetime) => demo::Platform::with_oauth(
                platform_key.clone(),
                demo::OAuth {
                    client_id: demo::OAUTH_CLIENT_ID.to_owned(),
                    client_secret: client_secret.clone(),
                    lifetime: Some(lifetime),
                },
            ),
        };
        if opts.oauth.is_some()
            && let Err(e) = dir.use_oauth(&platform_url, &client_secret)
        {
            eprintln!("cannot write the demo's OAuth2 mapping: {e}");
            return ExitCode::FAILURE;
        }
        if opts.seed_users > 0 {
            platform.seed_users(opts.seed_users);
        }
        if opts.platform_only {
            let task = tokio::spawn(platform.serve(listener, wait_for_signal()));
            println!("demo platform: {platform_url}/api/v1/users  (X-Api-Key: {platform_key})");
            println!("export PLATFORM={platform_url} PLATFORM_KEY={platform_key}");
            let _ = task.await;
            return ExitCode::SUCCESS;
        }
        let (stop_platform, platform_stopped) = tokio::sync::oneshot::channel::<()>();
        let platform_task = tokio::spawn(platform.serve(listener, async move {
            let _ = platform_stopped.await;
        }));
        let cfg = match demo::load_config(&dir, &opts, &token, &platform_key, &platform_url) {
            Ok(c) => c,
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::from(EX_CONFIG);
            }
        };
        let running = match scim_sidecar::start(cfg).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("startup failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        let scheme = if opts.tls { "https" } else { "http" };
        let base = format!("{scheme}://{}/scim/v2", running.scim_addr);
        println!();
        println!("scim-sidecar demo is running.");
        println!("  SCIM base URL (Entra \"Tenant URL\"):   {base}");
        println!("  Bearer token (Entra \"Secret Token\"):  {token}");
        println!("  Demo platform (the legacy REST API):   {platform_url}/api/v1/users  (X-Api-Key: {platform_key})");
        if let Some(lifetime) = opts.oauth {
            println!(
                "  Platform auth:                         OAuth2 client credentials, POST {platform_url}/oauth/token (client {}, secret in {}), {}-second tokens",
                demo::OAUTH_CLIENT_ID,
                dir.path.join("client-secret").display(),
                lifetime.as_secs()
            );
        }
        println!("  Readiness:                             http://{}/readyz", running.admin_addr);
        println!();
        println!("In another shell, paste this line, then the curl lines from the README:");
        println!("export SCIM={base} TOKEN={token} PLATFORM={platform_url} PLATFORM_KEY={platform_key}");
        if opts.tls {
            println!(
                "(self-signed certificate: {}; give curl --cacert with it, or -k)",
                dir.path.join("tls.crt").display()
            );
        }
        println!();
        println!("Press Ctrl-C to stop.");
        println!();
        wait_for_signal().await;
        running.stop().await;
        let _ = stop_platform.send(());
        let _ = platform_task.await;
        ExitCode::SUCCESS
    })
}

/// Secrets `explain` does not need: an unset variable reads as a placeholder, so the dry run
/// works on a workstation without the deployment's secrets.
fn explain_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .or_else(|| Some("explain-placeholder-secret-explain-placeholder-secret".to_owned()))
}

/// Loads a configuration for the offline commands (`explain`, `test`): unset secrets read as
/// placeholders ([`explain_env`]).
fn load_offline(path: &std::path::Path) -> Result<config::Config, ExitCode> {
    let sources = Sources {
        overrides: config::EnvOverrides::from_process(),
        env: &explain_env,
        platform_base_url: None,
        offline: true,
    };
    config::load(path, &sources).map_err(|errors| {
        eprintln!("{errors}");
        ExitCode::from(EX_CONFIG)
    })
}

/// `scim-sidecar test`: runs the fixtures' cases against the configuration's mapping, offline.
fn mapping_test(path: &std::path::Path, args: &[PathBuf]) -> ExitCode {
    let mut files = Vec::new();
    for a in args {
        if a.is_dir() {
            match scim_sidecar::mapping_test::files_in(a) {
                Ok(mut found) if !found.is_empty() => files.append(&mut found),
                Ok(_) => {
                    eprintln!("{}: no *.toml fixture files in this folder", a.display());
                    return ExitCode::from(EX_CONFIG);
                }
                Err(e) => {
                    eprintln!("{}: {e}", a.display());
                    return ExitCode::from(EX_CONFIG);
                }
            }
        } else {
            files.push(a.clone());
        }
    }
    let cfg = match load_offline(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let runtime_state = scim_sidecar::app::Runtime::new(cfg, scim_sidecar::metrics::Metrics::new());
    match rt.block_on(scim_sidecar::mapping_test::run(&runtime_state, &files)) {
        Ok(report) => {
            print!("{}", report.text);
            if report.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EX_CONFIG)
        }
    }
}

fn explain(
    path: &std::path::Path,
    method: &str,
    target: &str,
    body: Option<&std::path::Path>,
) -> ExitCode {
    let body = match body {
        None => None,
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
                eprintln!("cannot read the body from standard input: {e}");
                return ExitCode::from(EX_CONFIG);
            }
            Some(s)
        }
        Some(p) => match std::fs::read_to_string(p) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("--body {}: {e}", p.display());
                return ExitCode::from(EX_CONFIG);
            }
        },
    };
    let cfg = match load_offline(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let runtime_state = scim_sidecar::app::Runtime::new(cfg, scim_sidecar::metrics::Metrics::new());
    match rt.block_on(scim_sidecar::explain::explain(
        &runtime_state,
        method,
        target,
        body.as_deref(),
    )) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EX_CONFIG)
        }
    }
}
