//! The `scim-sidecar` command: `serve`, `check`. Thin on purpose: parse arguments, load config,
//! start the library, map outcomes to exit codes (0 ok, 64 bad configuration, 1 runtime failure).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use scim_sidecar::config::{self, EnvOverrides};

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
    },
    /// Validate a configuration file and exit: 0 when valid, 64 with every error listed otherwise.
    Check {
        /// Path to the configuration file (see config/sidecar.toml).
        #[arg(long, env = "SCIM_SIDECAR_CONFIG", value_name = "PATH")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve { config } => serve(&config),
    }
}

fn load(path: &std::path::Path) -> Result<config::Config, ExitCode> {
    config::load(path, EnvOverrides::from_process()).map_err(|errors| {
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

fn serve(path: &std::path::Path) -> ExitCode {
    let cfg = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
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
        let running = match scim_sidecar::start(cfg).await {
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
