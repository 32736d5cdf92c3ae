//! `image-vault thumbnail`: the workers' thumbnail kernel over local files,
//! with no database or storage, for users and for benchmarks (it is what
//! `bench/compare.sh` sets against `vipsthumbnail`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::imaging::{ThumbnailSpec, make_thumbnails};

/// Make thumbnails of local JPEG and PNG files with the server's kernel.
#[derive(Args, Debug)]
pub struct ThumbnailArgs {
    /// A thumbnail height in pixels; repeat for several (e.g. --height 200 --height 400).
    #[arg(long = "height", required = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub heights: Vec<u32>,
    /// Where to write `<stem>_<height>.<jpg|png>`; created if missing.
    #[arg(long)]
    pub out: PathBuf,
    /// Images processed at once, each on its own thread.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
    /// JPEG quality of the thumbnails, 1..=100.
    #[arg(long, default_value_t = 85, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
    /// Refuse originals with more pixels than this, as the server does.
    #[arg(long, default_value_t = 50_000_000)]
    pub max_pixels: u64,
    /// Do not print a line per image.
    #[arg(long, short)]
    pub quiet: bool,
    /// The original images.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Runs the kernel over every file, `threads` at a time, and prints the
/// throughput. A file that fails is reported and the others go on; the
/// command then fails.
pub fn run(args: ThumbnailArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let spec = ThumbnailSpec {
        heights: args.heights.clone(),
        jpeg_quality: args.quality,
        max_pixels: args.max_pixels,
    };
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let threads = usize::from(args.threads).min(args.files.len()).max(1);
    // The JPEG decoder hands rows to rayon's current pool. Running the
    // workers on a pool of exactly `threads` threads keeps that work on them,
    // so `--threads 1` is one thread, not one plus rayon's default pool.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("thumbnail-{i}"))
        .build()
        .context("cannot start the worker threads")?;
    let started = Instant::now();
    pool.broadcast(|_| {
        while let Some(file) = args.files.get(next.fetch_add(1, Ordering::Relaxed)) {
            match thumbnail_file(file, &args.out, &spec) {
                Ok(written) if !args.quiet => {
                    println!("{} -> {}", file.display(), written.join(", "));
                }
                Ok(_) => {}
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("error: {}: {e:#}", file.display());
                }
            }
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    let failed = failed.into_inner();
    let done = args.files.len() - failed;
    println!(
        "{done} images ({} thumbnails) in {seconds:.3} s on {threads} thread(s): {:.2} images/s",
        done * spec.heights.len(),
        done as f64 / seconds.max(f64::MIN_POSITIVE),
    );
    if failed > 0 {
        bail!("{failed} of {} images failed", args.files.len());
    }
    Ok(())
}

/// Makes and writes one file's thumbnails; returns the names written.
fn thumbnail_file(file: &Path, out: &Path, spec: &ThumbnailSpec) -> anyhow::Result<Vec<String>> {
    let original = std::fs::read(file).context("cannot read the file")?;
    let thumbnails = make_thumbnails(&original, spec)?;
    let stem = file
        .file_stem()
        .map_or_else(|| "image".into(), |s| s.to_string_lossy());
    let mut written = Vec::with_capacity(thumbnails.len());
    for thumbnail in thumbnails {
        let name = format!("{stem}_{}.{}", thumbnail.height, thumbnail.kind.extension());
        let path = out.join(&name);
        std::fs::write(&path, &thumbnail.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(name);
    }
    Ok(written)
}
