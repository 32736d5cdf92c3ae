//! The thumbnail kernel on the benchmark corpus, one thread:
//! `cargo bench --bench thumbnail`. Decode, both plan heights (400 and 200
//! px high) and encode, as the worker does for a Premium user.
//!
//! The corpus is generated into `target/bench-corpus/` on first use (see
//! `src/bin/bench-corpus/`); `bench/compare.sh` runs the peers on it.

#[path = "../src/bin/bench-corpus/corpus.rs"]
mod corpus;

use std::path::PathBuf;
use std::sync::OnceLock;

use divan::{Bencher, black_box};
use image_vault::imaging::{ThumbnailSpec, make_thumbnails};

/// One image of each kind in the corpus.
const FILES: [&str; 4] = [
    "jpeg-4000x3000-1.jpg",
    "jpeg-1920x1080-1.jpg",
    "jpeg-1200x1600-1.jpg",
    "png-2000x1500-1.png",
];

fn main() {
    divan::main();
}

fn corpus_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-corpus");
        if let Err(e) = corpus::ensure(&dir) {
            panic!("cannot write the corpus to {}: {e}", dir.display());
        }
        dir
    })
}

fn spec() -> ThumbnailSpec {
    ThumbnailSpec {
        heights: vec![200, 400],
        jpeg_quality: 85,
        max_pixels: 50_000_000,
    }
}

#[divan::bench(args = FILES, sample_count = 20, sample_size = 1)]
fn heights_200_and_400(bencher: Bencher, file: &str) {
    let path = corpus_dir().join(file);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let spec = spec();
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench(|| make_thumbnails(black_box(&bytes), &spec).map(|t| t.len()));
}

#[divan::bench(args = FILES, sample_count = 20, sample_size = 1)]
fn height_200_only(bencher: Bencher, file: &str) {
    let path = corpus_dir().join(file);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let spec = ThumbnailSpec {
        heights: vec![200],
        ..spec()
    };
    bencher.bench(|| make_thumbnails(black_box(&bytes), &spec).map(|t| t.len()));
}

/// The cost of colour management: the same JPEGs with an Adobe RGB profile
/// (APP2, from tests/fixtures/formats/profiles) inserted after SOI, so their
/// pixels are converted to sRGB; compare with `heights_200_and_400`.
#[divan::bench(args = &FILES[..3], sample_count = 20, sample_size = 1)]
fn heights_200_and_400_adobe_rgb(bencher: Bencher, file: &str) {
    let path = corpus_dir().join(file);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let profile_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats/profiles/adobe-rgb-compat.icc");
    let profile = std::fs::read(&profile_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", profile_path.display()));
    let mut payload = b"ICC_PROFILE\0\x01\x01".to_vec();
    payload.extend_from_slice(&profile);
    let length = u16::try_from(payload.len() + 2).expect("one APP2 segment");
    let mut tagged = bytes[..2].to_vec();
    tagged.extend_from_slice(&[0xFF, 0xE2]);
    tagged.extend_from_slice(&length.to_be_bytes());
    tagged.extend_from_slice(&payload);
    tagged.extend_from_slice(&bytes[2..]);
    let spec = spec();
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench(|| make_thumbnails(black_box(&tagged), &spec).map(|t| t.len()));
}
