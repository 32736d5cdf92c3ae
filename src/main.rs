use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = image_vault::cli::Cli::parse();
    if matches!(
        cli.command,
        image_vault::cli::Command::Serve { .. } | image_vault::cli::Command::Worker
    ) {
        limit_malloc_arenas();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(image_vault::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc gives each thread that allocates an arena of its own (up to eight
/// per core) and keeps what is freed in it. A server that has spooled
/// uploads on many blocking threads and held 20 MB originals on others then
/// sits on the freed buffers of every arena: on 2 cores, 32 concurrent 20 MB
/// uploads and their thumbnails peaked at 295-330 MB RSS with the default
/// and at 150 MB with one arena per core, with no difference in throughput
/// beyond the noise (BENCHMARKS.md, memory). Not for `thumbnail`: its
/// threads keep the default.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    use std::ffi::c_int;
    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    /// `M_ARENA_MAX` in glibc's `<malloc.h>`.
    const M_ARENA_MAX: c_int = -8;
    // Honour an operator's own MALLOC_ARENA_MAX.
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = c_int::try_from(cores).unwrap_or(c_int::MAX);
        // SAFETY: glibc's mallopt takes two ints and only sets a tunable; it
        // is called before the runtime starts any thread.
        unsafe {
            mallopt(M_ARENA_MAX, arenas);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
