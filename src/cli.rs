//! The command line: `serve`, `worker`, `migrate`, `print-schema`, and what
//! an operator needs when no administrator can log in: `create-admin`,
//! `reset-password`, `disable-user`, `enable-user`, `delete-user`.

use std::io::BufRead as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::admin::UserSpec;
use crate::app::App;
use crate::auth::normalize_username;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::models::{Plan, User};
use crate::error::AppError;
use crate::jobs::WorkerPool;
use crate::service::Actor;

/// How long in-flight requests and jobs get to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Parser, Debug)]
#[command(
    name = "image-vault",
    version,
    about = "GraphQL image server with object storage and thumbnail workers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (and, unless --no-workers, the thumbnail workers).
    Serve {
        /// Do not run workers in this process (run `image-vault worker` elsewhere).
        #[arg(long)]
        no_workers: bool,
    },
    /// Run thumbnail workers only (no HTTP server), to scale out.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an administrator. The password is read from stdin or a prompt.
    CreateAdmin {
        #[arg(long)]
        username: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// The plan to give the administrator (default: Basic).
        #[arg(long)]
        plan: Option<String>,
    },
    /// Create a user. The password is read from stdin or a prompt.
    CreateUser {
        #[arg(long)]
        username: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// The plan's name (default: Basic).
        #[arg(long)]
        plan: Option<String>,
    },
    /// Assign a plan to a user; the thumbnails it grants are made in the background.
    SetPlan {
        #[arg(long)]
        username: String,
        #[arg(long)]
        plan: String,
    },
    /// Set a user's password (read from stdin or a prompt, never the command
    /// line); their sessions and API tokens stop working.
    ResetPassword {
        #[arg(long)]
        username: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: they cannot log in, and their sessions and API tokens
    /// stop working at once.
    DisableUser {
        #[arg(long)]
        username: String,
    },
    /// Let a disabled user log in again.
    EnableUser {
        #[arg(long)]
        username: String,
    },
    /// Delete a user with their images, links, uploads, sessions and tokens;
    /// their objects are removed by the workers. Refused for the last
    /// administrator.
    DeleteUser {
        #[arg(long)]
        username: String,
    },
    /// Print the GraphQL schema (SDL) to stdout.
    PrintSchema,
    /// Make thumbnails of local files with the workers' kernel (no database) and
    /// print images per second.
    Thumbnail(crate::thumbnail_cli::ThumbnailArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let is_admin = matches!(cli.command, Command::CreateAdmin { .. });
    let disable = matches!(cli.command, Command::DisableUser { .. });
    match cli.command {
        Command::PrintSchema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Thumbnail(args) => crate::thumbnail_cli::run(args),
        Command::Migrate => {
            let config = load_config()?;
            prepare_database(&config).await?;
            Ok(())
        }
        Command::Serve { no_workers } => serve(load_config()?, no_workers).await,
        Command::Worker => worker(load_config()?).await,
        Command::CreateAdmin {
            username,
            password_stdin,
            plan,
        }
        | Command::CreateUser {
            username,
            password_stdin,
            plan,
        } => {
            let config = load_config()?;
            prepare_database(&config).await?;
            let password = read_password(password_stdin)?;
            let app = App::new(config, Clock::default()).await?;
            let user = create_user(&app, &username, &password, is_admin, plan.as_deref()).await?;
            let what = if is_admin { "administrator" } else { "user" };
            println!("created {what} {} ({})", user.username, user.id);
            Ok(())
        }
        Command::SetPlan { username, plan } => {
            let config = load_config()?;
            prepare_database(&config).await?;
            let app = App::new(config, Clock::default()).await?;
            let (user, plan) = {
                let mut conn = app.db().await.map_err(cli_error)?;
                let user = User::find_by_username(&mut conn, &normalize_username(&username))
                    .await?
                    .with_context(|| format!("no user named {username:?}"))?;
                let plan = Plan::find_by_name(&mut conn, &plan)
                    .await?
                    .with_context(|| format!("no plan named {plan:?}"))?;
                (user, plan)
            };
            crate::admin::set_user_plan(&app, &Actor::cli(), user.id, Some(plan.id))
                .await
                .map_err(cli_error)?;
            println!("{} now has the {} plan", user.username, plan.name);
            Ok(())
        }
        Command::ResetPassword {
            username,
            password_stdin,
        } => {
            let config = load_config()?;
            prepare_database(&config).await?;
            let password = read_password(password_stdin)?;
            let app = App::new(config, Clock::default()).await?;
            let user = find_user(&app, &username).await?;
            crate::service::passwords::reset_password(&app, &Actor::cli(), user.id, password)
                .await
                .map_err(cli_error)?;
            println!(
                "new password set for {}; their sessions and tokens are revoked",
                user.username
            );
            Ok(())
        }
        Command::DisableUser { username } | Command::EnableUser { username } => {
            let config = load_config()?;
            prepare_database(&config).await?;
            let app = App::new(config, Clock::default()).await?;
            let user = find_user(&app, &username).await?;
            if disable {
                crate::service::user_status::disable_user(&app, &Actor::cli(), user.id)
                    .await
                    .map_err(cli_error)?;
                println!(
                    "{} is disabled; their sessions and tokens are revoked",
                    user.username
                );
            } else {
                crate::service::user_status::enable_user(&app, &Actor::cli(), user.id)
                    .await
                    .map_err(cli_error)?;
                println!("{} may log in again", user.username);
            }
            Ok(())
        }
        Command::DeleteUser { username } => {
            let config = load_config()?;
            prepare_database(&config).await?;
            let app = App::new(config, Clock::default()).await?;
            let user = find_user(&app, &username).await?;
            crate::service::delete_user::delete_user(&app, &Actor::cli(), user.id)
                .await
                .map_err(cli_error)?;
            println!(
                "deleted {} ({}); their objects are removed by the workers",
                user.username, user.id
            );
            Ok(())
        }
    }
}

async fn find_user(app: &Arc<App>, username: &str) -> anyhow::Result<User> {
    let mut conn = app.db().await.map_err(cli_error)?;
    User::find_by_username(&mut conn, &normalize_username(username))
        .await?
        .with_context(|| format!("no user named {username:?}"))
}

fn load_config() -> anyhow::Result<Config> {
    let config = Config::from_env()?;
    crate::telemetry::init(config.log_format);
    if config.jwt_secret_is_ephemeral {
        tracing::warn!(
            "JWT_SECRET is not set: using a random secret for this process only. \
             Tokens and /files URLs stop working at restart and are not shared between \
             processes. Set JWT_SECRET (32+ characters) for anything but local development."
        );
    }
    Ok(config)
}

/// Creates the database if needed and applies pending migrations.
pub async fn prepare_database(config: &Config) -> anyhow::Result<()> {
    crate::db::ensure_database(&config.database_url)
        .await
        .context("preparing the database (DATABASE_URL)")?;
    let applied = crate::db::run_migrations(&config.database_url)
        .await
        .context("running migrations")?;
    if applied.is_empty() {
        tracing::info!("database schema is up to date");
    } else {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    Ok(())
}

async fn serve(config: Config, no_workers: bool) -> anyhow::Result<()> {
    prepare_database(&config).await?;
    let bind = config.bind;
    let app = App::new(config, Clock::default()).await?;
    crate::auth::password::warm_up();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind} (BIND)"))?;
    tracing::info!(
        address = %bind,
        public_url = %app.config.public_url,
        storage = app.storage.backend_name(),
        "serving GraphQL at /graphql"
    );
    let _events = app.start_event_listener();
    let _metrics = crate::http::serve_metrics(&app).await?;
    let workers = (!no_workers && app.config.workers > 0).then(|| {
        WorkerPool::start(app.clone(), app.config.workers)
            .with_handoff_workers(app.config.handoff_workers)
    });
    // One signal stops both at once: the HTTP server stops accepting and
    // drains, and the workers stop claiming (jobs queued meanwhile are left
    // to the next start) while they finish the jobs they run.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let signal = {
        let stop_tx = stop_tx.clone();
        async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        }
    };
    let http = async {
        let router = crate::http::router(app.clone());
        let served = crate::http::serve(listener, router, signal, SHUTDOWN_GRACE).await;
        // Should the server fail, the workers stop too.
        let _ = stop_tx.send(true);
        served
    };
    let jobs = async move {
        if let Some(pool) = workers {
            let _ = stop_rx.wait_for(|&stop| stop).await;
            pool.shutdown(SHUTDOWN_GRACE).await;
        }
    };
    let (served, ()) = tokio::join!(http, jobs);
    served?;
    tracing::info!("stopped");
    Ok(())
}

async fn worker(config: Config) -> anyhow::Result<()> {
    prepare_database(&config).await?;
    let app = App::new(config, Clock::default()).await?;
    let count = app.config.workers.max(1);
    let _metrics = crate::http::serve_metrics(&app).await?;
    let pool = WorkerPool::start(app, count);
    shutdown_signal().await;
    pool.shutdown(SHUTDOWN_GRACE).await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight work");
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let second =
            rpassword::prompt_password("Repeat password: ").context("reading the password")?;
        if first != second {
            bail!("the passwords differ");
        }
        first
    };
    crate::admin::check_password(&password).map_err(cli_error)?;
    Ok(password)
}

/// Creates a user with a plan given by name (Basic when none is given).
pub async fn create_user(
    app: &Arc<App>,
    username: &str,
    password: &str,
    is_admin: bool,
    plan: Option<&str>,
) -> anyhow::Result<User> {
    let plan_id = match plan {
        Some(name) => {
            let mut conn = app.db().await.map_err(cli_error)?;
            let plan = Plan::find_by_name(&mut conn, name)
                .await?
                .with_context(|| format!("no plan named {name:?}"))?;
            Some(plan.id)
        }
        None => None,
    };
    crate::admin::create_user(
        app,
        &Actor::cli(),
        UserSpec {
            username: username.to_owned(),
            password: password.to_owned(),
            is_admin,
            plan_id,
        },
    )
    .await
    .map_err(cli_error)
}

/// An application error as the CLI reports it.
fn cli_error(e: AppError) -> anyhow::Error {
    match e {
        AppError::Internal(inner) => anyhow::anyhow!("{inner:#}"),
        other => anyhow::anyhow!("{}", other.message()),
    }
}
