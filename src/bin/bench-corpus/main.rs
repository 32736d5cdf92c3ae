//! `bench-corpus [DIR]`: writes the deterministic benchmark corpus (default
//! `target/bench-corpus/`) and lists its files with their sizes. Used by
//! `bench/compare.sh` and `cargo bench --bench thumbnail`; see BENCHMARKS.md.

mod corpus;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/bench-corpus"), PathBuf::from);
    match corpus::ensure(&dir) {
        Ok(paths) => {
            for path in paths {
                let size = std::fs::metadata(&path).map_or(0, |m| m.len());
                println!("{} {size}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: writing the corpus to {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
