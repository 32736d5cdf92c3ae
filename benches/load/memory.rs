//! Target 4: memory. 32 concurrent 20 MB uploads against the server's peak
//! RSS, and one 4000x3000 JPEG thumbnail job against an idle worker process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt as _;

use crate::infra::{self, Env, Gql, S3Server, Server};

pub struct Options {
    pub uploads: usize,
    pub workers: usize,
}

pub async fn run(opts: &Options, corpus: &[PathBuf]) -> anyhow::Result<()> {
    let big_source = corpus
        .iter()
        .find(|p| p.to_string_lossy().contains("jpeg-4000x3000"))
        .context("no 4000x3000 JPEG in the corpus")?;
    uploads(opts, big_source).await?;
    let jobs: Vec<&PathBuf> = corpus
        .iter()
        .filter(|p| p.to_string_lossy().contains("jpeg-4000x3000"))
        .collect();
    job(&jobs).await?;
    Ok(())
}

/// A JPEG of about 20 MB: the corpus' 4000x3000 photo, mirrored out to a
/// larger canvas and encoded at q100 4:4:4 (cached in target/bench-load).
fn big_jpeg(source: &Path) -> anyhow::Result<Vec<u8>> {
    let path = infra::work_dir().join("upload-20mb.jpg");
    if let Ok(bytes) = std::fs::read(&path)
        && (19_000_000..=21_500_000).contains(&bytes.len())
    {
        return Ok(bytes);
    }
    let img = image::load_from_memory(&std::fs::read(source)?)?.to_rgb8();
    let (sw, sh) = img.dimensions();
    let mut scale = 1.0f64;
    for _ in 0..4 {
        let (w, h) = (
            ((f64::from(sw) * scale) as u32) & !15,
            ((f64::from(sh) * scale) as u32) & !15,
        );
        let mut pixels = Vec::with_capacity(w as usize * h as usize * 3);
        for y in 0..h {
            // Mirror the source at its edges: still a photo, no seams.
            let sy = infra::mirror(y, sh);
            for x in 0..w {
                pixels.extend_from_slice(&img.get_pixel(infra::mirror(x, sw), sy).0);
            }
        }
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 100);
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
        encoder.encode(
            &pixels,
            u16::try_from(w)?,
            u16::try_from(h)?,
            jpeg_encoder::ColorType::Rgb,
        )?;
        if (19_000_000..=21_500_000).contains(&out.len()) {
            println!("memory: made a {w}x{h} q100 JPEG of {} bytes", out.len());
            std::fs::write(&path, &out)?;
            return Ok(out);
        }
        scale *= (20_000_000.0 / out.len() as f64).sqrt();
    }
    anyhow::bail!("could not make a 20 MB JPEG")
}

async fn uploads(opts: &Options, source: &Path) -> anyhow::Result<()> {
    let bytes = Arc::new(big_jpeg(source)?);
    let database = "iv_bench_memory";
    infra::drop_database(database).await?;
    let s3 = S3Server::start("memory").await?;
    let mut env = Env::new(database);
    s3.env(&mut env);
    env.set("MAX_UPLOAD_BYTES", &(32u64 << 20).to_string())
        .set("WORKERS", &opts.workers.to_string());
    let (server, _) = Server::serve(&env, "memory-serve", &["serve"]).await?;
    let gql = Gql::user(&env, &server.base, "memory", "Premium").await?;
    let db = infra::pg(database).await?;
    let pid = server.pid();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = infra::proc_mib(pid, "VmRSS")?;
    let idle_hwm = infra::proc_mib(pid, "VmHWM")?;

    // Sample RSS while the uploads run, for the shape of the curve.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0.0f64;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(infra::proc_mib(pid, "VmRSS").unwrap_or(0.0));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak
        })
    };
    let started = std::time::Instant::now();
    let results: Vec<anyhow::Result<String>> = futures_util::stream::iter(0..opts.uploads)
        .map(|i| {
            let (gql, bytes) = (gql.clone(), bytes.clone());
            async move {
                gql.upload(
                    &format!("big-{i}.jpg"),
                    infra::with_comment(&bytes, &format!("image-vault bench upload {i}")),
                )
                .await
            }
        })
        .buffer_unordered(opts.uploads)
        .collect()
        .await;
    for r in results {
        r?;
    }
    let upload_secs = started.elapsed().as_secs_f64();
    let after_uploads = infra::proc_mib(pid, "VmHWM")?;
    infra::wait_ready(&db, 2 * opts.uploads as i64).await?;
    stop.store(true, Ordering::Relaxed);
    let sampled = sampler.await?;
    let after_jobs = infra::proc_mib(pid, "VmHWM")?;
    println!(
        "memory: {} concurrent uploads of {:.1} MB (MAX_UPLOAD_BYTES=32 MiB, WORKERS={}) in {upload_secs:.1} s: \
         server idle RSS {idle_rss:.1} MiB (VmHWM {idle_hwm:.1}); VmHWM after the uploads {after_uploads:.1} MiB; \
         after their {} thumbnails {after_jobs:.1} MiB (sampled VmRSS peak {sampled:.1}) (target < 300)",
        opts.uploads,
        bytes.len() as f64 / 1e6,
        opts.workers,
        2 * opts.uploads
    );
    server.stop();
    drop(db);
    infra::drop_database(database).await?;
    Ok(())
}

/// One thumbnail job at a time in a worker process of its own (WORKERS=1):
/// its VmHWM is reset when idle (`/proc/pid/clear_refs`), an upload through
/// a `serve --no-workers` gives it the job, and the new VmHWM is the peak.
async fn job(sources: &[&PathBuf]) -> anyhow::Result<()> {
    let database = "iv_bench_memory_job";
    infra::drop_database(database).await?;
    let s3 = S3Server::start("memory-job").await?;
    let mut env = Env::new(database);
    s3.env(&mut env);
    env.set("WORKERS", "1");
    let (server, _) = Server::serve(&env, "memory-job-serve", &["serve", "--no-workers"]).await?;
    let gql = Gql::user(&env, &server.base, "memory", "Premium").await?;
    let worker = Server::worker(&env, "memory-job-worker").await?;
    let db = infra::pg(database).await?;
    let pid = worker.pid();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = infra::proc_mib(pid, "VmRSS")?;
    println!(
        "memory: worker process (WORKERS=1) idle: VmRSS {idle:.1} MiB, VmHWM {:.1} MiB",
        infra::proc_mib(pid, "VmHWM")?
    );
    for (n, source) in sources.iter().enumerate() {
        let bytes = std::fs::read(source)?;
        let before = infra::proc_mib(pid, "VmRSS")?;
        let reset = infra::reset_hwm(pid);
        gql.upload("big.jpg", bytes.clone()).await?;
        infra::wait_ready(&db, 2 * (n as i64 + 1)).await?;
        let hwm = infra::proc_mib(pid, "VmHWM")?;
        println!(
            "memory: job {} ({}, {:.1} MB, 200+400 px): worker VmRSS before {before:.1} MiB, VmHWM after {hwm:.1} MiB \
             -> {:.1} MiB above idle, {:.1} above the RSS before it{} (target < 20)",
            n + 1,
            source.file_name().unwrap_or_default().to_string_lossy(),
            bytes.len() as f64 / 1e6,
            hwm - idle,
            hwm - before,
            if reset {
                ""
            } else {
                " (VmHWM could not be reset: includes earlier peaks)"
            }
        );
    }
    worker.stop();
    server.stop();
    drop(db);
    infra::drop_database(database).await?;
    Ok(())
}
