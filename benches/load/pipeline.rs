//! Target 2: uploads per second until every thumbnail is READY (HTTP,
//! Postgres, S3, WORKERS=2) against the kernel alone on two threads
//! (`image-vault thumbnail --threads 2`), on the same files, alternating
//! rounds so that both see the same machine.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;

use crate::infra::{self, Env, Gql, S3Server, Server};

pub struct Options {
    pub images: usize,
    pub concurrency: usize,
    pub rounds: usize,
    pub workers: usize,
}

pub async fn run(opts: &Options, corpus: &[PathBuf]) -> anyhow::Result<()> {
    let sources: Vec<PathBuf> = corpus
        .iter()
        .filter(|p| p.to_string_lossy().contains("jpeg-1920x1080"))
        .cloned()
        .collect();
    if sources.is_empty() {
        bail!("no 1920x1080 JPEGs in the corpus");
    }
    let files: Vec<PathBuf> = sources.iter().cycle().take(opts.images).cloned().collect();
    println!(
        "pipeline: {} uploads of {} (1920x1080 q90, {} distinct), {} in flight, WORKERS={}, heights 200+400 (Premium)",
        files.len(),
        sources.len(),
        sources.len(),
        opts.concurrency,
        opts.workers
    );
    let mut ratios = Vec::new();
    let (mut kernels, mut pipes) = (Vec::new(), Vec::new());
    for round in 1..=opts.rounds {
        let kernel = kernel(&files, 2)?;
        let pipe = pipeline(opts, &files).await?;
        println!(
            "round {round}: kernel (2 threads) {kernel:.1} images/s | pipeline {:.1} uploads/s \
             (server CPU {:.2} s = {:.1} ms/image, bench process incl. S3 server {:.2} s) | ratio {:.3}",
            pipe.rate,
            pipe.server_cpu,
            pipe.server_cpu * 1000.0 / opts.images as f64,
            pipe.driver_cpu,
            pipe.rate / kernel
        );
        ratios.push(pipe.rate / kernel);
        kernels.push(kernel);
        pipes.push(pipe.rate);
    }
    println!(
        "pipeline summary: kernel median {:.1} images/s, pipeline median {:.1} uploads/s, ratio median {:.3} (target >= 0.75)",
        infra::median(&mut kernels),
        infra::median(&mut pipes),
        infra::median(&mut ratios)
    );
    Ok(())
}

/// Images per second of `image-vault thumbnail --threads N` as it reports.
pub fn kernel(files: &[PathBuf], threads: u16) -> anyhow::Result<f64> {
    let out_dir = infra::work_dir().join("kernel-out");
    let _ = std::fs::remove_dir_all(&out_dir);
    let output = Command::new(infra::server_bin())
        .args(["thumbnail", "--height", "200", "--height", "400", "--quiet"])
        .arg("--threads")
        .arg(threads.to_string())
        .arg("--out")
        .arg(&out_dir)
        .args(files)
        .output()
        .context("running image-vault thumbnail")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "image-vault thumbnail failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // "... on 2 thread(s): 123.45 images/s"
    let rate = stdout
        .lines()
        .last()
        .and_then(|l| l.rsplit(": ").next())
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .with_context(|| format!("cannot read the rate from {stdout:?}"))?;
    Ok(rate)
}

struct PipelineRun {
    rate: f64,
    server_cpu: f64,
    driver_cpu: f64,
}

async fn pipeline(opts: &Options, files: &[PathBuf]) -> anyhow::Result<PipelineRun> {
    let database = "iv_bench_pipeline";
    infra::drop_database(database).await?;
    let s3 = S3Server::start("pipeline").await?;
    let mut env = Env::new(database);
    s3.env(&mut env);
    env.set("WORKERS", &opts.workers.to_string());
    let (server, _) = Server::serve(&env, "pipeline-serve", &["serve"]).await?;
    let gql = Gql::user(&env, &server.base, "bench", "Premium").await?;
    let db = infra::pg(database).await?;
    let bodies: Vec<(String, Arc<Vec<u8>>)> = files
        .iter()
        .enumerate()
        .map(|(i, p)| Ok((format!("upload-{i}.jpg"), Arc::new(std::fs::read(p)?))))
        .collect::<anyhow::Result<_>>()?;

    // Warm up connections, pools and caches with a few images.
    let warm = 4.min(bodies.len());
    upload_all(&gql, &bodies[..warm], opts.concurrency).await?;
    infra::wait_ready(&db, 2 * warm as i64).await?;

    let cpu_before = (cpu_seconds(server.pid())?, cpu_seconds(std::process::id())?);
    let started = Instant::now();
    upload_all(&gql, &bodies, opts.concurrency).await?;
    infra::wait_ready(&db, 2 * (warm + bodies.len()) as i64).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(server.pid())? - cpu_before.0;
    let driver_cpu = cpu_seconds(std::process::id())? - cpu_before.1;
    server.stop();
    drop(db);
    infra::drop_database(database).await?;
    Ok(PipelineRun {
        rate: bodies.len() as f64 / elapsed,
        server_cpu,
        driver_cpu,
    })
}

async fn upload_all(
    gql: &Gql,
    bodies: &[(String, Arc<Vec<u8>>)],
    concurrency: usize,
) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<String>> = futures_util::stream::iter(bodies)
        .map(|(name, bytes)| gql.upload(name, bytes.as_ref().clone()))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(())
}

/// User plus system CPU time of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(") ").context("bad /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 overall, 12 and 13 here (0-based: 11, 12).
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}
