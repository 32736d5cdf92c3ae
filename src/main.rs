use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = image_vault::cli::Cli::parse();
    tune_malloc(matches!(
        cli.command,
        image_vault::cli::Command::Serve { .. } | image_vault::cli::Command::Worker
    ));
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

/// glibc malloc settings, each unless the operator set its own
/// (`MALLOC_*` variables or `GLIBC_TUNABLES`).
///
/// Every command: buffers up to 8 MiB come from the heap and up to 16 MiB
/// of freed memory stays at the top of each arena, instead of glibc's
/// starting point of 128 KiB and 256 KiB (which it raises by itself as it
/// sees large frees, up to 32 and 64 MiB). A thumbnail allocates a few
/// buffers of 0.2-3 MB (the scaled decode, the resizer's rows, the
/// thumbnails) and frees them; until glibc had adapted to a size they went
/// back to the kernel after every image and the next image faulted them in
/// again: `image-vault thumbnail` over JPEGs of three sizes took about
/// 1,100 page faults per image, 180 with these settings (BENCHMARKS.md,
/// "Issue 14: the sitting of 2026-12-07"). Originals and uploads over 8 MiB
/// are still mapped and unmapped on their own.
///
/// `serve` and `worker` also get one arena per core: glibc gives each
/// thread that allocates an arena of its own (up to eight per core) and
/// keeps what is freed in it. A server that has spooled uploads on many
/// blocking threads and held 20 MB originals on others then sits on the
/// freed buffers of every arena: on 2 cores, 32 concurrent 20 MB uploads and
/// their thumbnails peaked at 295-330 MB RSS with the default and at 150 MB
/// with one arena per core, with no difference in throughput beyond the
/// noise (BENCHMARKS.md, memory). With both, what a server keeps freed is
/// at most 16 MiB per core.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc(server: bool) {
    use std::ffi::c_int;
    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    // glibc's `<malloc.h>`.
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;
    const M_ARENA_MAX: c_int = -8;
    const MIB: c_int = 1024 * 1024;
    let unset = |name: &str| {
        std::env::var_os(name).is_none() && std::env::var_os("GLIBC_TUNABLES").is_none()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let settings = [
        (M_MMAP_THRESHOLD, 8 * MIB, "MALLOC_MMAP_THRESHOLD_", true),
        (M_TRIM_THRESHOLD, 16 * MIB, "MALLOC_TRIM_THRESHOLD_", true),
        (
            M_ARENA_MAX,
            c_int::try_from(cores).unwrap_or(c_int::MAX),
            "MALLOC_ARENA_MAX",
            server,
        ),
    ];
    for (param, value, variable, wanted) in settings {
        if wanted && unset(variable) {
            // SAFETY: glibc's mallopt takes two ints and only sets a
            // tunable; it is called before the runtime starts any thread.
            unsafe {
                mallopt(param, value);
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc(_server: bool) {}
