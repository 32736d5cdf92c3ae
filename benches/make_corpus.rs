//! Writes the benchmark corpus to `target/bench-corpus/` (or the directory
//! given as the first argument that is not a flag) and lists the files.
//!
//! `cargo bench --bench make_corpus`: a bench target so that it builds with
//! the bench profile (optimised) and stays out of the server binary.

#[path = "common/corpus.rs"]
mod corpus;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-corpus"),
            PathBuf::from,
        );
    match corpus::ensure(&dir) {
        Ok(paths) => {
            for path in paths {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
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
