//! Load driver for the service targets of BENCHMARKS.md (pipeline, read
//! path, memory, start-up): runs the real `image-vault` binary (release
//! profile) against the machine's Postgres and an s3s-fs S3 server that
//! this process serves, and prints the figures.
//!
//! `cargo bench --bench load -- <pipeline|read|memory|startup|soak|all> [options]`
//! (or `bench/load.sh`). Needs only Postgres (`BENCH_DATABASE_SERVER`,
//! default `postgres://postgres@127.0.0.1:5432`); databases are named
//! `iv_bench_*` and dropped afterwards.

mod infra;
mod memory;
mod pipeline;
mod read;
mod soak;
mod startup;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "image-vault load driver (see BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true, global = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum Scenario {
    /// Uploads/s until all thumbnails are READY vs the kernel on 2 threads.
    Pipeline {
        #[arg(long, default_value_t = 200)]
        images: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// `WORKERS` of the server (default: its own, one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// `fs` (the default backend) or `s3`.
        #[arg(long, default_value = "fs")]
        storage: String,
        /// Also record `perf record -g` of the server.
        #[arg(long)]
        perf: bool,
    },
    /// images(first: 50) vs { __typename }; deep vs first page; plans; presigning.
    Read {
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value_t = 1_000_000)]
        images: i64,
        /// Keep the seeded database (iv_bench_read) for the next run.
        #[arg(long)]
        keep_db: bool,
        /// Also record `perf record -g` of the server under the page load.
        #[arg(long)]
        perf: bool,
    },
    /// Peak RSS: concurrent 20 MB uploads, and one 4000x3000 thumbnail job.
    Memory {
        #[arg(long, default_value_t = 32)]
        uploads: usize,
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// Launch to first /healthz 200.
    Startup {
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Issue 10 soak: two servers and a worker, well-behaved clients and
    /// attackers together; RSS over time, errors, rows and objects after.
    Soak {
        #[arg(long, default_value_t = 30.0)]
        minutes: f64,
        /// Pause between one uploader's uploads.
        #[arg(long, default_value_t = 250)]
        upload_interval_ms: u64,
        /// The flood user waits while this many of its jobs wait or run.
        #[arg(long, default_value_t = 300)]
        flood_backlog: i64,
        /// Warm-up before the flatness comparison (default: a tenth, 1 to 3).
        #[arg(long)]
        warmup_minutes: Option<f64>,
        /// Longest wait for the job queue to drain afterwards.
        #[arg(long, default_value_t = 5.0)]
        drain_minutes: f64,
        /// Keep the database and the storage directory.
        #[arg(long)]
        keep: bool,
    },
    /// Every scenario with its defaults (not the soak).
    All,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.scenario)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(scenario: Scenario) -> anyhow::Result<()> {
    std::fs::create_dir_all(infra::work_dir())?;
    println!(
        "machine: {} cores, {}, load average {}; server binary {} ({})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        infra::server_bin().display(),
        git_revision()
    );
    match scenario {
        Scenario::Pipeline {
            images,
            concurrency,
            rounds,
            workers,
            storage,
            perf,
        } => {
            let opts = pipeline::Options {
                perf,
                images,
                concurrency,
                rounds,
                workers,
                storage,
            };
            pipeline::run(&opts, &corpus()?).await
        }
        Scenario::Read {
            clients,
            seconds,
            rounds,
            images,
            keep_db,
            perf,
        } => {
            let opts = read::Options {
                clients,
                seconds,
                rounds,
                images,
                keep_db,
                perf,
            };
            read::run(&opts).await
        }
        Scenario::Memory { uploads, workers } => {
            memory::run(&memory::Options { uploads, workers }, &corpus()?).await
        }
        Scenario::Startup { runs } => startup::run(&startup::Options { runs }).await,
        Scenario::Soak {
            minutes,
            upload_interval_ms,
            flood_backlog,
            warmup_minutes,
            drain_minutes,
            keep,
        } => {
            let opts = soak::Options {
                minutes,
                upload_interval_ms,
                flood_backlog,
                warmup_minutes,
                drain_minutes,
                keep,
            };
            soak::run(&opts).await
        }
        Scenario::All => {
            let corpus = corpus()?;
            startup::run(&startup::Options { runs: 10 }).await?;
            memory::run(
                &memory::Options {
                    uploads: 32,
                    workers: 2,
                },
                &corpus,
            )
            .await?;
            let opts = pipeline::Options {
                perf: false,
                images: 200,
                concurrency: 4,
                rounds: 3,
                workers: None,
                storage: "fs".into(),
            };
            pipeline::run(&opts, &corpus).await?;
            let opts = read::Options {
                clients: 8,
                seconds: 5.0,
                rounds: 3,
                images: 1_000_000,
                keep_db: false,
                perf: false,
            };
            read::run(&opts).await
        }
    }
}

/// The shared benchmark corpus (`bench-corpus`, kept in target/bench-corpus).
fn corpus() -> anyhow::Result<Vec<std::path::PathBuf>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-corpus");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bench-corpus"))
        .arg(&dir)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "bench-corpus failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // "<path> <size>" per line.
    Ok(String::from_utf8(output.stdout)?
        .lines()
        .filter_map(|l| l.rsplit_once(' ').map(|(p, _)| std::path::PathBuf::from(p)))
        .collect())
}

/// `git rev-parse --short HEAD`, `+dirty` with uncommitted changes.
fn git_revision() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    format!("{head}{}", if dirty { "+dirty" } else { "" })
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
