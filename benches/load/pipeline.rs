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
use crate::watch;

pub struct Options {
    pub images: usize,
    pub concurrency: usize,
    pub rounds: usize,
    /// `WORKERS` of the server; `None`: its default (one per core).
    pub workers: Option<usize>,
    /// `fs` (the default backend) or `s3` (s3s-fs in this process, or the
    /// external server of `BENCH_S3_*`).
    pub storage: String,
    /// Record `perf record -g` of the server while it works.
    pub perf: bool,
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
    let files = distinct_files(&sources, opts.images)?;
    println!(
        "pipeline: {} uploads of distinct 1920x1080 q90 JPEGs (shifted crops of {} corpus photos), \
         {} in flight, WORKERS={}, STORAGE={}, heights 200+400 (Premium)",
        files.len(),
        sources.len(),
        opts.concurrency,
        opts.workers.map_or("default".into(), |w| w.to_string()),
        opts.storage,
    );
    let mut ratios = Vec::new();
    let (mut kernels, mut pipes) = (Vec::new(), Vec::new());
    let mut latencies = Vec::new();
    for round in 1..=opts.rounds {
        let (kernel, kernel_cpu) = kernel(&files, 2)?;
        let pipe = pipeline(opts, &files).await?;
        println!(
            "round {round}: kernel (2 threads) {kernel:.1} images/s, {kernel_cpu:.1} ms CPU/image | pipeline {:.1} uploads/s, \
             server {:.1} ms CPU/image, Postgres {:.1}, bench process {:.1}, external S3 {:.1} ({}) | ratio {:.3}",
            pipe.rate,
            pipe.server_cpu * 1000.0 / opts.images as f64,
            pipe.pg_cpu * 1000.0 / opts.images as f64,
            pipe.driver_cpu * 1000.0 / opts.images as f64,
            pipe.s3_cpu * 1000.0 / opts.images as f64,
            pipe.s3,
            pipe.rate / kernel
        );
        println!(
            "  upload answer to last thumbnail READY (imageUpdated): {}",
            watch::summary(&mut pipe.latencies.clone())
        );
        latencies.extend(pipe.latencies);
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
    println!(
        "pipeline latency, all rounds: {} (targets: p50 <= 150 ms, p99 <= 1 s)",
        watch::summary(&mut latencies)
    );
    idle_latency(opts, corpus).await
}

/// One 4000x3000 JPEG at a time on an otherwise idle server: from the
/// upload's answer to its thumbnails READY (target: 100 ms).
async fn idle_latency(opts: &Options, corpus: &[PathBuf]) -> anyhow::Result<()> {
    let source = corpus
        .iter()
        .find(|p| p.to_string_lossy().contains("jpeg-4000x3000"))
        .context("no 4000x3000 JPEG in the corpus")?;
    let bytes = std::fs::read(source)?;
    let (server, gql, _s3) = start(opts, "pipeline-idle").await?;
    let runs = 12;
    let watcher = watch::Watcher::connect(&server.base, &gql.token, runs).await?;
    for i in 0..runs {
        let body = infra::with_comment(&bytes, &format!("idle {i}"));
        let id = gql.upload(&format!("idle-{i}.jpg"), body).await?;
        watcher.follow(id, Instant::now());
        // Let it finish and the server settle before the next one.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    }
    let mut latencies = watcher.finish().await?;
    // The first one pays for cold caches and thread start-up.
    let first = latencies.first().copied();
    let rest = &mut latencies[1..];
    println!(
        "idle server, one 4000x3000 JPEG at a time, upload answer to READY: {} after the first ({:.0} ms) (target <= 100 ms)",
        watch::summary(rest),
        first.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    );
    server.stop();
    infra::drop_database(DATABASE).await?;
    Ok(())
}

/// The pipeline's database, fresh for each server.
const DATABASE: &str = "iv_bench_pipeline";

/// A `serve` (named `name` in the logs) on a fresh database with the
/// options' storage and workers, and a Premium user logged in on it (the
/// S3 server, if any, is kept alive by the caller).
async fn start(opts: &Options, name: &str) -> anyhow::Result<(Server, Gql, Option<S3Server>)> {
    infra::drop_database(DATABASE).await?;
    let (mut env, s3) = storage_env(opts).await?;
    if let Some(workers) = opts.workers {
        env.set("WORKERS", &workers.to_string());
    }
    let (server, _) = Server::serve(&env, name, &["serve"]).await?;
    let gql = Gql::user(&env, &server.base, "bench", "Premium").await?;
    Ok((server, gql, s3))
}

/// The server's storage settings for `opts.storage` (and the S3 server, kept
/// alive by the caller).
async fn storage_env(opts: &Options) -> anyhow::Result<(Env, Option<S3Server>)> {
    let mut env = Env::new(DATABASE);
    match opts.storage.as_str() {
        "fs" => {
            let dir = infra::work_dir().join("pipeline-fs");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            env.set("STORAGE", "fs")
                .set("STORAGE_DIR", &dir.display().to_string());
            Ok((env, None))
        }
        "s3" => {
            let s3 = S3Server::start("pipeline").await?;
            s3.env(&mut env);
            Ok((env, Some(s3)))
        }
        other => bail!("--storage must be fs or s3, not {other:?}"),
    }
}

/// `count` different photos: the corpus' 1920x1080 photos, each shifted
/// by a different offset (mirrored at the edges) and encoded again as q90
/// 4:2:0 like the corpus. Identical bytes would not do: the server makes
/// thumbnails once per distinct upload of a user (content-hash dedup).
/// Cached in target/bench-load/pipeline-corpus.
fn distinct_files(sources: &[PathBuf], count: usize) -> anyhow::Result<Vec<PathBuf>> {
    let dir = infra::work_dir().join("pipeline-corpus");
    std::fs::create_dir_all(&dir)?;
    let mut decoded: Vec<Option<image::RgbImage>> = vec![None; sources.len()];
    let mut files = Vec::with_capacity(count);
    for i in 0..count {
        let path = dir.join(format!("photo-{i:04}.jpg"));
        if !path.exists() {
            let n = i % sources.len();
            if decoded[n].is_none() {
                decoded[n] = Some(image::load_from_memory(&std::fs::read(&sources[n])?)?.to_rgb8());
            }
            let src = decoded[n].as_ref().context("decoded")?;
            let (w, h) = src.dimensions();
            let k = (i / sources.len()) as u32;
            let (dx, dy) = ((k * 37) % 331, (k * 53) % 197);
            let mut pixels = Vec::with_capacity(w as usize * h as usize * 3);
            for y in 0..h {
                for x in 0..w {
                    pixels.extend_from_slice(
                        &src.get_pixel(infra::mirror(x + dx, w), infra::mirror(y + dy, h))
                            .0,
                    );
                }
            }
            let mut out = Vec::new();
            let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
            encoder.encode(
                &pixels,
                u16::try_from(w)?,
                u16::try_from(h)?,
                jpeg_encoder::ColorType::Rgb,
            )?;
            std::fs::write(&path, out)?;
        }
        files.push(path);
    }
    Ok(files)
}

/// Images per second of `image-vault thumbnail --threads N` as it reports.
/// Also returns the CPU milliseconds the command used per image.
pub fn kernel(files: &[PathBuf], threads: u16) -> anyhow::Result<(f64, f64)> {
    let children_before = children_cpu_seconds()?;
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
    let cpu_ms = (children_cpu_seconds()? - children_before) * 1000.0 / files.len() as f64;
    Ok((rate, cpu_ms))
}

/// CPU seconds of this process' waited-for children (cutime + cstime).
fn children_cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let rest = stat.rsplit_once(") ").context("bad /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Ok((fields[13].parse::<f64>()? + fields[14].parse::<f64>()?) / 100.0)
}

struct PipelineRun {
    rate: f64,
    server_cpu: f64,
    driver_cpu: f64,
    /// The Postgres backends serving the server (those open after the
    /// warm-up; the pool keeps them).
    pg_cpu: f64,
    /// An external S3 server's (0 for the in-process one, which is in
    /// `driver_cpu`).
    s3_cpu: f64,
    s3: String,
    /// Upload answer to last thumbnail READY, per image.
    latencies: Vec<std::time::Duration>,
}

/// Process ids of the Postgres backends connected to `database`, but this one.
pub async fn postgres_backends(
    db: &tokio_postgres::Client,
    database: &str,
) -> anyhow::Result<Vec<u32>> {
    let rows = db
        .simple_query(&format!(
            "SELECT pid FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        ))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
            _ => None,
        })
        .collect())
}

async fn pipeline(opts: &Options, files: &[PathBuf]) -> anyhow::Result<PipelineRun> {
    let (server, gql, s3) = start(opts, "pipeline-serve").await?;
    let db = infra::pg(DATABASE).await?;
    let bodies: Vec<(String, Arc<Vec<u8>>)> = files
        .iter()
        .enumerate()
        .map(|(i, p)| Ok((format!("upload-{i}.jpg"), Arc::new(std::fs::read(p)?))))
        .collect::<anyhow::Result<_>>()?;

    // Warm up connections, pools and caches with a few images.
    let warm = 4.min(bodies.len());
    upload_all(&gql, &bodies[..warm], opts.concurrency, None).await?;
    infra::wait_ready(&db, 2 * warm as i64).await?;
    let watcher = watch::Watcher::connect(&server.base, &gql.token, bodies.len()).await?;

    let perf = opts
        .perf
        .then(|| {
            std::process::Command::new("perf")
                .args(["record", "-F", "999", "-g", "-o"])
                .arg(infra::work_dir().join("pipeline.perf.data"))
                .args(["-p", &server.pid().to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
        })
        .transpose()?;
    let backends = postgres_backends(&db, DATABASE).await?;
    let pg_before = backends
        .iter()
        .filter_map(|&p| cpu_seconds(p).ok())
        .sum::<f64>();
    let s3_pid = s3.as_ref().and_then(S3Server::external_pid);
    let s3_before = s3_pid.map(cpu_seconds).transpose()?.unwrap_or(0.0);
    let cpu_before = (cpu_seconds(server.pid())?, cpu_seconds(std::process::id())?);
    let started = Instant::now();
    upload_all(&gql, &bodies, opts.concurrency, Some(&watcher)).await?;
    let uploaded = started.elapsed().as_secs_f64();
    let ready_then: i64 = infra::scalar(
        &db,
        "SELECT count(*) FROM thumbnails WHERE status = 'ready'",
    )
    .await?
    .parse()?;
    infra::wait_ready(&db, 2 * (warm + bodies.len()) as i64).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "  uploads done after {uploaded:.2} s ({:.1} uploads/s, {} of {} thumbnails ready then), all READY after {elapsed:.2} s",
        bodies.len() as f64 / uploaded,
        ready_then - 2 * warm as i64,
        2 * bodies.len()
    );
    let server_cpu = cpu_seconds(server.pid())? - cpu_before.0;
    let s3_cpu = s3_pid.map(cpu_seconds).transpose()?.unwrap_or(0.0) - s3_before;
    let pg_cpu = backends
        .iter()
        .filter_map(|&p| cpu_seconds(p).ok())
        .sum::<f64>()
        - pg_before;
    if let Some(mut perf) = perf {
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
        println!(
            "  perf: {} (perf report -i ... --no-children --sort dso,symbol)",
            infra::work_dir().join("pipeline.perf.data").display()
        );
    }
    // Where a job's time goes, from the server's own histograms (these
    // include the warm-up images).
    let metrics = gql
        .http
        .get(format!("{}/metrics", server.base))
        .send()
        .await?
        .text()
        .await?;
    let per = |name: &str| -> Option<f64> {
        let sum: f64 = metric_sum(&metrics, &format!("{name}_sum"))?;
        let count: f64 = metric_sum(&metrics, &format!("{name}_count"))?;
        Some(sum / count * 1000.0)
    };
    let images = (warm + bodies.len()) as f64;
    println!(
        "  server histograms, mean ms: kernel (make_thumbnails) {:.1}, job {:.1}, storage request {:.2}; \
         per image (incl. warm-up and login): {:.1} SQL statements, {:.1} storage requests",
        per("image_vault_thumbnail_render_duration_seconds").unwrap_or(f64::NAN),
        per("image_vault_job_duration_seconds").unwrap_or(f64::NAN),
        per("image_vault_storage_request_duration_seconds").unwrap_or(f64::NAN),
        metric_sum(&metrics, "image_vault_db_queries_total").unwrap_or(f64::NAN) / images,
        metric_sum(
            &metrics,
            "image_vault_storage_request_duration_seconds_count"
        )
        .unwrap_or(f64::NAN)
            / images,
    );
    let driver_cpu = cpu_seconds(std::process::id())? - cpu_before.1;
    let latencies = watcher.finish().await?;
    println!(
        "  server threads, CPU seconds: {}",
        thread_cpu(server.pid())
    );
    server.stop();
    drop(db);
    infra::drop_database(DATABASE).await?;
    Ok(PipelineRun {
        rate: bodies.len() as f64 / elapsed,
        server_cpu,
        driver_cpu,
        pg_cpu,
        s3_cpu,
        s3: s3
            .as_ref()
            .map_or_else(|| "fs storage".into(), S3Server::describe),
        latencies,
    })
}

async fn upload_all(
    gql: &Gql,
    bodies: &[(String, Arc<Vec<u8>>)],
    concurrency: usize,
    watcher: Option<&watch::Watcher>,
) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<String>> = futures_util::stream::iter(bodies)
        .map(|(name, bytes)| async move {
            let id = gql.upload(name, bytes.as_ref().clone()).await?;
            if let Some(w) = watcher {
                w.follow(id.clone(), Instant::now());
            }
            Ok(id)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(())
}

/// CPU seconds per thread name of a process, busiest first.
fn thread_cpu(pid: u32) -> String {
    let mut by_name: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let tid = entry.file_name().to_string_lossy().into_owned();
        let name =
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).unwrap_or_default();
        let Ok(tid) = tid.parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
            + fields
                .get(12)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
        let e = by_name.entry(name.trim().to_owned()).or_default();
        e.0 += ticks / 100.0;
        e.1 += 1;
    }
    let mut v: Vec<_> = by_name.into_iter().collect();
    v.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    v.iter()
        .map(|(n, (s, c))| format!("{n} x{c} {s:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sum over all label sets of a Prometheus sample.
fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
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
